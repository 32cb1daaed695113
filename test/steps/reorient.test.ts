import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { findReorientation, reorientToIdentity } from '../../src/steps/reorient.js';
import type { Vec3, Volume } from '../../src/volume.js';

/** A 4 × 3 × 2 volume whose voxel values encode their identity-direction index. */
function identityVolume(): Volume {
  const size: Vec3 = [4, 3, 2];
  const data = new Int16Array(24);
  for (let k = 0; k < 2; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 4; i++) data[i + 4 * (j + 3 * k)] = 100 * k + 10 * j + i;
  return { data, componentType: 'int16', size, spacing: [0.5, 0.7, 2], origin: [-10, 20, 30], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], metadata: new Map() };
}

/** Stores `volume` with the given direction, keeping every voxel at the same physical point. */
function storeWith(volume: Volume, direction: number[], axisOf: Vec3, flipped: boolean[]): Volume {
  // Array axis a of the stored volume runs along physical axis p where axisOf[p] === a.
  const physicalOf = [0, 1, 2].map((a) => axisOf.indexOf(a));
  const size = physicalOf.map((p) => volume.size[p]) as Vec3;
  const spacing = physicalOf.map((p) => volume.spacing[p]) as Vec3;
  const data = new Int16Array(volume.data.length);
  const origin = [...volume.origin] as Vec3;
  for (let p = 0; p < 3; p++) if (flipped[p]) origin[p] += (volume.size[p] - 1) * volume.spacing[p];
  for (let c = 0; c < size[2]; c++) for (let b = 0; b < size[1]; b++) for (let a = 0; a < size[0]; a++) {
    const stored = [a, b, c];
    const index = [0, 0, 0];
    for (let p = 0; p < 3; p++) {
      const t = stored[axisOf[p]];
      index[p] = flipped[p] ? volume.size[p] - 1 - t : t;
    }
    data[a + size[0] * (b + size[1] * c)] = volume.data[index[0] + volume.size[0] * (index[1] + volume.size[1] * index[2])];
  }
  return { ...volume, data, size, spacing, origin, direction };
}

test('reorientToIdentity keeps identity volumes as they are', () => {
  const volume = identityVolume();
  assert.is(reorientToIdentity(volume), volume);
});

test('reorientToIdentity undoes diag(-1, -1, 1)', () => {
  const reference = identityVolume();
  const stored = storeWith(reference, [-1, 0, 0, 0, -1, 0, 0, 0, 1], [0, 1, 2], [true, true, false]);
  const restored = reorientToIdentity(stored);
  assert.equal(Array.from(restored.data), Array.from(reference.data));
  assert.equal(restored.origin, reference.origin);
  assert.equal(restored.direction, reference.direction);
});

test('reorientToIdentity undoes diag(1, 1, -1)', () => {
  const reference = identityVolume();
  const stored = storeWith(reference, [1, 0, 0, 0, 1, 0, 0, 0, -1], [0, 1, 2], [false, false, true]);
  const restored = reorientToIdentity(stored);
  assert.equal(Array.from(restored.data), Array.from(reference.data));
  assert.equal(restored.origin, reference.origin);
});

test('reorientToIdentity undoes a permutation of axes', () => {
  const reference = identityVolume();
  // Stored axis 0 runs along physical y, stored axis 1 along physical x.
  const stored = storeWith(reference, [0, 1, 0, 1, 0, 0, 0, 0, 1], [1, 0, 2], [false, false, false]);
  const restored = reorientToIdentity(stored);
  assert.equal(restored.size, reference.size);
  assert.equal(restored.spacing, reference.spacing);
  assert.equal(Array.from(restored.data), Array.from(reference.data));
});

test('findReorientation flags oblique directions', () => {
  const angle = 0.1;
  const direction = [Math.cos(angle), -Math.sin(angle), 0, Math.sin(angle), Math.cos(angle), 0, 0, 0, 1];
  const reorientation = findReorientation(direction);
  assert.ok(reorientation.oblique);
  assert.equal(reorientation.axisOf, [0, 1, 2]);
});

test('findReorientation rejects a malformed matrix', () => {
  assert.throws(() => findReorientation([1, 0, 0]), /invalid direction matrix/);
  assert.throws(() => findReorientation([NaN, 0, 0, 0, 1, 0, 0, 0, 1]), /invalid direction matrix/);
});

test.run();
