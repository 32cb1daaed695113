import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { COMPROMISED_HU, LUNG_MEASURES_NOTE, WELL_AERATED_HU, measureLungs } from '../../src/steps/lung-measures.js';
import type { NdArray } from '../../src/volume.js';

/** Voxel of the 1.5 × 1.5 × 5 mm grid, in mm³. */
const VOXEL_MM3 = 1.5 * 1.5 * 5;
/**
 * Largest relative difference allowed between a voxelised ellipsoid and its analytic volume. The
 * ellipsoids below come within 0.04 % and 0.1 % of theirs on the 1.5 × 1.5 × 5 mm grid, and a
 * wrong voxel volume or label would be off by far more than 1 %.
 */
const ELLIPSOID_TOLERANCE = 0.01;

function zeros(shape: [number, number, number]): { image: NdArray<Float32Array>; labels: NdArray<Uint8Array>; mask: NdArray<Uint8Array> } {
  const length = shape[0] * shape[1] * shape[2];
  return {
    image: { data: new Float32Array(length).fill(-1000), shape },
    labels: { data: new Uint8Array(length), shape },
    mask: { data: new Uint8Array(length), shape },
  };
}

test('measureLungs counts labels inside the mask', () => {
  const { image, labels, mask } = zeros([4, 5, 6]);
  // 10 right-lung voxels, 6 left-lung voxels, all in the mask.
  for (let i = 0; i < 10; i++) {
    labels.data[i] = 1;
    mask.data[i] = 1;
  }
  for (let i = 20; i < 26; i++) {
    labels.data[i] = 2;
    mask.data[i] = 1;
  }
  // Labelled but outside the mask, and in the mask without a label: neither counts.
  labels.data[40] = 1;
  labels.data[41] = 2;
  mask.data[50] = 1;

  const measures = measureLungs(image, labels, mask, VOXEL_MM3);
  assert.is(measures.rightMl, (10 * VOXEL_MM3) / 1000);
  assert.is(measures.leftMl, (6 * VOXEL_MM3) / 1000);
  assert.is(measures.totalMl, (16 * VOXEL_MM3) / 1000);
  assert.is(measures.note, LUNG_MEASURES_NOTE);
});

test('measureLungs includes the HU range bounds', () => {
  const values = [
    WELL_AERATED_HU[0] - 1, WELL_AERATED_HU[0], -800, WELL_AERATED_HU[1], WELL_AERATED_HU[1] + 1,
    COMPROMISED_HU[0] - 1, COMPROMISED_HU[0], 0, COMPROMISED_HU[1], COMPROMISED_HU[1] + 1,
  ];
  const { image, labels, mask } = zeros([1, 1, values.length]);
  values.forEach((hu, i) => {
    image.data[i] = hu;
    labels.data[i] = 1 + (i % 2);
    mask.data[i] = 1;
  });

  const measures = measureLungs(image, labels, mask, VOXEL_MM3);
  assert.is(measures.wellAeratedFraction, 3 / values.length);
  assert.is(measures.compromisedFraction, 3 / values.length);
});

test('measureLungs matches analytic ellipsoid volumes', () => {
  // Two ellipsoids on the resampled grid: semi-axes in mm along (H, W, Z) = (y, x, z).
  const shape: [number, number, number] = [160, 200, 60];
  const spacing = [1.5, 1.5, 5];
  const lungs = [
    { label: 1, centre: [120, 90, 150], semiAxes: [70, 50, 110], hu: -850 },
    { label: 2, centre: [120, 210, 145], semiAxes: [66, 45, 100], hu: -300 },
  ];
  const { image, labels, mask } = zeros(shape);
  for (let h = 0; h < shape[0]; h++) {
    for (let w = 0; w < shape[1]; w++) {
      for (let z = 0; z < shape[2]; z++) {
        const point = [h * spacing[0], w * spacing[1], z * spacing[2]];
        for (const { label, centre, semiAxes, hu } of lungs) {
          const radius = point.reduce((total, value, axis) => total + ((value - centre[axis]) / semiAxes[axis]) ** 2, 0);
          if (radius > 1) continue;
          const i = (h * shape[1] + w) * shape[2] + z;
          labels.data[i] = label;
          mask.data[i] = 1;
          image.data[i] = hu;
        }
      }
    }
  }

  const measures = measureLungs(image, labels, mask, VOXEL_MM3);
  const [rightMl, leftMl] = lungs.map(({ semiAxes }) => ((4 / 3) * Math.PI * semiAxes[0] * semiAxes[1] * semiAxes[2]) / 1000);
  assert.ok(Math.abs(measures.rightMl - rightMl) <= ELLIPSOID_TOLERANCE * rightMl, `right ${measures.rightMl} mL vs ${rightMl} mL`);
  assert.ok(Math.abs(measures.leftMl - leftMl) <= ELLIPSOID_TOLERANCE * leftMl, `left ${measures.leftMl} mL vs ${leftMl} mL`);
  // The right lung is well aerated and the left one compromised, so the fractions are volume ratios.
  assert.is(measures.wellAeratedFraction, measures.rightMl / measures.totalMl);
  assert.ok(Math.abs(measures.compromisedFraction - measures.leftMl / measures.totalMl) < 1e-15);
});

test('measureLungs rejects mismatched shapes', () => {
  const { image, labels } = zeros([2, 3, 4]);
  const mask: NdArray<Uint8Array> = { data: new Uint8Array(24), shape: [3, 2, 4] };
  assert.throws(() => measureLungs(image, labels, mask, VOXEL_MM3), /mask of shape \(3, 2, 4\) does not match the image's \(2, 3, 4\)/);
});

test('measureLungs rejects an empty mask', () => {
  const { image, labels, mask } = zeros([2, 3, 4]);
  labels.data.fill(1);
  assert.throws(() => measureLungs(image, labels, mask, VOXEL_MM3), /no lung voxel to measure/);
});

test('measureLungs rejects an invalid voxel volume', () => {
  const { image, labels, mask } = zeros([2, 3, 4]);
  assert.throws(() => measureLungs(image, labels, mask, 0), /invalid voxel volume 0 mm³/);
  assert.throws(() => measureLungs(image, labels, mask, Number.NaN), RangeError);
});

test.run();
