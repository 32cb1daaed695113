/**
 * The cleaned lung labels (0 background, 1 right lung, 2 left lung) in the layouts that outputs
 * need: the 224 × 224 crop that the networks see, and the grid of the scan as read.
 */
import { CROP_SIZE } from './steps/crop-pad.js';
import { findReorientation } from './steps/reorient.js';
import type { Geometry, NdArray, Vec3, Volume } from './volume.js';

/**
 * Keeps lungmask's label (1 right, 2 left) where the cleaned mask of step 5 is set, and 0
 * elsewhere. Both arrays are (H, W, Z).
 */
export function cleanedLungLabels(labels: NdArray<Uint8Array>, clean: NdArray<Uint8Array>): NdArray<Uint8Array> {
  if (labels.shape.join() !== clean.shape.join()) {
    throw new RangeError(`lung labels of shape (${labels.shape.join(', ')}) do not match the cleaned mask's (${clean.shape.join(', ')})`);
  }
  const data = new Uint8Array(labels.data.length);
  for (let i = 0; i < data.length; i++) {
    if (clean.data[i] !== 0) data[i] = labels.data[i];
  }
  return { data, shape: [...labels.shape] };
}

/**
 * Cuts an (H, W, Z) array as steps 6 and 7 cut the image: 224 × 224 pixels from (H, W) index
 * `offset` (0 where that lies outside), then slices `[start, end)`.
 */
export function cropLikeNetworkInput(labels: NdArray<Uint8Array>, offset: readonly [number, number], sliceRange: readonly [number, number]): NdArray<Uint8Array> {
  const [height, width, depth] = labels.shape;
  const [start, end] = sliceRange;
  if (!(start >= 0 && start < end && end <= depth)) {
    throw new RangeError(`invalid slice range [${start}, ${end}) for an array of ${depth} slices`);
  }
  const count = end - start;
  const data = new Uint8Array(CROP_SIZE * CROP_SIZE * count);
  for (let row = 0; row < CROP_SIZE; row++) {
    const h = row + offset[0];
    if (h < 0 || h >= height) continue;
    for (let column = 0; column < CROP_SIZE; column++) {
      const w = column + offset[1];
      if (w < 0 || w >= width) continue;
      const from = (h * width + w) * depth;
      data.set(labels.data.subarray(from + start, from + end), (row * CROP_SIZE + column) * count);
    }
  }
  return { data, shape: [CROP_SIZE, CROP_SIZE, count] };
}

/**
 * Maps (H, W, Z) labels on the resampled grid back onto the grid of the scan as read, by
 * nearest-neighbour lookup, so that the result overlays the scan in a viewer. Voxels whose
 * nearest resampled voxel lies outside the resampled grid get 0.
 *
 * Each scan voxel is first moved as the reorientation before step 2 moves it (axes permuted and
 * flipped). Its point in that identity-direction frame is `origin + spacing ⊙ index`, and the
 * resampled grid shares that origin, so its continuous resampled index is
 * `spacing ⊙ index / resampledSpacing`, rounded half up as ITK's nearest-neighbour
 * interpolator does. For an axis-aligned scan this is the lookup of each voxel's physical point.
 *
 * NOTE: the pipeline treats an oblique direction as the nearest axis-aligned one, and so does
 * this mapping. The labels therefore land on the voxels they were computed from, and a viewer
 * that overlays both files on the scan's own grid shows them in place.
 */
export function labelsOnScanGrid(labels: NdArray<Uint8Array>, resampled: Geometry, scan: Geometry): Volume<Uint8Array> {
  const [height, width, depth] = labels.shape;
  if (height !== resampled.size[1] || width !== resampled.size[0] || depth !== resampled.size[2]) {
    throw new RangeError(
      `lung labels of shape (${labels.shape.join(', ')}) do not match the resampled grid of size ${resampled.size.join(' × ')} (expected (y, x, z))`,
    );
  }
  const { axisOf, flipped } = findReorientation(scan.direction);

  // Per scan axis, the offset in the (H, W, Z) array that each index along it contributes, or -1
  // where its nearest resampled index is outside the grid. (H, W, Z) index (Y - 1 - y, x, z) of
  // resampled voxel (x, y, z) is at ((Y - 1 - y) * W + x) * Z + z.
  const strideOf: Vec3 = [depth, -width * depth, 1];
  const baseOf: Vec3 = [0, (height - 1) * width * depth, 0];
  const contributions = new Array<Int32Array>(3);
  for (let physical = 0; physical < 3; physical++) {
    const axis = axisOf[physical];
    const length = scan.size[axis];
    const table = new Int32Array(length);
    for (let index = 0; index < length; index++) {
      const oriented = flipped[physical] ? length - 1 - index : index;
      const nearest = Math.round((oriented * scan.spacing[axis]) / resampled.spacing[physical]);
      const inside = nearest >= 0 && nearest < resampled.size[physical];
      table[index] = inside ? baseOf[physical] + nearest * strideOf[physical] : -1;
    }
    contributions[axis] = table;
  }

  const [sizeX, sizeY, sizeZ] = scan.size;
  const data = new Uint8Array(sizeX * sizeY * sizeZ);
  const [alongX, alongY, alongZ] = contributions;
  let voxel = 0;
  for (let k = 0; k < sizeZ; k++) {
    const fromZ = alongZ[k];
    for (let j = 0; j < sizeY; j++) {
      const fromY = alongY[j];
      if (fromZ < 0 || fromY < 0) {
        voxel += sizeX;
        continue;
      }
      for (let i = 0; i < sizeX; i++, voxel++) {
        const fromX = alongX[i];
        if (fromX >= 0) data[voxel] = labels.data[fromZ + fromY + fromX];
      }
    }
  }

  return {
    data,
    componentType: 'uint8',
    size: [...scan.size],
    spacing: [...scan.spacing],
    origin: [...scan.origin],
    direction: [...scan.direction],
    metadata: new Map(),
  };
}
