/**
 * Step 6: crops or pads the (H, W, Z) arrays to 224 × 224 in plane, centred on the lungs.
 */
import { type NdArray, type TypedArray, allocateLike } from '../volume.js';

/** In-plane size that the feature extractors take, in voxels. */
export const CROP_SIZE = 224;
/** Value of padded image voxels, in HU (air). */
export const PAD_HU = -1024;

export interface CropPadResult<T extends TypedArray> {
  image: NdArray<T>;
  mask: NdArray<Uint8Array>;
  /** Index in the input of output row 0 and column 0 (negative where padding was added). */
  offset: [number, number];
}

/** Returns the first and last index along `axis` (0 or 1) of an (H, W, Z) mask that holds lung. */
export function lungExtent(mask: NdArray<Uint8Array>, axis: 0 | 1): [number, number] | undefined {
  const [height, width, depth] = mask.shape;
  const length = axis === 0 ? height : width;
  const present = new Uint8Array(length);
  for (let h = 0; h < height; h++) {
    for (let w = 0; w < width; w++) {
      const base = (h * width + w) * depth;
      for (let z = 0; z < depth; z++) {
        if (mask.data[base + z] !== 0) {
          present[axis === 0 ? h : w] = 1;
          break;
        }
      }
    }
  }
  const first = present.indexOf(1);
  return first < 0 ? undefined : [first, present.lastIndexOf(1)];
}

/** Copies rows [rowStart, rowStart + height) and columns [colStart, colStart + width), filling outside with `fill`. */
function window<T extends TypedArray>(array: NdArray<T>, rowStart: number, colStart: number, height: number, width: number, fill: number): NdArray<T> {
  const [inHeight, inWidth, depth] = array.shape;
  const data = allocateLike(array.data, height * width * depth);
  data.fill(fill);
  for (let h = 0; h < height; h++) {
    const inRow = rowStart + h;
    if (inRow < 0 || inRow >= inHeight) continue;
    for (let w = 0; w < width; w++) {
      const inColumn = colStart + w;
      if (inColumn < 0 || inColumn >= inWidth) continue;
      const from = (inRow * inWidth + inColumn) * depth;
      data.set(array.data.subarray(from, from + depth), (h * width + w) * depth);
    }
  }
  return { data, shape: [height, width, depth] };
}

/**
 * Crops H, then W, to a 224 window centred on the lungs (`(first + last) // 2`, clipped so the
 * window stays inside), then pads both to 224 with `delta // 2` before and the rest after.
 * The W centre is taken on the mask already cropped in H, as the reference does.
 */
export function cropPad<T extends TypedArray>(image: NdArray<T>, mask: NdArray<Uint8Array>): CropPadResult<T> {
  const start: [number, number] = [0, 0];
  const halfWidth = CROP_SIZE / 2;

  for (const axis of [0, 1] as const) {
    const length = image.shape[axis];
    if (length <= CROP_SIZE) continue;
    const extent = lungExtent(mask, axis);
    if (extent === undefined) {
      throw new Error('no lung found: the lung mask is empty after cleaning, so the scan cannot be scored. Check that it is a chest CT in Hounsfield units that covers the lungs');
    }
    const lungCentre = Math.floor((extent[0] + extent[1]) / 2);
    const centre = Math.min(Math.max(lungCentre, halfWidth), length - halfWidth);
    const rows = axis === 0 ? [centre - halfWidth, 0] : [0, centre - halfWidth];
    const height = axis === 0 ? CROP_SIZE : image.shape[0];
    const width = axis === 1 ? CROP_SIZE : image.shape[1];
    image = window(image, rows[0], rows[1], height, width, PAD_HU);
    mask = window(mask, rows[0], rows[1], height, width, 0);
    start[axis] += centre - halfWidth;
  }

  const before = [0, 1].map((axis) => Math.floor((CROP_SIZE - image.shape[axis]) / 2));
  if (before[0] > 0 || before[1] > 0) {
    image = window(image, -before[0], -before[1], CROP_SIZE, CROP_SIZE, PAD_HU);
    mask = window(mask, -before[0], -before[1], CROP_SIZE, CROP_SIZE, 0);
    start[0] -= before[0];
    start[1] -= before[1];
  }

  return { image, mask, offset: start };
}
