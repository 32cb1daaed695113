import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { readVolume } from '../../src/io/image.js';
import { resample, resampledSize } from '../../src/steps/resample.js';
import type { Volume } from '../../src/volume.js';
import { REFERENCE_CASES, SHARED_DIR } from '../helpers.js';

for (const name of REFERENCE_CASES) {
  test(`resample matches SimpleITK on ${name}`, async () => {
    const scan = await readVolume(path.join(SHARED_DIR, 'data', 'ct', `${name}.mha`));
    const expected = await readVolume(path.join(SHARED_DIR, 'reference', name, 'resampled.mha'));

    const actual = resample(scan);

    assert.equal(actual.size, expected.size);
    assert.equal(actual.spacing, expected.spacing);
    assert.equal(actual.origin, expected.origin);
    assert.equal(actual.componentType, expected.componentType);
    let mismatches = 0;
    for (let i = 0; i < expected.data.length; i++) {
      if (actual.data[i] !== expected.data[i]) mismatches++;
    }
    assert.is(mismatches, 0, `${mismatches} voxels differ`);
  });
}

function volume(size: [number, number, number], spacing: [number, number, number], values: number[]): Volume {
  return {
    data: Int16Array.from(values),
    componentType: 'int16',
    size,
    spacing,
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    metadata: new Map(),
  };
}

test('resampledSize truncates size times spacing over target', () => {
  assert.equal(resampledSize([512, 512, 255], [0.703125, 0.703125, 1.25]), [240, 240, 63]);
  assert.equal(resampledSize([10, 10, 3], [1.5, 1.5, 1]), [10, 10, 0]);
});

test('resample truncates integer values toward zero', () => {
  // Two voxels of 3 mm along x sampled every 1.5 mm: index 0.5 gives -2.5, truncated to -2.
  // Index 1.5 is outside [-0.5, 1.5), so the last voxel takes the default value 0.
  const input = volume([2, 1, 1], [3, 5, 5], [-3, -2]);
  const output = resample(input, [1.5, 5, 5]);
  assert.equal(Array.from(output.data), [-3, -2, -2, 0]);
});

test('resample copies the edge voxel in the outer half voxel', () => {
  const input = volume([2, 1, 1], [2, 5, 5], [10, 20]);
  // Indices 0, 0.625 and 1.25: the last is past the last voxel centre but inside [-0.5, 1.5).
  const output = resample(input, [1.25, 5, 5]);
  assert.equal(output.size, [3, 1, 1]);
  assert.equal(Array.from(output.data), [10, 16, 20]);
});

test('resample rejects a scan thinner than one output slice', () => {
  const input = volume([2, 2, 3], [1.5, 1.5, 1], new Array(12).fill(0));
  assert.throws(() => resample(input), /no voxel once resampled/);
});

test('resample rejects a non-identity direction', () => {
  const input = { ...volume([2, 2, 2], [5, 5, 5], new Array(8).fill(0)), direction: [-1, 0, 0, 0, 1, 0, 0, 0, 1] };
  assert.throws(() => resample(input), /identity direction/);
});

test.run();
