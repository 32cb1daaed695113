/**
 * Before step 2: brings an axis-aligned image to the identity direction by permuting and flipping
 * array axes, so that the same anatomy gives the same features however the file stores it.
 * The reference skips this; on identity-direction input (all STOIC scans) it changes nothing.
 */
import { log } from '../log.js';
import { type Vec3, type Volume, allocateLike } from '../volume.js';

/** Largest deviation from ±1 / 0 for which a direction matrix counts as axis-aligned. */
const AXIS_ALIGNED_TOLERANCE = 1e-6;

export interface Reorientation {
  /** `axisOf[i]`: the input array axis that becomes output axis i (physical x, y, z). */
  axisOf: Vec3;
  /** `flipped[i]`: whether output axis i runs opposite to its input axis. */
  flipped: [boolean, boolean, boolean];
  /** Whether the input direction was oblique and rounded to the nearest axis-aligned one. */
  oblique: boolean;
}

/** Finds the axis permutation and flips that map a direction matrix to the nearest axis-aligned one. */
export function findReorientation(direction: readonly number[], source = 'image'): Reorientation {
  if (direction.length !== 9 || direction.some((value) => !Number.isFinite(value))) {
    throw new RangeError(`${source}: invalid direction matrix [${direction.join(', ')}]`);
  }

  const axisOf: Vec3 = [0, 0, 0];
  const flipped: [boolean, boolean, boolean] = [false, false, false];
  const used = new Set<number>();
  let oblique = false;
  // Greedy choice by largest cosine, so that every physical axis takes a different array axis.
  const candidates: { row: number; column: number; cosine: number }[] = [];
  for (let row = 0; row < 3; row++) {
    for (let column = 0; column < 3; column++) {
      candidates.push({ row, column, cosine: Math.abs(direction[3 * row + column]) });
    }
  }
  candidates.sort((a, b) => b.cosine - a.cosine);
  const rowsDone = new Set<number>();
  for (const { row, column, cosine } of candidates) {
    if (rowsDone.has(row) || used.has(column)) continue;
    rowsDone.add(row);
    used.add(column);
    axisOf[row] = column;
    flipped[row] = direction[3 * row + column] < 0;
    if (Math.abs(cosine - 1) > AXIS_ALIGNED_TOLERANCE) oblique = true;
  }
  return { axisOf, flipped, oblique };
}

export function isIdentityReorientation({ axisOf, flipped }: Reorientation): boolean {
  return axisOf[0] === 0 && axisOf[1] === 1 && axisOf[2] === 2 && !flipped.some(Boolean);
}

/**
 * Returns the volume with identity direction: voxels are moved, never interpolated, and the origin
 * becomes the physical position of the voxel that lands at index (0, 0, 0).
 */
export function reorientToIdentity(volume: Volume, source = 'image'): Volume {
  const reorientation = findReorientation(volume.direction, source);
  const exactIdentity = volume.direction.every((value, index) => value === (index % 4 === 0 ? 1 : 0));
  if (exactIdentity) {
    return volume;
  }
  if (reorientation.oblique) {
    log.warn(`${source}: oblique direction [${volume.direction.map((v) => v.toFixed(4)).join(', ')}] is treated as the nearest axis-aligned one; the scan is not resampled onto the rotated grid`);
  }

  const { axisOf, flipped } = reorientation;
  const inputSize = volume.size;
  const size = axisOf.map((axis) => inputSize[axis]) as Vec3;
  const spacing = axisOf.map((axis) => volume.spacing[axis]) as Vec3;

  // Input index of the voxel that becomes the output's first voxel, then its physical position.
  const corner = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    corner[axisOf[i]] = flipped[i] ? inputSize[axisOf[i]] - 1 : 0;
  }
  const origin = [0, 1, 2].map((row) => {
    let position = volume.origin[row];
    for (let column = 0; column < 3; column++) {
      position += volume.direction[3 * row + column] * volume.spacing[column] * corner[column];
    }
    return position;
  }) as Vec3;

  // Input strides per output axis, with the sign of the flip.
  const inputStride = [1, inputSize[0], inputSize[0] * inputSize[1]];
  const step = [0, 1, 2].map((i) => (flipped[i] ? -1 : 1) * inputStride[axisOf[i]]);
  const start = corner[0] * inputStride[0] + corner[1] * inputStride[1] + corner[2] * inputStride[2];
  const data = allocateLike(volume.data, volume.data.length);
  let output = 0;
  for (let z = 0; z < size[2]; z++) {
    for (let y = 0; y < size[1]; y++) {
      let input = start + z * step[2] + y * step[1];
      for (let x = 0; x < size[0]; x++, input += step[0]) {
        data[output++] = volume.data[input];
      }
    }
  }

  return {
    ...volume,
    data,
    size,
    spacing,
    origin,
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  };
}
