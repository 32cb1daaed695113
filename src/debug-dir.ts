/**
 * Writes a run's intermediates under the names and layouts of the reference implementation's
 * dumps, so that a run can be compared with the reference file by file.
 */
import path from 'node:path';

import fs from 'fs-extra';

import { writeVolume } from './io/image.js';
import { formatNpy } from './io/npy.js';
import type { PipelineResult } from './pipeline.js';
import type { NdArray } from './volume.js';

/** Writes an int64 `.npy` from integer values held as numbers. */
function int64Npy(array: NdArray): Uint8Array {
  const wide = BigInt64Array.from(array.data as ArrayLike<number> as number[], (value) => BigInt(value));
  const view = new Uint8Array(wide.buffer);
  return formatNpy({ data: view, shape: array.shape }, '<i8');
}

export async function writeDebugDir(dir: string, result: PipelineResult): Promise<void> {
  const steps = result.intermediates;
  if (steps === undefined) {
    throw new Error('writeDebugDir needs a result computed with intermediates: true');
  }
  await fs.ensureDir(dir);

  const npy: [string, Uint8Array][] = [
    ['lungmask_input_slices.npy', formatNpy(steps.lungmaskInputSlices)],
    ['lungmask_boxes.npy', int64Npy(steps.lungmaskBoxes)],
    ['lungmask_unet_labels.npy', formatNpy(steps.lungmaskUnetLabels)],
    ['lungmask_postprocessed.npy', formatNpy(steps.lungmaskPostprocessed)],
    ['lungmask_labels.npy', formatNpy(steps.lungmaskLabels)],
    ['mask_clean.npy', formatNpy(steps.maskClean, '|b1')],
    ['cropped_image.npy', formatNpy(steps.croppedImage)],
    ['cropped_mask.npy', formatNpy(steps.croppedMask, '|b1')],
  ];
  for (const [name, bytes] of npy) {
    await fs.writeFile(path.join(dir, name), bytes);
  }
  await writeVolume(path.join(dir, 'resampled.mha'), steps.resampled);

  const reference = {
    age: result.age,
    sex: result.sex,
    features: { full: Array.from(result.features.full), lung: Array.from(result.features.lung) },
    prediction: { ...result.heads, severe: result.severe, covid: result.covid },
    timings_s: result.timings,
  };
  await fs.writeJson(path.join(dir, 'reference.json'), reference, { spaces: 1 });
}
