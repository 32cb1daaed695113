import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { readVolume } from '../../src/io/image.js';
import { readNpy } from '../../src/io/npy.js';
import { cleanMask } from '../../src/steps/clean-mask.js';
import { cropLungs } from '../../src/steps/crop-lungs.js';
import { cropPad } from '../../src/steps/crop-pad.js';
import { toHwz } from '../../src/steps/to-arrays.js';
import type { NdArray } from '../../src/volume.js';
import { REFERENCE_CASES, SHARED_DIR } from '../helpers.js';

function countMismatches(actual: NdArray, expected: NdArray): number {
  assert.equal(actual.shape, expected.shape);
  let mismatches = 0;
  for (let i = 0; i < expected.data.length; i++) {
    if (actual.data[i] !== expected.data[i]) mismatches++;
  }
  return mismatches;
}

for (const name of REFERENCE_CASES) {
  const folder = path.join(SHARED_DIR, 'reference', name);

  test(`cleanMask, cropPad and cropLungs match the reference on ${name}`, async () => {
    const resampled = await readVolume(path.join(folder, 'resampled.mha'));
    const image = toHwz({ data: resampled.data, shape: [resampled.size[2], resampled.size[1], resampled.size[0]] });
    const labels = await readNpy(path.join(folder, 'lungmask_labels.npy.gz'));

    const cleaned = cleanMask(labels as NdArray<Uint8Array>, image);
    assert.is(countMismatches(cleaned, await readNpy(path.join(folder, 'mask_clean.npy.gz'))), 0, 'mask_clean');

    // From the reference's cleaned mask, so that each step is checked on its own.
    const referenceMask = (await readNpy(path.join(folder, 'mask_clean.npy.gz'))) as NdArray<Uint8Array>;
    const padded = cropPad(image, referenceMask);
    const cropped = cropLungs(padded.image, padded.mask);
    const expectedImage = await readNpy(path.join(folder, 'cropped_image.npy.gz'));
    assert.is(countMismatches(cropped.image, expectedImage), 0, 'cropped_image');
    assert.is(countMismatches(cropped.mask, await readNpy(path.join(folder, 'cropped_mask.npy.gz'))), 0, 'cropped_mask');
  });
}

test('cropPad pads a small volume with air around the centre', () => {
  const image = { data: new Int16Array(2 * 2 * 1).fill(5), shape: [2, 2, 1] };
  const mask = { data: Uint8Array.from([1, 0, 0, 1]), shape: [2, 2, 1] };
  const { image: padded, offset } = cropPad(image, mask);
  assert.equal(padded.shape, [224, 224, 1]);
  assert.equal(offset, [-111, -111]);
  assert.is(padded.data[111 * 224 + 111], 5);
  assert.is(padded.data[0], -1024);
});

test('cropPad rejects an empty mask on a volume to crop', () => {
  const image = { data: new Int16Array(230 * 10 * 1), shape: [230, 10, 1] };
  const mask = { data: new Uint8Array(230 * 10 * 1), shape: [230, 10, 1] };
  assert.throws(() => cropPad(image, mask), /no lung found/);
});

test('cropLungs drops the last lung slice and 10 % at each end', () => {
  const depth = 30;
  const image = { data: Int16Array.from({ length: depth }, (_, z) => z), shape: [1, 1, depth] };
  const mask = { data: Uint8Array.from({ length: depth }, (_, z) => (z >= 4 && z <= 24 ? 1 : 0)), shape: [1, 1, depth] };
  const { image: kept, sliceRange } = cropLungs(image, mask);
  // 20 slices in [4, 24); int(2.0) = 2 and int(18.0) = 18 of them are kept from 6 on.
  assert.equal(sliceRange, [6, 22]);
  assert.equal(Array.from(kept.data), Array.from({ length: 16 }, (_, i) => 6 + i));
});

test('cropLungs rejects lungs on a single slice', () => {
  const image = { data: new Int16Array(3), shape: [1, 1, 3] };
  const mask = { data: Uint8Array.from([0, 1, 0]), shape: [1, 1, 3] };
  assert.throws(() => cropLungs(image, mask), /no slice left/);
});

test('cropLungs rejects an empty mask', () => {
  const image = { data: new Int16Array(3), shape: [1, 1, 3] };
  const mask = { data: new Uint8Array(3), shape: [1, 1, 3] };
  assert.throws(() => cropLungs(image, mask), /no lung found/);
});

test.run();
