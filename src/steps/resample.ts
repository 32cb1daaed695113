/**
 * Step 2: resampling to 1.5 × 1.5 × 5 mm with the rules of SimpleITK's `Resample` (ITK 5.2):
 * identity transform, linear interpolation, the input's origin and direction, 0 outside.
 */
import { type ComponentType, type Vec3, type Volume, arrayConstructorOf } from '../volume.js';

/** Output voxel spacing along x, y, z, in mm. */
export const TARGET_SPACING_MM: Vec3 = [1.5, 1.5, 5];

const INTEGER_RANGES: Partial<Record<ComponentType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

/** Output size as the reference computes it: `floor(size * spacing / target)` in float64. */
export function resampledSize(size: Vec3, spacing: Vec3, target: Vec3 = TARGET_SPACING_MM): Vec3 {
  return [0, 1, 2].map((axis) => Math.trunc((size[axis] * spacing[axis]) / target[axis])) as Vec3;
}

interface AxisSamples {
  lower: Int32Array;
  upper: Int32Array;
  weight: Float64Array;
  inside: Uint8Array;
}

/**
 * Computes the continuous input index of each output index along one axis as ITK 5.2's
 * `ResampleImageFilter` does for a linear transform. A point `origin + i * target` goes back to an
 * index by `(point - origin) * (1 / spacing)`. Along x, the scan line, ITK maps only the line's
 * first point and the point one past its end, then places index i at `start + (end - start) * i / n`.
 * Truncation to integer voxels makes those last bits visible, so they are reproduced exactly.
 */
function continuousIndices(outputLength: number, origin: number, inputSpacing: number, target: number, scanLine: boolean): Float64Array {
  const inverseSpacing = 1 / inputSpacing;
  const indexOf = (i: number) => (origin + i * target - origin) * inverseSpacing;
  const indices = new Float64Array(outputLength);
  if (!scanLine) {
    for (let i = 0; i < outputLength; i++) indices[i] = indexOf(i);
    return indices;
  }
  const start = indexOf(0);
  const end = indexOf(outputLength);
  for (let i = 0; i < outputLength; i++) {
    indices[i] = start + (end - start) * (i / outputLength);
  }
  return indices;
}

/**
 * Finds the two neighbours and the weight of linear interpolation per output index. ITK counts a
 * point as inside when its index is in [-0.5, size - 0.5); neighbours are clamped into the image and
 * a negative distance counts as 0, so points in the outer half voxel copy the edge voxel.
 */
function axisSamples(indices: Float64Array, inputLength: number): AxisSamples {
  const outputLength = indices.length;
  const lower = new Int32Array(outputLength);
  const upper = new Int32Array(outputLength);
  const weight = new Float64Array(outputLength);
  const inside = new Uint8Array(outputLength);
  for (let i = 0; i < outputLength; i++) {
    const index = indices[i];
    if (!(index >= -0.5 && index < inputLength - 0.5)) continue;
    inside[i] = 1;
    const base = Math.max(Math.floor(index), 0);
    weight[i] = Math.max(index - base, 0);
    lower[i] = base;
    upper[i] = Math.min(base + 1, inputLength - 1);
  }
  return { lower, upper, weight, inside };
}

/**
 * Resamples a volume onto the target spacing. Integer outputs are clamped to the type's range and
 * truncated toward zero (ITK's `static_cast`), which differs from scipy's rounding in step 3.
 */
export function resample(volume: Volume, target: Vec3 = TARGET_SPACING_MM): Volume {
  const size = resampledSize(volume.size, volume.spacing, target);
  if (size.some((length) => length < 1)) {
    throw new RangeError(
      `scan of ${volume.size.join(' × ')} voxels at ${volume.spacing.join(' × ')} mm has no voxel once resampled to ${target.join(' × ')} mm (resampled size ${size.join(' × ')})`,
    );
  }

  if (!volume.direction.every((value, index) => value === (index % 4 === 0 ? 1 : 0))) {
    throw new RangeError(`resample expects the identity direction (reorient first), not [${volume.direction.join(', ')}]`);
  }

  // Input and output share origin and direction, so each axis maps independently.
  const [sx, sy, sz] = [0, 1, 2].map((axis) =>
    axisSamples(continuousIndices(size[axis], volume.origin[axis], volume.spacing[axis], target[axis], axis === 0), volume.size[axis]),
  );
  const [nx, ny] = volume.size;
  const sliceStride = nx * ny;
  const input = volume.data;
  const Output = arrayConstructorOf(volume.componentType);
  const data = new Output(size[0] * size[1] * size[2]);
  const range = INTEGER_RANGES[volume.componentType];

  let output = 0;
  for (let k = 0; k < size[2]; k++) {
    const dz = sz.weight[k];
    const z0 = sz.lower[k] * sliceStride;
    const z1 = sz.upper[k] * sliceStride;
    for (let j = 0; j < size[1]; j++) {
      const dy = sy.weight[j];
      const y0 = sy.lower[j] * nx;
      const y1 = sy.upper[j] * nx;
      const rowInside = sz.inside[k] === 1 && sy.inside[j] === 1;
      for (let i = 0; i < size[0]; i++, output++) {
        if (!rowInside || sx.inside[i] === 0) {
          continue;
        }
        const dx = sx.weight[i];
        const x0 = sx.lower[i];
        const x1 = sx.upper[i];
        // The a + (b - a) * d form, x then y then z, as ITK's linear interpolator evaluates it.
        const v00 = input[z0 + y0 + x0] + (input[z0 + y0 + x1] - input[z0 + y0 + x0]) * dx;
        const v10 = input[z0 + y1 + x0] + (input[z0 + y1 + x1] - input[z0 + y1 + x0]) * dx;
        const v01 = input[z1 + y0 + x0] + (input[z1 + y0 + x1] - input[z1 + y0 + x0]) * dx;
        const v11 = input[z1 + y1 + x0] + (input[z1 + y1 + x1] - input[z1 + y1 + x0]) * dx;
        const v0 = v00 + (v10 - v00) * dy;
        const v1 = v01 + (v11 - v01) * dy;
        let value = v0 + (v1 - v0) * dz;
        if (range !== undefined) {
          value = Math.trunc(Math.min(Math.max(value, range[0]), range[1]));
        }
        data[output] = value;
      }
    }
  }

  return { ...volume, data, size, spacing: [...target] as Vec3 };
}
