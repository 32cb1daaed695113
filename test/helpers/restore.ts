/**
 * Stores an identity-direction volume with another axis-aligned direction, keeping every voxel at
 * the same physical point, so that tests can check that results follow the anatomy, not the array.
 */
import type { Vec3, Volume } from '../../src/volume.js';

/**
 * `axisOf[p]` is the array axis that runs along physical axis p, and `flipped[p]` whether it runs
 * towards decreasing p. The volume must have the identity direction.
 */
export function restoreWithDirection<V extends Volume>(volume: V, axisOf: Vec3, flipped: readonly boolean[]): V {
  if (volume.direction.some((value, index) => value !== (index % 4 === 0 ? 1 : 0))) {
    throw new RangeError('restoreWithDirection takes a volume with the identity direction');
  }
  const size = [0, 0, 0] as Vec3;
  const spacing = [0, 0, 0] as Vec3;
  const direction = new Array<number>(9).fill(0);
  const origin = [...volume.origin] as Vec3;
  for (let physical = 0; physical < 3; physical++) {
    const axis = axisOf[physical];
    size[axis] = volume.size[physical];
    spacing[axis] = volume.spacing[physical];
    direction[3 * physical + axis] = flipped[physical] ? -1 : 1;
    if (flipped[physical]) origin[physical] += (volume.size[physical] - 1) * volume.spacing[physical];
  }

  const Constructor = volume.data.constructor as new (length: number) => V['data'];
  const data = new Constructor(volume.data.length);
  const stored = [0, 0, 0];
  const index = [0, 0, 0];
  let voxel = 0;
  for (stored[2] = 0; stored[2] < size[2]; stored[2]++) {
    for (stored[1] = 0; stored[1] < size[1]; stored[1]++) {
      for (stored[0] = 0; stored[0] < size[0]; stored[0]++, voxel++) {
        for (let physical = 0; physical < 3; physical++) {
          const along = stored[axisOf[physical]];
          index[physical] = flipped[physical] ? volume.size[physical] - 1 - along : along;
        }
        data[voxel] = volume.data[index[0] + volume.size[0] * (index[1] + volume.size[1] * index[2])];
      }
    }
  }
  return { ...volume, data, size, spacing, origin, direction };
}
