/**
 * Step 4: the (H, W, Z) layout that the steps after the lung mask work in, as the reference
 * builds it with `array.transpose(1, 2, 0)[::-1]` from the (z, y, x) array of an ITK image.
 */
import { type NdArray, type TypedArray, allocateLike, ndarray } from '../volume.js';

/**
 * Reorders a (z, y, x) array to (H, W, Z) = (y reversed, x, z): `out[h, w, z] = in[z, Y - 1 - h, w]`,
 * with Y the length of the y axis. Returns a new array of the same type.
 */
export function toHwz<T extends TypedArray>(array: NdArray<T>): NdArray<T> {
  if (array.shape.length !== 3) {
    throw new RangeError(`toHwz: expected a (z, y, x) array, got shape (${array.shape.join(', ')})`);
  }
  const [depth, height, width] = array.shape;
  const input = array.data;
  const output = allocateLike(input, input.length);
  for (let z = 0; z < depth; z++) {
    for (let y = 0; y < height; y++) {
      const sourceRow = (z * height + y) * width;
      const targetRow = (height - 1 - y) * width;
      for (let x = 0; x < width; x++) {
        output[(targetRow + x) * depth + z] = input[sourceRow + x];
      }
    }
  }
  return ndarray(output, [height, width, depth]);
}
