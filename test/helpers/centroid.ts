/**
 * Physical centroids of labelled voxels, for tests that check where a mask lies in space.
 */
import type { Vec3, Volume } from '../../src/volume.js';

/** Returns the centroid in mm (physical coordinates) and the number of the voxels that have `label`. */
export function labelCentroid(volume: Volume, label: number): { centroid: Vec3; count: number } {
  const sum = [0, 0, 0];
  let count = 0;
  const [sizeX, sizeY, sizeZ] = volume.size;
  for (let k = 0, voxel = 0; k < sizeZ; k++) {
    for (let j = 0; j < sizeY; j++) {
      for (let i = 0; i < sizeX; i++, voxel++) {
        if (volume.data[voxel] !== label) continue;
        const index = [i, j, k];
        for (let row = 0; row < 3; row++) {
          let position = volume.origin[row];
          for (let column = 0; column < 3; column++) position += volume.direction[3 * row + column] * volume.spacing[column] * index[column];
          sum[row] += position;
        }
        count++;
      }
    }
  }
  return { centroid: sum.map((value) => value / count) as Vec3, count };
}
