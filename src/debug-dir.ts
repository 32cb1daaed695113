/**
 * Writes a run's intermediates under the names and layouts of the reference implementation's
 * dumps, so that a run can be compared with the reference file by file.
 */
import path from 'node:path';

import fs from 'fs-extra';

import { writeVolume } from './io/image.js';
import { formatNpy } from './io/npy.js';
import type { PipelineResult } from './pipeline.js';
import { type Explanation } from './steps/explain.js';
import { HEAD_NAMES } from './steps/heads.js';
import type { NdArray } from './volume.js';

/** Writes an int64 `.npy` from integer values held as numbers. */
function int64Npy(array: NdArray): Uint8Array {
  const wide = BigInt64Array.from(array.data as ArrayLike<number> as number[], (value) => BigInt(value));
  const view = new Uint8Array(wide.buffer);
  return formatNpy({ data: view, shape: array.shape }, '<i8');
}

/** Formats the per-slice contributions as CSV: one row per head and kept slice, numbers at full float64 precision. */
export function formatExplanationCsv(explanation: Explanation): string {
  const lines = ['head,slice,zMm,contribution'];
  for (const head of HEAD_NAMES) {
    for (const { resampledSlice, zMm, contribution } of explanation[head].slices) {
      lines.push(`${head},${resampledSlice},${zMm},${contribution}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Formats each head's offset, logit and float32 rounding share as CSV, one row per head. */
export function formatExplanationOffsetsCsv(explanation: Explanation): string {
  const lines = ['head,offset,logit,rounding'];
  for (const head of HEAD_NAMES) {
    const { offset, logit, rounding } = explanation[head];
    lines.push(`${head},${offset},${logit},${rounding}`);
  }
  return `${lines.join('\n')}\n`;
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

  // Not in the reference's dumps: the per-slice explanation and the descriptive lung measures.
  await fs.writeFile(path.join(dir, 'explanation.csv'), formatExplanationCsv(result.explanation));
  await fs.writeFile(path.join(dir, 'explanation_offsets.csv'), formatExplanationOffsetsCsv(result.explanation));
  await fs.writeJson(path.join(dir, 'lung_measures.json'), result.lungMeasures, { spaces: 1 });
}
