import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { readVolume } from '../src/io/image.js';
import { readNpy } from '../src/io/npy.js';
import { cleanedLungLabels, cropLikeNetworkInput, labelsOnScanGrid } from '../src/lung-labels.js';
import { cropLungs } from '../src/steps/crop-lungs.js';
import { cropPad } from '../src/steps/crop-pad.js';
import { toHwz } from '../src/steps/to-arrays.js';
import type { Geometry, NdArray, Vec3, Volume } from '../src/volume.js';
import { REFERENCE_CASES, SHARED_DIR } from './helpers.js';
import { labelCentroid } from './helpers/centroid.js';
import { restoreWithDirection } from './helpers/restore.js';

const LUNG_LABELS = [1, 2] as const;
/** Largest relative change of a lung's volume from the resampled grid to the scan grid. */
const MAX_VOLUME_CHANGE = 0.01;

/** Physical centroid (mm) and voxel count of one label of (H, W, Z) labels on the identity-direction resampled grid. */
function resampledCentroid(labels: NdArray<Uint8Array>, resampled: Geometry, label: number): { centroid: Vec3; count: number } {
  const [height, width, depth] = labels.shape;
  const sum = [0, 0, 0];
  let count = 0;
  for (let h = 0; h < height; h++) {
    for (let w = 0; w < width; w++) {
      for (let z = 0; z < depth; z++) {
        if (labels.data[(h * width + w) * depth + z] !== label) continue;
        const index = [w, height - 1 - h, z];
        for (let axis = 0; axis < 3; axis++) sum[axis] += resampled.origin[axis] + resampled.spacing[axis] * index[axis];
        count++;
      }
    }
  }
  return { centroid: sum.map((value) => value / count) as Vec3, count };
}

async function loadCase(name: string) {
  const folder = path.join(SHARED_DIR, 'reference', name);
  const scan = await readVolume(path.join(SHARED_DIR, 'data', 'ct', `${name}.mha`));
  const resampled = await readVolume(path.join(folder, 'resampled.mha'));
  const labels = (await readNpy(path.join(folder, 'lungmask_labels.npy.gz'))) as NdArray<Uint8Array>;
  const clean = (await readNpy(path.join(folder, 'mask_clean.npy.gz'))) as NdArray<Uint8Array>;
  return { folder, scan, resampled, cleaned: cleanedLungLabels(labels, clean), clean };
}

for (const name of REFERENCE_CASES) {
  test(`labelsOnScanGrid overlays the scan on ${name}`, async () => {
    const { scan, resampled, cleaned } = await loadCase(name);
    const onScan = labelsOnScanGrid(cleaned, resampled, scan);

    assert.equal(onScan.size, scan.size);
    assert.equal(onScan.spacing, scan.spacing);
    assert.equal(onScan.origin, scan.origin);
    assert.equal(onScan.direction, scan.direction);
    assert.is(onScan.componentType, 'uint8');

    const resampledVoxelMm3 = resampled.spacing[0] * resampled.spacing[1] * resampled.spacing[2];
    const scanVoxelMm3 = scan.spacing[0] * scan.spacing[1] * scan.spacing[2];
    for (const label of LUNG_LABELS) {
      const expected = resampledCentroid(cleaned, resampled, label);
      const actual = labelCentroid(onScan, label);
      for (let axis = 0; axis < 3; axis++) {
        const shift = actual.centroid[axis] - expected.centroid[axis];
        assert.ok(Math.abs(shift) < resampled.spacing[axis] / 2, `label ${label}: centroid ${'xyz'[axis]} moved by ${shift.toFixed(3)} mm`);
      }
      const volumeRatio = (actual.count * scanVoxelMm3) / (expected.count * resampledVoxelMm3);
      assert.ok(Math.abs(volumeRatio - 1) < MAX_VOLUME_CHANGE, `label ${label}: volume ratio ${volumeRatio}`);
    }
  });
}

test('labelsOnScanGrid follows the anatomy on a re-stored scan', async () => {
  const { scan, resampled, cleaned } = await loadCase('cip-copdgene-ct64');
  const onScan = labelsOnScanGrid(cleaned, resampled, scan);
  // x and y swapped, y and z reversed: every voxel keeps its physical point.
  const axisOf: Vec3 = [1, 0, 2];
  const flipped = [false, true, true];
  const restored = restoreWithDirection(scan, axisOf, flipped);

  const onRestored = labelsOnScanGrid(cleaned, resampled, restored);
  assert.equal(onRestored.direction, restored.direction);
  assert.equal(onRestored.origin, restored.origin);
  const expected = restoreWithDirection(onScan, axisOf, flipped);
  let mismatches = 0;
  for (let i = 0; i < expected.data.length; i++) if (onRestored.data[i] !== expected.data[i]) mismatches++;
  assert.is(mismatches, 0);
  assert.ok(expected.data.some((value) => value === 1) && expected.data.some((value) => value === 2), 'both lungs present');
});

test('labelsOnScanGrid rejects labels of another grid', async () => {
  const { scan, resampled, cleaned } = await loadCase('cip-copdgene-ct64');
  const smaller = { ...resampled, size: [resampled.size[0] - 1, resampled.size[1], resampled.size[2]] as Vec3 };
  assert.throws(() => labelsOnScanGrid(cleaned, smaller, scan), /do not match the resampled grid/);
});

for (const name of REFERENCE_CASES) {
  test(`cropLikeNetworkInput matches the cropped mask on ${name}`, async () => {
    const { folder, resampled, cleaned, clean } = await loadCase(name);
    const image = toHwz({ data: resampled.data, shape: [resampled.size[2], resampled.size[1], resampled.size[0]] });
    const padded = cropPad(image, clean);
    const { sliceRange } = cropLungs(padded.image, padded.mask);

    const cropped = cropLikeNetworkInput(cleaned, padded.offset, sliceRange);
    const expected = await readNpy(path.join(folder, 'cropped_mask.npy.gz'));
    assert.equal(cropped.shape, expected.shape);
    let mismatches = 0;
    for (let i = 0; i < expected.data.length; i++) if ((cropped.data[i] !== 0 ? 1 : 0) !== expected.data[i]) mismatches++;
    assert.is(mismatches, 0);
    for (const label of LUNG_LABELS) assert.ok(cropped.data.includes(label), `label ${label} present`);
  });
}

test.run();
