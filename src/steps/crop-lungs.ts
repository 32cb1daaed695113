/**
 * Step 7: keeps the axial slices that hold lung, then drops 10 % of them at each end.
 */
import { type NdArray, type TypedArray, allocateLike } from '../volume.js';

/** Fraction of the lung slices dropped at each end. */
export const EXTREME_SLICE_FRACTION = 0.1;

export interface CropLungsResult<T extends TypedArray> {
  image: NdArray<T>;
  mask: NdArray<Uint8Array>;
  /** Kept slices of the input, [start, end). */
  sliceRange: [number, number];
}

/** Copies slices [start, end) of an (H, W, Z) array. */
export function sliceRange<T extends TypedArray>(array: NdArray<T>, start: number, end: number): NdArray<T> {
  const [height, width, depth] = array.shape;
  const count = end - start;
  const data = allocateLike(array.data, height * width * count);
  for (let pixel = 0; pixel < height * width; pixel++) {
    data.set(array.data.subarray(pixel * depth + start, pixel * depth + end), pixel * count);
  }
  return { data, shape: [height, width, count] };
}

/**
 * Keeps slices [first, last) of those holding lung: the reference excludes the last lung slice, and
 * so does this port. Then keeps `[int(0.1 n), int(0.9 n))` of the n left.
 */
export function cropLungs<T extends TypedArray>(image: NdArray<T>, mask: NdArray<Uint8Array>): CropLungsResult<T> {
  const [height, width, depth] = mask.shape;
  const hasLung = new Uint8Array(depth);
  for (let pixel = 0; pixel < height * width; pixel++) {
    const base = pixel * depth;
    for (let z = 0; z < depth; z++) {
      if (mask.data[base + z] !== 0) hasLung[z] = 1;
    }
  }
  const first = hasLung.indexOf(1);
  if (first < 0) {
    throw new Error('no lung found: the lung mask is empty after cleaning, so the scan cannot be scored. Check that it is a chest CT in Hounsfield units that covers the lungs');
  }
  const last = hasLung.lastIndexOf(1);

  const count = last - first;
  const start = first + Math.trunc(count * EXTREME_SLICE_FRACTION);
  const end = first + Math.trunc(count * (1 - EXTREME_SLICE_FRACTION));
  if (end <= start) {
    throw new Error(
      `no slice left: the lungs span ${count + 1} axial slice(s) of 5 mm, too few to keep any once the first and last 10 % are dropped. Pass a scan that covers the whole chest`,
    );
  }

  return { image: sliceRange(image, start, end), mask: sliceRange(mask, start, end), sliceRange: [start, end] };
}
