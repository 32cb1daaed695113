/**
 * Step 3: the lung mask of lungmask 0.2.11 (`mask.apply` with the U-Net R231), everything but
 * the network itself, which the caller passes in. The steps keep lungmask's order and names:
 * orient, preprocess (clip, body mask, crop, resize), run the U-Net, postprocess, reshape each
 * slice's mask back into its box, orient back.
 */
import {
  binaryAreaClosing,
  binaryClosing,
  binaryDilation,
  binaryErosion,
  binaryFillHoles,
  fillVoids,
  flip,
  label,
  regionProperties,
  zoom,
} from '../ndimage.js';
import { type NdArray, type TypedArray, allocateLike, ndarray } from '../volume.js';

/** Side of the square slices that the U-Net takes and returns, in pixels. */
export const UNET_RESOLUTION = 256;
/** HU range that slices are clipped to. The network input maps it linearly onto [0, 1]. */
export const HU_CLIP: readonly [number, number] = [-1024, 600];
/** Side of the square grid on which the body mask is computed, in pixels. */
export const BODY_MASK_RESOLUTION = 128;
/** Pixels strictly above this value are body. */
export const BODY_MASK_THRESHOLD_HU = -500;
/** Erosions of the body mask before its largest region is taken. */
export const BODY_MASK_EROSIONS = 2;
/** Dilations of the body mask's largest region. */
export const BODY_MASK_DILATIONS = 2;
/** Holes below this many pixels are closed when the volume has a single slice. */
export const SINGLE_SLICE_HOLE_AREA = 64;
/** Slices per call of the network unless the caller sets `batchSize`. */
export const DEFAULT_BATCH_SIZE = 8;

/** Body box of one slice: row start, column start, row end, column end (ends exclusive). */
export type Box = [number, number, number, number];

/**
 * Runs the U-Net on `count` slices of 1 × 256 × 256 float32 and returns the argmax over its
 * classes for each pixel, `count` × 256 × 256 labels.
 */
export type UnetRunner = (input: Float32Array, count: number) => Promise<Uint8Array>;

export interface LungMaskOptions {
  /** Slices per call of `runUnet`, which bounds the memory the network needs. Default 8. */
  batchSize?: number;
}

export interface LungMaskResult<T extends TypedArray = TypedArray> {
  /** Labels on the input grid, (z, y, x): 0 background, 1 right lung, 2 left lung. */
  labels: NdArray<Uint8Array>;
  /** Each slice clipped, cropped to its body box and resized, (z, 256, 256), the input's type. */
  inputSlices: NdArray<T>;
  /** Body box of each slice, (z, 4), see `Box`. */
  boxes: NdArray<Int32Array>;
  /** The network's labels, (z, 256, 256). */
  unetLabels: NdArray<Uint8Array>;
  /** The labels after `postprocess`, (z, 256, 256). */
  postprocessed: NdArray<Uint8Array>;
  /**
   * Wall time of each part of the step, in seconds: `preprocess` (orientation and
   * `preprocess`), `unet` (the calls of `runUnet`) and `postprocess` (`postprocess`, the mapping
   * back to the input grid and orientation).
   */
  seconds: { preprocess: number; unet: number; postprocess: number };
}

const OPTION_NAMES = new Set(['batchSize']);

// ---------------------------------------------------------------------------------------------
// Orientation

/**
 * Returns the axes of a (z, y, x) array that lungmask flips: those whose diagonal entry of the
 * row-major direction matrix is negative (`direction[8]` for z, `[4]` for y, `[0]` for x).
 * lungmask looks at the diagonal only, so an axis permutation goes unnoticed.
 */
export function orientationFlips(direction: readonly number[]): number[] {
  if (direction.length !== 9) {
    throw new RangeError(`lung mask: direction must have 9 entries (a 3 × 3 matrix, row-major), got ${direction.length}`);
  }
  return [8, 4, 0].flatMap((entry, axis) => (direction[entry] < 0 ? [axis] : []));
}

// ---------------------------------------------------------------------------------------------
// Preprocessing, per slice (lungmask's utils.preprocess)

function sliceOf<T extends TypedArray>(volume: NdArray<T>, index: number): NdArray<T> {
  const [, height, width] = volume.shape;
  const plane = height * width;
  return ndarray(volume.data.subarray(index * plane, (index + 1) * plane) as T, [height, width]);
}

/** Returns a copy of `slice` with values clipped to `HU_CLIP`, in the slice's own type. */
export function clipHu<T extends TypedArray>(slice: NdArray<T>): NdArray<T> {
  const [low, high] = HU_CLIP;
  const clipped = allocateLike(slice.data, slice.data.length);
  for (let i = 0; i < clipped.length; i++) {
    const value = slice.data[i];
    clipped[i] = Math.min(high, Math.max(low, value));
  }
  return ndarray(clipped, [...slice.shape]);
}

/**
 * Computes the body mask of one clipped slice as lungmask's `simple_bodymask` does. The slice
 * is zoomed (nearest) to 128 × 128 and thresholded, then goes through a binary closing, hole
 * filling with a 3 × 3 structure and two erosions. The largest 4-connected region, the first of
 * equal ones, is dilated twice and zoomed (nearest) back to the slice's size.
 */
export function bodyMask(slice: NdArray): NdArray<Uint8Array> {
  const [height, width] = slice.shape;
  const small = zoom(slice, [BODY_MASK_RESOLUTION / height, BODY_MASK_RESOLUTION / width], 0);

  const above = new Uint8Array(small.data.length);
  for (let i = 0; i < above.length; i++) {
    above[i] = small.data[i] > BODY_MASK_THRESHOLD_HU ? 1 : 0;
  }

  const closed = binaryClosing(ndarray(above, small.shape));
  const filled = binaryFillHoles(closed, 2);
  const eroded = binaryErosion(filled, BODY_MASK_EROSIONS);

  const regions = label(eroded, 1);
  let body: NdArray<Uint8Array> = ndarray(new Uint8Array(eroded.data.length), small.shape);
  if (regions.count > 0) {
    const { area } = regionProperties(regions);
    let largest = 0;
    for (let r = 1; r < area.length; r++) {
      if (area[r] > area[largest]) largest = r;
    }
    for (let i = 0; i < body.data.length; i++) {
      body.data[i] = regions.labels.data[i] === largest + 1 ? 1 : 0;
    }
    body = binaryDilation(body, BODY_MASK_DILATIONS);
  }

  return zoom(body, [height / BODY_MASK_RESOLUTION, width / BODY_MASK_RESOLUTION], 0);
}

/**
 * Returns the bounding box of the first region of the body mask in skimage's numbering
 * (8-connected, numbered in row-major order of their first pixel), or the whole slice when
 * the mask is empty. lungmask takes the first region here, not the largest.
 */
export function bodyBox(mask: NdArray): Box {
  const [height, width] = mask.shape;
  const regions = label(mask, 2);
  if (regions.count === 0) {
    return [0, 0, height, width];
  }
  const { bbox } = regionProperties(regions);
  return [bbox[0], bbox[1], bbox[2], bbox[3]];
}

/** Crops a slice to `box` and resizes it to 256 × 256 with bilinear `zoom`, keeping its type. */
export function cropAndResize<T extends TypedArray>(slice: NdArray<T>, box: Box): NdArray<T> {
  const [rowStart, columnStart, rowEnd, columnEnd] = box;
  const width = slice.shape[1];
  const cropHeight = rowEnd - rowStart;
  const cropWidth = columnEnd - columnStart;
  const cropped = allocateLike(slice.data, cropHeight * cropWidth);
  for (let row = 0; row < cropHeight; row++) {
    const from = (rowStart + row) * width + columnStart;
    cropped.set(slice.data.subarray(from, from + cropWidth), row * cropWidth);
  }
  return zoom(ndarray(cropped, [cropHeight, cropWidth]), [UNET_RESOLUTION / cropHeight, UNET_RESOLUTION / cropWidth], 1);
}

/**
 * Prepares every slice of a (z, y, x) volume for the network, as lungmask's `preprocess`:
 * clip, body box, crop and resize. Returns the slices (z, 256, 256) and their boxes (z, 4).
 */
export function preprocess<T extends TypedArray>(volume: NdArray<T>): { slices: NdArray<T>; boxes: NdArray<Int32Array> } {
  const depth = volume.shape[0];
  const plane = UNET_RESOLUTION * UNET_RESOLUTION;
  const slices = allocateLike(volume.data, depth * plane);
  const boxes = new Int32Array(depth * 4);
  for (let z = 0; z < depth; z++) {
    const clipped = clipHu(sliceOf(volume, z));
    const box = bodyBox(bodyMask(clipped));
    slices.set(cropAndResize(clipped, box).data, z * plane);
    boxes.set(box, z * 4);
  }
  return {
    slices: ndarray(slices, [depth, UNET_RESOLUTION, UNET_RESOLUTION]),
    boxes: ndarray(boxes, [depth, 4]),
  };
}

/**
 * Scales slices `first` to `first + count - 1` to the network input, `count` × 1 × 256 × 256
 * float32 values `(min(v, 600) + 1024) / 1624`. numpy computes this in float64 for integer
 * slices and in float32 for float32 slices, so the rounding follows the slices' type.
 */
export function unetInput(slices: NdArray, first: number, count: number): Float32Array {
  const plane = UNET_RESOLUTION * UNET_RESOLUTION;
  const [low, high] = HU_CLIP;
  const values = slices.data.subarray(first * plane, (first + count) * plane);
  const input = new Float32Array(values.length);
  const float32Arithmetic = slices.data instanceof Float32Array;
  for (let i = 0; i < values.length; i++) {
    const shifted = Math.min(values[i], high) - low;
    input[i] = float32Arithmetic ? Math.fround(shifted) / (high - low) : shifted / (high - low);
  }
  return input;
}

// ---------------------------------------------------------------------------------------------
// Postprocessing (lungmask's utils.postrocessing)

/**
 * Returns lungmask's `region_to_lobemap`, the label each region maps to. Regions are visited by
 * increasing area, ties in region order. A region keeps its label only when it is larger than
 * every region of the same label visited before it, and every other region maps to 0. So of
 * several regions that share the largest area of a label, only the first keeps it.
 */
function regionToLobeMap(area: Float64Array, labelOfRegion: Float64Array): Uint8Array {
  const order = Array.from(area, (_, r) => r).sort((a, b) => area[a] - area[b]);
  const largestSoFar = new Float64Array(256);
  const lobeOfRegion = new Uint8Array(area.length + 1);
  for (const r of order) {
    const value = labelOfRegion[r];
    if (area[r] > largestSoFar[value]) {
      largestSoFar[value] = area[r];
      lobeOfRegion[r + 1] = value;
    }
  }
  return lobeOfRegion;
}

/**
 * Cleans the network's (z, 256, 256) labels as lungmask's `postrocessing` (default `spare=[]`)
 * does. The labels are split into connected regions of equal labels (full connectivity), and
 * the regions are mapped through `region_to_lobemap`. Then each label keeps its largest region,
 * filled with `fill_voids.fill` (3D, 6-connected background). A single-slice volume instead gets
 * its holes under 64 pixels closed, with skimage's `area_closing`. Labels are written in
 * increasing order, so a later label overwrites an earlier one's filled voids.
 *
 * lungmask also loops over the smaller regions to merge each into the neighbour it touches
 * most, but that loop never reassigns anything. Its test `n != spare` compares a number with an
 * empty list, which numpy 1.24 evaluates to an empty array, and numpy takes an empty array as
 * false (with a DeprecationWarning). The loop is therefore left out.
 *
 * Like lungmask, the smallest value present after the mapping is skipped, assuming it is the
 * background 0.
 */
export function postprocess(labels: NdArray<Uint8Array>): NdArray<Uint8Array> {
  if (labels.shape.length !== 3) {
    throw new RangeError(`postprocess: expected (z, y, x) labels, got shape (${labels.shape.join(', ')})`);
  }
  const regions = label(labels);
  const { area, maxIntensity } = regionProperties(regions, labels);
  const lobeOfRegion = regionToLobeMap(area, maxIntensity as Float64Array);

  // lungmask keeps the largest connected component of `mapped == value`. That is the largest
  // region mapped to `value`, because regions of one value never touch (they would be one
  // region), and it is unique because region_to_lobemap maps only strictly growing areas.
  const present = new Uint8Array(256);
  const largestRegionOf = new Int32Array(256);
  present[0] = labels.data.includes(0) ? 1 : 0;
  for (let region = 1; region < lobeOfRegion.length; region++) {
    const value = lobeOfRegion[region];
    present[value] = 1;
    if (value !== 0 && (largestRegionOf[value] === 0 || area[region - 1] > area[largestRegionOf[value] - 1])) {
      largestRegionOf[value] = region;
    }
  }
  const values = Array.from(present.keys()).filter((value) => present[value] === 1).slice(1);

  const singleSlice = labels.shape[0] === 1;
  const regionData = regions.labels.data;
  const output = new Uint8Array(labels.data.length);
  for (const value of values) {
    const region = largestRegionOf[value];
    const largest = new Uint8Array(output.length);
    for (let i = 0; i < largest.length; i++) {
      largest[i] = region !== 0 && regionData[i] === region ? 1 : 0;
    }
    const filled = singleSlice ? fillHolesOfSingleSlice(ndarray(largest, labels.shape)) : fillVoids(ndarray(largest, labels.shape));
    for (let i = 0; i < output.length; i++) {
      if (filled.data[i]) output[i] = value;
    }
  }
  return ndarray(output, [...labels.shape]);
}

function fillHolesOfSingleSlice(mask: NdArray<Uint8Array>): NdArray<Uint8Array> {
  const [, height, width] = mask.shape;
  const closed = binaryAreaClosing(ndarray(mask.data, [height, width]), SINGLE_SLICE_HOLE_AREA, 1);
  return ndarray(closed.data, [...mask.shape]);
}

// ---------------------------------------------------------------------------------------------
// Back to the input grid (lungmask's utils.reshape_mask)

/**
 * Puts one slice's 256 × 256 labels back on a `height` × `width` slice, as lungmask's
 * `reshape_mask` does. They are zoomed (nearest) to the size of `box` and placed in the box,
 * with zeros elsewhere. The zoom's last row or column can be 0 (see `zoom`), as in lungmask.
 */
export function reshapeMask(labels: NdArray<Uint8Array>, box: Box, height: number, width: number): NdArray<Uint8Array> {
  const [rowStart, columnStart, rowEnd, columnEnd] = box;
  const boxHeight = rowEnd - rowStart;
  const boxWidth = columnEnd - columnStart;
  const resized = zoom(labels, [boxHeight / labels.shape[0], boxWidth / labels.shape[1]], 0);
  if (resized.shape[0] !== boxHeight || resized.shape[1] !== boxWidth) {
    throw new Error(`reshapeMask: labels resized to (${resized.shape.join(', ')}) do not fit box [${box.join(', ')}]`);
  }

  const slice = new Uint8Array(height * width);
  for (let row = 0; row < boxHeight; row++) {
    slice.set(resized.data.subarray(row * boxWidth, (row + 1) * boxWidth), (rowStart + row) * width + columnStart);
  }
  return ndarray(slice, [height, width]);
}

// ---------------------------------------------------------------------------------------------
// The whole step

function checkOptions(options: LungMaskOptions): number {
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) {
      throw new TypeError(`computeLungMask: unknown option '${name}' (known: ${[...OPTION_NAMES].join(', ')})`);
    }
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`computeLungMask: batchSize must be a positive integer, got ${batchSize}`);
  }
  return batchSize;
}

async function runUnetInBatches(slices: NdArray, runUnet: UnetRunner, batchSize: number): Promise<NdArray<Uint8Array>> {
  const depth = slices.shape[0];
  const plane = UNET_RESOLUTION * UNET_RESOLUTION;
  const labels = new Uint8Array(depth * plane);
  for (let first = 0; first < depth; first += batchSize) {
    const count = Math.min(batchSize, depth - first);
    const output = await runUnet(unetInput(slices, first, count), count);
    if (!(output instanceof Uint8Array) || output.length !== count * plane) {
      const got = output instanceof Uint8Array ? `${output.length} labels` : String(output);
      throw new TypeError(`computeLungMask: runUnet must return a Uint8Array of ${count * plane} labels for ${count} slice(s), got ${got}`);
    }
    labels.set(output, first * plane);
  }
  return ndarray(labels, [depth, UNET_RESOLUTION, UNET_RESOLUTION]);
}

/**
 * Computes the lung labels of a (z, y, x) volume on its own grid, with the U-Net run by
 * `runUnet` in batches of `options.batchSize` slices. `direction` is the volume's ITK direction
 * matrix, 9 numbers row-major. Returns the labels and the intermediates that the reference
 * dumps, which are in lungmask's working orientation (after `orientationFlips`).
 */
export async function computeLungMask<T extends TypedArray>(
  volumeZyx: NdArray<T>,
  direction: readonly number[],
  runUnet: UnetRunner,
  options: LungMaskOptions = {},
): Promise<LungMaskResult<T>> {
  const batchSize = checkOptions(options);
  const [depth, height, width] = volumeZyx.shape;
  if (volumeZyx.shape.length !== 3 || depth < 1 || height < 1 || width < 1) {
    throw new RangeError(`computeLungMask: expected a (z, y, x) volume with at least one voxel, got shape (${volumeZyx.shape.join(', ')})`);
  }
  const start = performance.now();
  const flips = orientationFlips(direction);
  const oriented = flip(volumeZyx, flips);

  const { slices, boxes } = preprocess(oriented);
  const preprocessed = performance.now();
  const unetLabels = await runUnetInBatches(slices, runUnet, batchSize);
  const unetDone = performance.now();
  const postprocessed = postprocess(unetLabels);

  const plane = UNET_RESOLUTION * UNET_RESOLUTION;
  const labels = new Uint8Array(depth * height * width);
  for (let z = 0; z < depth; z++) {
    const sliceLabels = ndarray(postprocessed.data.subarray(z * plane, (z + 1) * plane), [UNET_RESOLUTION, UNET_RESOLUTION]);
    const box = Array.from(boxes.data.subarray(z * 4, z * 4 + 4)) as Box;
    labels.set(reshapeMask(sliceLabels, box, height, width).data, z * height * width);
  }

  const labelsInInputOrientation = flip(ndarray(labels, [depth, height, width]), flips);
  const end = performance.now();

  return {
    labels: labelsInInputOrientation,
    inputSlices: slices,
    boxes,
    unetLabels,
    postprocessed,
    seconds: { preprocess: (preprocessed - start) / 1000, unet: (unetDone - preprocessed) / 1000, postprocess: (end - unetDone) / 1000 },
  };
}
