/**
 * Array algorithms that the reference implementation takes from scipy.ndimage 1.10,
 * scikit-image 0.19, fill_voids 2.x and numpy 1.24, rewritten on flat C-order typed arrays.
 * Each function states the exact behaviour it reproduces, because the lung mask must match
 * the reference voxel for voxel.
 *
 * Arrays have 1 to 3 axes. Masks are read as "nonzero is true" and returned as 0/1 Uint8Arrays.
 * Internally a shape is padded with leading axes of length 1 to (depth, height, width); those
 * padded axes have no neighbours and no border.
 */
import { type NdArray, type TypedArray, allocateLike, ndarray } from './volume.js';

/** A C-order shape padded to three axes, with the number of axes the array really has. */
interface Grid {
  depth: number;
  height: number;
  width: number;
  ndim: number;
}

function toGrid(shape: readonly number[], caller: string): Grid {
  if (shape.length < 1 || shape.length > 3) {
    throw new RangeError(`${caller}: expected an array with 1 to 3 axes, got shape (${shape.join(', ')})`);
  }
  for (const length of shape) {
    if (!Number.isInteger(length) || length < 0) {
      throw new RangeError(`${caller}: invalid shape (${shape.join(', ')})`);
    }
  }
  const [depth, height, width] = [1, 1, ...shape].slice(-3);
  return { depth, height, width, ndim: shape.length };
}

function checkConnectivity(connectivity: number, ndim: number, caller: string): void {
  if (!Number.isInteger(connectivity) || connectivity < 1 || connectivity > ndim) {
    throw new RangeError(`${caller}: connectivity must be an integer from 1 to ${ndim} for a ${ndim}D array, got ${connectivity}`);
  }
}

/**
 * Returns the neighbour offsets as (dz, dy, dx) triples: the elements at most `connectivity`
 * orthogonal steps away along the array's own axes. Connectivity 1 gives the face neighbours
 * and ndim gives all, like scipy's `generate_binary_structure(ndim, connectivity)` without its
 * centre. The offsets are sorted, so those that point to earlier elements in C order come first.
 */
function neighbourOffsets(ndim: number, connectivity: number): number[][] {
  const steps = [-1, 0, 1];
  const offsets: number[][] = [];
  for (const dz of ndim >= 3 ? steps : [0]) {
    for (const dy of ndim >= 2 ? steps : [0]) {
      for (const dx of steps) {
        const nonzero = Number(dz !== 0) + Number(dy !== 0) + Number(dx !== 0);
        if (nonzero > 0 && nonzero <= connectivity) {
          offsets.push([dz, dy, dx]);
        }
      }
    }
  }
  return offsets;
}

/** Python's `round()` on a float: nearest integer, halves to even. */
export function roundHalfToEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

// ---------------------------------------------------------------------------------------------
// Geometry: flip, zoom

/** Returns a copy of `array` with the order of elements reversed along each axis of `axes` (numpy's `flip`). */
export function flip<T extends TypedArray>(array: NdArray<T>, axes: readonly number[]): NdArray<T> {
  const { depth, height, width, ndim } = toGrid(array.shape, 'flip');
  const flipped = [false, false, false];
  for (const axis of axes) {
    if (!Number.isInteger(axis) || axis < 0 || axis >= ndim) {
      throw new RangeError(`flip: axis ${axis} is out of range for a ${ndim}D array`);
    }
    flipped[3 - ndim + axis] = true;
  }

  const input = array.data;
  const output = allocateLike(input, input.length);
  let target = 0;
  for (let z = 0; z < depth; z++) {
    const sourceZ = flipped[0] ? depth - 1 - z : z;
    for (let y = 0; y < height; y++) {
      const sourceY = flipped[1] ? height - 1 - y : y;
      const rowStart = (sourceZ * height + sourceY) * width;
      for (let x = 0; x < width; x++) {
        output[target++] = input[rowStart + (flipped[2] ? width - 1 - x : x)];
      }
    }
  }
  return ndarray(output, [...array.shape]);
}

export type InterpolationOrder = 0 | 1;

/** Sampling plan of one axis: the input taps and weights of each output index, or "outside". */
interface AxisSampling {
  taps: number;
  /** Input index of each tap, `taps` per output index. */
  index: Int32Array;
  /** Linear weight of each tap (order 1 only). */
  weight: Float64Array;
  /** 1 where the output index lies past the input and takes the constant 0. */
  outside: Uint8Array;
}

/** scipy's 'mirror' extension of an index, used for the taps that fall past an edge. */
function mirrorIndex(index: number, length: number): number {
  if (length <= 1) return 0;
  const period = 2 * length - 2;
  if (index < 0) {
    index += period * Math.trunc(-index / period);
    return index <= 1 - length ? index + period : -index;
  }
  if (index >= length) {
    index -= period * Math.trunc(index / period);
    return index >= length ? period - index : index;
  }
  return index;
}

function sampleAxis(inLength: number, outLength: number, order: InterpolationOrder): AxisSampling {
  const taps = order + 1;
  const index = new Int32Array(outLength * taps);
  const weight = new Float64Array(outLength * taps);
  const outside = new Uint8Array(outLength);
  // scipy divides once and multiplies per index. The product may land just past the last
  // input sample, and mode 'constant' then treats it as outside.
  const step = outLength > 1 ? (inLength - 1) / (outLength - 1) : 1;

  for (let k = 0; k < outLength; k++) {
    const coordinate = k * step;
    if (coordinate > inLength - 1) {
      outside[k] = 1;
      continue;
    }
    const start = order === 1 ? Math.floor(coordinate) : Math.floor(coordinate + 0.5);
    for (let tap = 0; tap < taps; tap++) {
      index[k * taps + tap] = mirrorIndex(start + tap, inLength);
    }
    if (order === 1) {
      // The second weight is 1 minus the first rather than the fraction itself, as in scipy's
      // get_spline_interpolation_weights. The two can differ in the last bit.
      const first = 1 - (coordinate - Math.floor(coordinate));
      weight[k * 2] = first;
      weight[k * 2 + 1] = 1 - first;
    }
  }
  return { taps, index, weight, outside };
}

/** The single sample of a padded axis: index 0, never weighted. */
const PADDED_AXIS: AxisSampling = {
  taps: 1,
  index: new Int32Array(1),
  weight: new Float64Array([1]),
  outside: new Uint8Array(1),
};

/**
 * Stores interpolated float64 values in an output of the input's type as scipy does. Integer
 * types round halves away from zero and saturate at their range, and unsigned types send
 * negative values to 0. Float types round to nearest.
 */
function storeConverted(values: Float64Array, output: TypedArray): void {
  if (output instanceof Float32Array || output instanceof Float64Array) {
    output.set(values);
    return;
  }
  const bits = output.BYTES_PER_ELEMENT * 8;
  const signed = output instanceof Int8Array || output instanceof Int16Array || output instanceof Int32Array;
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const min = signed ? -(2 ** (bits - 1)) : 0;
  // Storing into the typed array truncates toward zero, which completes the rounding.
  if (signed) {
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      const shifted = value > 0 ? value + 0.5 : value - 0.5;
      output[i] = Math.min(max, Math.max(min, shifted));
    }
  } else {
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      output[i] = value > 0 ? Math.min(value + 0.5, max) : 0;
    }
  }
}

/** Order 0 or 1 interpolation of a 2D array into `sums`, with scipy's order of operations. */
function interpolate2d(
  source: TypedArray,
  inWidth: number,
  rows: AxisSampling,
  columns: AxisSampling,
  order: InterpolationOrder,
  sums: Float64Array,
): void {
  const outHeight = rows.outside.length;
  const outWidth = columns.outside.length;
  let target = 0;
  for (let oy = 0; oy < outHeight; oy++) {
    if (rows.outside[oy]) {
      target += outWidth;
      continue;
    }
    if (order === 0) {
      const rowStart = rows.index[oy] * inWidth;
      for (let ox = 0; ox < outWidth; ox++, target++) {
        if (!columns.outside[ox]) sums[target] = source[rowStart + columns.index[ox]];
      }
      continue;
    }
    const top = rows.index[2 * oy] * inWidth;
    const bottom = rows.index[2 * oy + 1] * inWidth;
    const weightTop = rows.weight[2 * oy];
    const weightBottom = rows.weight[2 * oy + 1];
    for (let ox = 0; ox < outWidth; ox++, target++) {
      if (columns.outside[ox]) continue;
      const left = columns.index[2 * ox];
      const right = columns.index[2 * ox + 1];
      const weightLeft = columns.weight[2 * ox];
      const weightRight = columns.weight[2 * ox + 1];
      let sum = 0;
      sum += source[top + left] * weightTop * weightLeft;
      sum += source[top + right] * weightTop * weightRight;
      sum += source[bottom + left] * weightBottom * weightLeft;
      sum += source[bottom + right] * weightBottom * weightRight;
      sums[target] = sum;
    }
  }
}

/** Order 0 or 1 interpolation of an array padded to three axes into `sums`, any of them padded. */
function interpolate3d(source: TypedArray, grid: Grid, samplings: AxisSampling[], order: InterpolationOrder, sums: Float64Array): void {
  const [samplingZ, samplingY, samplingX] = samplings;
  const weighted = order === 1;
  const realZ = grid.ndim >= 3;
  const realY = grid.ndim >= 2;
  const inPlane = grid.height * grid.width;
  const inRow = grid.width;
  let target = 0;
  for (let oz = 0; oz < samplingZ.outside.length; oz++) {
    for (let oy = 0; oy < samplingY.outside.length; oy++) {
      for (let ox = 0; ox < samplingX.outside.length; ox++, target++) {
        if (samplingZ.outside[oz] || samplingY.outside[oy] || samplingX.outside[ox]) continue;
        let sum = 0;
        for (let tz = 0; tz < samplingZ.taps; tz++) {
          const tapZ = oz * samplingZ.taps + tz;
          const planeStart = samplingZ.index[tapZ] * inPlane;
          for (let ty = 0; ty < samplingY.taps; ty++) {
            const tapY = oy * samplingY.taps + ty;
            const rowStart = planeStart + samplingY.index[tapY] * inRow;
            for (let tx = 0; tx < samplingX.taps; tx++) {
              const tapX = ox * samplingX.taps + tx;
              let term = source[rowStart + samplingX.index[tapX]];
              if (weighted) {
                if (realZ) term *= samplingZ.weight[tapZ];
                if (realY) term *= samplingY.weight[tapY];
                term *= samplingX.weight[tapX];
              }
              sum += term;
            }
          }
        }
        sums[target] = sum;
      }
    }
  }
}

/**
 * Resizes an array as `scipy.ndimage.zoom(input, factors, order, mode='constant', cval=0,
 * grid_mode=False)` of scipy 1.10 does, bit for bit.
 *
 * - Output length per axis: `round(length * factor)`, Python's round (halves to even).
 * - Output index `k` samples input coordinate `k * ((in - 1) / (out - 1))`, the quotient taken
 *   first (coordinate 0 when the output length is 1).
 * - A coordinate past the last input sample, which this product can give on the last output
 *   row or column, is outside for mode 'constant' and gets 0, not the edge value.
 * - Order 0 takes the sample at `floor(c + 0.5)`. Order 1 weights the samples at `floor(c)`
 *   and `floor(c) + 1` by `w0 = 1 - frac(c)` and `1 - w0`; a neighbour past the edge is
 *   mirrored and gets weight 0. The sum runs over the taps in C order, each sample multiplied
 *   by the weights of axis 0, 1, 2 in turn, in float64.
 * - The output has the input's type. Integer types round halves away from zero (1.5 → 2,
 *   -3.5 → -4) and saturate at the type's range. Unsigned types send negative values to 0.
 *   Float32 output is rounded once from float64.
 */
export function zoom<T extends TypedArray>(
  input: NdArray<T>,
  factors: number | readonly number[],
  order: InterpolationOrder,
): NdArray<T> {
  const grid = toGrid(input.shape, 'zoom');
  if (order !== 0 && order !== 1) {
    throw new RangeError(`zoom: order must be 0 or 1, got ${String(order)}`);
  }
  const factorList = typeof factors === 'number' ? input.shape.map(() => factors) : [...factors];
  if (factorList.length !== grid.ndim) {
    throw new RangeError(`zoom: expected ${grid.ndim} factors for shape (${input.shape.join(', ')}), got ${factorList.length}`);
  }
  for (const factor of factorList) {
    if (!Number.isFinite(factor) || factor <= 0) {
      throw new RangeError(`zoom: factors must be finite and positive, got ${factor}`);
    }
  }
  if (input.data.length === 0) {
    throw new RangeError(`zoom: cannot resize an empty array of shape (${input.shape.join(', ')})`);
  }

  const outShape = input.shape.map((length, axis) => roundHalfToEven(length * factorList[axis]));
  const inDims = [grid.depth, grid.height, grid.width];
  const outDims = [1, 1, ...outShape].slice(-3);
  const samplings = inDims.map((length, axis) =>
    axis < 3 - grid.ndim ? PADDED_AXIS : sampleAxis(length, outDims[axis], order),
  );

  // Output elements outside the input keep the constant 0.
  const sums = new Float64Array(outDims[0] * outDims[1] * outDims[2]);
  if (grid.ndim === 2) {
    interpolate2d(input.data, grid.width, samplings[1], samplings[2], order, sums);
  } else {
    interpolate3d(input.data, grid, samplings, order, sums);
  }
  const output = allocateLike(input.data, sums.length);
  storeConverted(sums, output);
  return ndarray(output, outShape);
}

// ---------------------------------------------------------------------------------------------
// Binary morphology with scipy's default structure (the cross: each element and its face neighbours)

function morphologyStep(source: Uint8Array, target: Uint8Array, grid: Grid, erode: boolean): void {
  const { depth, height, width, ndim } = grid;
  const plane = height * width;
  const hasZ = ndim >= 3;
  const hasY = ndim >= 2;
  const neighbourCount = 2 * ndim;
  // Neighbours past the border count as 0 (scipy's border_value=0), for erosion and dilation alike.
  let i = 0;
  for (let z = 0; z < depth; z++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++, i++) {
        let trueNeighbours = 0;
        if (x > 0) trueNeighbours += source[i - 1];
        if (x < width - 1) trueNeighbours += source[i + 1];
        if (hasY && y > 0) trueNeighbours += source[i - width];
        if (hasY && y < height - 1) trueNeighbours += source[i + width];
        if (hasZ && z > 0) trueNeighbours += source[i - plane];
        if (hasZ && z < depth - 1) trueNeighbours += source[i + plane];

        if (erode) {
          target[i] = source[i] === 1 && trueNeighbours === neighbourCount ? 1 : 0;
        } else {
          target[i] = source[i] === 1 || trueNeighbours > 0 ? 1 : 0;
        }
      }
    }
  }
}

function toMask(array: NdArray): Uint8Array {
  const mask = new Uint8Array(array.data.length);
  const data = array.data;
  for (let i = 0; i < data.length; i++) {
    mask[i] = data[i] !== 0 ? 1 : 0;
  }
  return mask;
}

function checkIterations(iterations: number, caller: string): void {
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new RangeError(`${caller}: iterations must be a positive integer, got ${iterations}`);
  }
}

function repeatMorphology(mask: NdArray, iterations: number, erode: boolean, caller: string): NdArray<Uint8Array> {
  const grid = toGrid(mask.shape, caller);
  checkIterations(iterations, caller);
  let current: Uint8Array = toMask(mask);
  let next: Uint8Array = new Uint8Array(current.length);
  for (let step = 0; step < iterations; step++) {
    morphologyStep(current, next, grid, erode);
    [current, next] = [next, current];
  }
  return ndarray(current, [...mask.shape]);
}

/**
 * Binary dilation as `scipy.ndimage.binary_dilation(mask, iterations=n)` (scipy 1.10): the
 * default cross structure, border_value=0, repeated `iterations` times.
 */
export function binaryDilation(mask: NdArray, iterations = 1): NdArray<Uint8Array> {
  return repeatMorphology(mask, iterations, false, 'binaryDilation');
}

/**
 * Binary erosion as `scipy.ndimage.binary_erosion(mask, iterations=n)` (scipy 1.10): the
 * default cross structure, repeated `iterations` times. Elements past the border count as 0
 * (border_value=0), so true elements on the array's edge are always eroded.
 */
export function binaryErosion(mask: NdArray, iterations = 1): NdArray<Uint8Array> {
  return repeatMorphology(mask, iterations, true, 'binaryErosion');
}

/**
 * Binary closing as `scipy.ndimage.binary_closing(mask, iterations=n)` (scipy 1.10): `n`
 * dilations then `n` erosions with the cross structure and border_value=0, so a true element
 * on the array's edge ends up false.
 */
export function binaryClosing(mask: NdArray, iterations = 1): NdArray<Uint8Array> {
  return binaryErosion(binaryDilation(mask, iterations), iterations);
}

// ---------------------------------------------------------------------------------------------
// Flood fills of the background

/**
 * Breadth-first flood over the zero elements of `mask`: expands the elements already queued in
 * `queue[head..tail)` (and marked in `visited`) through `offsets`, appending each newly reached
 * zero element. Returns the new tail, so that `queue[head..tail)` then lists the flooded region.
 */
function floodZeros(
  mask: Uint8Array,
  grid: Grid,
  offsets: number[][],
  visited: Uint8Array,
  queue: Int32Array,
  head: number,
  tail: number,
): number {
  const { depth, height, width } = grid;
  const plane = height * width;
  const offsetZ = Int32Array.from(offsets, (offset) => offset[0]);
  const offsetY = Int32Array.from(offsets, (offset) => offset[1]);
  const offsetX = Int32Array.from(offsets, (offset) => offset[2]);
  const delta = Int32Array.from(offsets, ([dz, dy, dx]) => dz * plane + dy * width + dx);
  for (; head < tail; head++) {
    const i = queue[head];
    const z = (i / plane) | 0;
    const inPlane = i - z * plane;
    const y = (inPlane / width) | 0;
    const x = inPlane - y * width;
    for (let k = 0; k < delta.length; k++) {
      const nz = z + offsetZ[k];
      const ny = y + offsetY[k];
      const nx = x + offsetX[k];
      if (nz < 0 || nz >= depth || ny < 0 || ny >= height || nx < 0 || nx >= width) continue;
      const j = i + delta[k];
      if (mask[j] === 0 && visited[j] === 0) {
        visited[j] = 1;
        queue[tail++] = j;
      }
    }
  }
  return tail;
}

/**
 * Floods the zero elements of `mask` between face neighbours, starting from the elements on
 * `stack`, and marks them in `visited`. Each step fills the whole run of zeros along the row
 * around a stacked element, then stacks the first unvisited zero of each run beside it in the
 * neighbouring rows. Working by runs keeps large volumes fast.
 */
function floodZerosByRuns(mask: Uint8Array, grid: Grid, visited: Uint8Array, stack: number[]): void {
  const { depth, height, width, ndim } = grid;
  const plane = height * width;
  const neighbourRows: number[] = [];
  while (stack.length > 0) {
    const i = stack.pop() as number;
    if (mask[i] !== 0 || visited[i] !== 0) continue;
    const rowIndex = (i / width) | 0;
    const rowStart = rowIndex * width;
    let left = i;
    while (left > rowStart && mask[left - 1] === 0 && visited[left - 1] === 0) left--;
    let right = i;
    while (right < rowStart + width - 1 && mask[right + 1] === 0 && visited[right + 1] === 0) right++;
    visited.fill(1, left, right + 1);

    const z = (rowIndex / height) | 0;
    const y = rowIndex - z * height;
    neighbourRows.length = 0;
    if (ndim >= 2 && y > 0) neighbourRows.push(-width);
    if (ndim >= 2 && y < height - 1) neighbourRows.push(width);
    if (ndim >= 3 && z > 0) neighbourRows.push(-plane);
    if (ndim >= 3 && z < depth - 1) neighbourRows.push(plane);
    for (const shift of neighbourRows) {
      let inRun = false;
      for (let column = left; column <= right; column++) {
        const j = column + shift;
        if (mask[j] === 0 && visited[j] === 0) {
          if (!inRun) stack.push(j);
          inRun = true;
        } else {
          inRun = false;
        }
      }
    }
  }
}

/** Marks in a new array every zero element of `mask` reached from the zero elements among `seeds`. */
function floodFromSeeds(mask: Uint8Array, grid: Grid, connectivity: number, seeds: Int32Array, seedCount: number): Uint8Array {
  const visited = new Uint8Array(mask.length);
  if (connectivity === 1) {
    floodZerosByRuns(mask, grid, visited, Array.from(seeds.subarray(0, seedCount)).reverse());
    return visited;
  }
  const queue = new Int32Array(mask.length);
  let tail = 0;
  for (let s = 0; s < seedCount; s++) {
    const seed = seeds[s];
    if (mask[seed] === 0 && visited[seed] === 0) {
      visited[seed] = 1;
      queue[tail++] = seed;
    }
  }
  floodZeros(mask, grid, neighbourOffsets(grid.ndim, connectivity), visited, queue, 0, tail);
  return visited;
}

/** Flat indices of every element on the border of the array's own axes. */
function borderIndices(grid: Grid): { seeds: Int32Array; count: number } {
  const { depth, height, width, ndim } = grid;
  const seeds = new Int32Array(depth * height * width);
  let count = 0;
  let i = 0;
  for (let z = 0; z < depth; z++) {
    const zBorder = ndim >= 3 && (z === 0 || z === depth - 1);
    for (let y = 0; y < height; y++) {
      const yBorder = ndim >= 2 && (y === 0 || y === height - 1);
      for (let x = 0; x < width; x++, i++) {
        if (zBorder || yBorder || x === 0 || x === width - 1) {
          seeds[count++] = i;
        }
      }
    }
  }
  return { seeds, count };
}

function fillUnvisited(mask: Uint8Array, visited: Uint8Array): Uint8Array {
  const filled = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    filled[i] = mask[i] !== 0 || visited[i] === 0 ? 1 : 0;
  }
  return filled;
}

/**
 * Fills holes as `scipy.ndimage.binary_fill_holes(mask, structure)` (scipy 1.10) does, with
 * `structure = generate_binary_structure(ndim, connectivity)`. A false element stays false when
 * a path of false elements joins it to the array's border, stepping between neighbours of that
 * structure. Every other element becomes true. lungmask's body mask uses a 3 × 3 structure of
 * ones, which is connectivity 2 in 2D.
 */
export function binaryFillHoles(mask: NdArray, connectivity = 1): NdArray<Uint8Array> {
  const grid = toGrid(mask.shape, 'binaryFillHoles');
  checkConnectivity(connectivity, grid.ndim, 'binaryFillHoles');
  const binary = toMask(mask);
  const { seeds, count } = borderIndices(grid);
  const outside = floodFromSeeds(binary, grid, connectivity, seeds, count);
  return ndarray(fillUnvisited(binary, outside), [...mask.shape]);
}

/**
 * Returns the seeds of fill_voids' 3D fill. It scans each pair of opposite faces and seeds only
 * the first zero of each run of zeros in its scan order. The scan runs on a Fortran-order copy,
 * so its fastest index is numpy axis 0. The last element of one scan line and the first of the
 * next count as one run even though they are not neighbours.
 */
function fillVoidsSeeds3d(mask: Uint8Array, grid: Grid): { seeds: Int32Array; count: number } {
  const { depth: n0, height: n1, width: n2 } = grid;
  const at = (i0: number, i1: number, i2: number): number => (i0 * n1 + i1) * n2 + i2;
  const seeds = new Int32Array(2 * (n0 * n1 + n0 * n2 + n1 * n2));
  let count = 0;

  // Each face pair: the fixed axis, the outer and inner scanned axes, in fill_voids' order.
  const faces: Array<{ fixed: number; outer: number; inner: number }> = [
    { fixed: 2, outer: 1, inner: 0 },
    { fixed: 1, outer: 2, inner: 0 },
    { fixed: 0, outer: 2, inner: 1 },
  ];
  const lengths = [n0, n1, n2];
  for (const { fixed, outer, inner } of faces) {
    const sides = [0, lengths[fixed] - 1];
    const placed = [false, false];
    const coordinate = [0, 0, 0];
    for (let o = 0; o < lengths[outer]; o++) {
      for (let n = 0; n < lengths[inner]; n++) {
        coordinate[outer] = o;
        coordinate[inner] = n;
        for (let side = 0; side < 2; side++) {
          coordinate[fixed] = sides[side];
          const i = at(coordinate[0], coordinate[1], coordinate[2]);
          if (mask[i] === 0) {
            if (!placed[side]) seeds[count++] = i;
            placed[side] = true;
          } else {
            placed[side] = false;
          }
        }
      }
    }
  }
  return { seeds, count };
}

/**
 * Fills voids as `fill_voids.fill(mask)` (fill_voids 2.x) does. Background connected to the
 * border stays background and every other element becomes true. The background connects
 * through face neighbours only (6-connectivity in 3D, 4-connectivity in 2D).
 *
 * In 3D, fill_voids starts its flood only from the first zero of each run of zeros met while
 * scanning the faces (see fillVoidsSeeds3d). A run can carry over from the end of one scan line
 * to the start of the next, and then the zero that starts the next line is no seed. If nothing
 * else reaches it, as for a zero on an edge of the volume whose neighbours are all true, it is
 * filled. This function reproduces that. In 2D every zero on the border is reached.
 */
export function fillVoids(mask: NdArray): NdArray<Uint8Array> {
  const grid = toGrid(mask.shape, 'fillVoids');
  if (grid.ndim < 2) {
    throw new RangeError(`fillVoids: expected a 2D or 3D array, got shape (${mask.shape.join(', ')})`);
  }
  const binary = toMask(mask);
  if (binary.length === 0) {
    return ndarray(binary, [...mask.shape]);
  }
  const { seeds, count } = grid.ndim === 3 ? fillVoidsSeeds3d(binary, grid) : borderIndices(grid);
  const outside = floodFromSeeds(binary, grid, 1, seeds, count);
  return ndarray(fillUnvisited(binary, outside), [...mask.shape]);
}

/**
 * Closes small holes of a binary mask as `skimage.morphology.area_closing(mask.astype(int),
 * area_threshold, connectivity)` (scikit-image 0.19) does. Each connected region of false
 * elements with fewer than `areaThreshold` elements becomes true, whether or not it touches
 * the border. Neighbours are at most `connectivity` orthogonal steps apart. A mask with no true
 * element is returned unchanged, because its single region is the root of skimage's max-tree.
 */
export function binaryAreaClosing(mask: NdArray, areaThreshold: number, connectivity = 1): NdArray<Uint8Array> {
  const grid = toGrid(mask.shape, 'binaryAreaClosing');
  checkConnectivity(connectivity, grid.ndim, 'binaryAreaClosing');
  if (!Number.isFinite(areaThreshold)) {
    throw new RangeError(`binaryAreaClosing: areaThreshold must be a finite number, got ${areaThreshold}`);
  }
  const closed = toMask(mask);
  if (!closed.includes(1)) {
    return ndarray(closed, [...mask.shape]);
  }

  const offsets = neighbourOffsets(grid.ndim, connectivity);
  const visited = new Uint8Array(closed.length);
  const queue = new Int32Array(closed.length);
  let tail = 0;
  for (let i = 0; i < closed.length; i++) {
    if (closed[i] !== 0 || visited[i] !== 0) continue;
    // Each region takes the next stretch of the queue, so its elements are at hand when it is small.
    const regionStart = tail;
    visited[i] = 1;
    queue[tail++] = i;
    tail = floodZeros(closed, grid, offsets, visited, queue, regionStart, tail);
    if (tail - regionStart < areaThreshold) {
      for (let k = regionStart; k < tail; k++) {
        closed[queue[k]] = 1;
      }
    }
  }
  return ndarray(closed, [...mask.shape]);
}

// ---------------------------------------------------------------------------------------------
// Connected components

/** Connected regions of an array: a region number per element, 0 for background. */
export interface Labelling {
  /** Region number of each element: 0 for background, then 1 to `count`. */
  labels: NdArray<Int32Array>;
  count: number;
}

function findRoot(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

/**
 * Labels connected regions as `skimage.measure.label(image, background=0, connectivity)`
 * (scikit-image 0.19) does. Nonzero elements belong to regions, and two neighbours join when
 * their values are equal. Neighbours are at most `connectivity` orthogonal steps apart, by
 * default along all axes. So a multi-valued label image gives one region per connected patch
 * of each value, and a 0/1 mask gives its usual components. Regions are numbered 1, 2, … in
 * the C order of their first element.
 *
 * NOTE: skimage numbers an integer (not bool) image in the order of an axis-swapped copy when
 * its shape has a length-1 axis after a longer one, such as (5, 1, 4). That numbering is not
 * reproduced. Bool masks, and shapes whose length-1 axes all come first, are numbered as here.
 */
export function label(image: NdArray, connectivity: number = image.shape.length): Labelling {
  const grid = toGrid(image.shape, 'label');
  checkConnectivity(connectivity, grid.ndim, 'label');
  const { depth, height, width } = grid;
  const plane = height * width;
  const data = image.data;
  // Only the neighbours that come earlier in C order: the later ones join when they are visited.
  const earlier = neighbourOffsets(grid.ndim, connectivity).filter(([dz, dy, dx]) => dz * plane + dy * width + dx < 0);
  // When the left neighbour (0, 0, -1) has the same value, the element joins its region first.
  // The neighbours that are also earlier neighbours of the left one joined that region when it
  // was visited, so only the others are left to check.
  const isEarlier = (dz: number, dy: number, dx: number) => earlier.some(([a, b, c]) => a === dz && b === dy && c === dx);
  const afterLeft = earlier.filter(([dz, dy, dx]) => !(dz === 0 && dy === 0 && dx === -1) && !isEarlier(dz, dy, dx + 1));
  const offsetTable = (offsets: number[][]) => ({
    z: Int32Array.from(offsets, (offset) => offset[0]),
    y: Int32Array.from(offsets, (offset) => offset[1]),
    x: Int32Array.from(offsets, (offset) => offset[2]),
    delta: Int32Array.from(offsets, ([dz, dy, dx]) => dz * plane + dy * width + dx),
  });
  const allEarlier = offsetTable(earlier);
  const earlierThanLeft = offsetTable(afterLeft);

  // Union-find whose roots are the smallest flat index of their tree.
  const parent = new Int32Array(data.length);
  const hasZ = grid.ndim >= 3;
  const hasY = grid.ndim >= 2;
  let i = 0;
  for (let z = 0; z < depth; z++) {
    for (let y = 0; y < height; y++) {
      // Away from the borders every earlier neighbour exists, so the bounds checks can be skipped.
      const innerRow = (!hasZ || z > 0) && (!hasY || (y > 0 && y < height - 1));
      for (let x = 0; x < width; x++, i++) {
        const value = data[i];
        if (value === 0) continue;
        const interior = innerRow && x > 0 && x < width - 1;
        let root = i;
        let offsets = allEarlier;
        if (x > 0 && data[i - 1] === value) {
          root = findRoot(parent, i - 1);
          offsets = earlierThanLeft;
        }
        parent[i] = root;
        const { z: earlierZ, y: earlierY, x: earlierX, delta: earlierDelta } = offsets;
        for (let k = 0; k < earlierDelta.length; k++) {
          if (!interior) {
            const ny = y + earlierY[k];
            const nx = x + earlierX[k];
            if (z + earlierZ[k] < 0 || ny < 0 || ny >= height || nx < 0 || nx >= width) continue;
          }
          const j = i + earlierDelta[k];
          if (data[j] !== value || parent[j] === root) continue;
          const rootJ = findRoot(parent, j);
          if (rootJ < root) {
            parent[root] = rootJ;
            root = rootJ;
          } else if (rootJ > root) {
            parent[rootJ] = root;
          }
        }
        parent[i] = root;
      }
    }
  }

  const labels = new Int32Array(data.length);
  let count = 0;
  for (let e = 0; e < data.length; e++) {
    if (data[e] === 0) continue;
    const root = findRoot(parent, e);
    labels[e] = root === e ? ++count : labels[root];
  }
  return { labels: ndarray(labels, [...image.shape]), count };
}

/** Per-region measurements; entry `r - 1` describes region `r`. */
export interface RegionProperties {
  /** Number of elements of each region (skimage's `area`). */
  area: Float64Array;
  /**
   * Bounding box of each region, `2 * ndim` numbers per region: the first index on each axis,
   * then one past the last (skimage's `bbox`, e.g. (min_row, min_col, max_row, max_col) in 2D).
   */
  bbox: Int32Array;
  /** Largest value of the intensity image inside each region (skimage's `max_intensity`). */
  maxIntensity: Float64Array | undefined;
}

/** Measures each region's `area`, `bbox` and, given an intensity image, `max_intensity`, as skimage's regionprops does. */
export function regionProperties(labelling: Labelling, intensity?: NdArray): RegionProperties {
  const { labels, count } = labelling;
  const grid = toGrid(labels.shape, 'regionProperties');
  if (intensity !== undefined && intensity.shape.join() !== labels.shape.join()) {
    throw new RangeError(
      `regionProperties: intensity shape (${intensity.shape.join(', ')}) differs from labels shape (${labels.shape.join(', ')})`,
    );
  }
  const ndim = grid.ndim;
  const area = new Float64Array(count);
  const bbox = new Int32Array(count * 2 * ndim);
  for (let r = 0; r < count; r++) {
    for (let axis = 0; axis < ndim; axis++) {
      bbox[r * 2 * ndim + axis] = 2 ** 31 - 1;
      bbox[r * 2 * ndim + ndim + axis] = -1;
    }
  }
  const maxIntensity = intensity === undefined ? undefined : new Float64Array(count).fill(-Infinity);

  const data = labels.data;
  const coordinate = [0, 0, 0];
  let i = 0;
  for (let z = 0; z < grid.depth; z++) {
    for (let y = 0; y < grid.height; y++) {
      for (let x = 0; x < grid.width; x++, i++) {
        const region = data[i];
        if (region === 0) continue;
        const r = region - 1;
        area[r] += 1;
        coordinate[0] = z;
        coordinate[1] = y;
        coordinate[2] = x;
        for (let axis = 0; axis < ndim; axis++) {
          const position = coordinate[3 - ndim + axis];
          const startAt = r * 2 * ndim + axis;
          if (position < bbox[startAt]) bbox[startAt] = position;
          if (position + 1 > bbox[startAt + ndim]) bbox[startAt + ndim] = position + 1;
        }
        if (maxIntensity !== undefined && intensity !== undefined && intensity.data[i] > maxIntensity[r]) {
          maxIntensity[r] = intensity.data[i];
        }
      }
    }
  }
  return { area, bbox, maxIntensity };
}

/**
 * Keeps the largest connected region of a mask, as lungmask's `keep_largest_connected_component`
 * does with skimage 0.19 and numpy. Neighbours are at most `connectivity` orthogonal steps
 * apart, by default along all axes. Of several equally large regions it keeps the last in
 * skimage's numbering, which is what `np.argsort(areas)[-1]` gives when the sort keeps ties in
 * order. A mask with no true element gives an empty mask, where lungmask raises an IndexError.
 *
 * NOTE: numpy 1.24's default argsort keeps ties in order for up to 16 regions (checked with
 * numpy 1.24.2). With more regions it may pick another of several equally large ones.
 */
export function keepLargestComponent(mask: NdArray, connectivity: number = mask.shape.length): NdArray<Uint8Array> {
  const labelling = label(ndarray(toMask(mask), [...mask.shape]), connectivity);
  const { area } = regionProperties(labelling);
  let largest = 0;
  for (let r = 0; r < area.length; r++) {
    if (area[r] >= area[largest]) largest = r;
  }
  const largestRegion = new Uint8Array(mask.data.length);
  const labels = labelling.labels.data;
  for (let i = 0; i < labels.length; i++) {
    largestRegion[i] = labelling.count > 0 && labels[i] === largest + 1 ? 1 : 0;
  }
  return ndarray(largestRegion, [...mask.shape]);
}

// ---------------------------------------------------------------------------------------------
// Statistics

/**
 * Computes the q-th percentile of `values` as `numpy.percentile(values, q)` (numpy 1.24, method
 * 'linear') does. With the values sorted, the virtual index `(n - 1) * (q / 100)` splits into
 * `i = floor` and `t = fraction`. With `a` and `b` the values at `i` and `i + 1`, the result is
 * `a + (b - a) * t` for `t < 0.5`, else `b - (b - a) * (1 - t)`. The difference `b - a` is
 * rounded to float32 for a Float32Array, because numpy subtracts in the input's type. Any NaN
 * gives NaN.
 */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 100)) {
    throw new RangeError(`percentile: q must be between 0 and 100, got ${q}`);
  }
  const n = values.length;
  if (n === 0) {
    throw new RangeError('percentile: cannot take a percentile of no values');
  }
  const sorted = Float64Array.from(values).sort();
  if (Number.isNaN(sorted[n - 1])) {
    return NaN;
  }

  const virtualIndex = (n - 1) * (q / 100);
  if (virtualIndex >= n - 1) {
    return sorted[n - 1];
  }
  const below = Math.floor(virtualIndex);
  const fraction = virtualIndex - below;
  const a = sorted[below];
  const b = sorted[below + 1];
  const difference = values instanceof Float32Array ? Math.fround(b - a) : b - a;
  return fraction >= 0.5 ? b - difference * (1 - fraction) : a + difference * fraction;
}
