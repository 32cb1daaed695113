/**
 * Steps 8 and 10: iBOT ViT features of the kept slices, averaged over slices and over an H flip.
 */
import { type NdArray, type TypedArray } from '../volume.js';

/** Intensity window of the feature extractors, in HU. */
export const HU_WINDOW: readonly [number, number] = [-1024, 600];
/** ImageNet channel statistics that the ViTs were trained with. */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];
/** Slices per network call: bounds memory, and batching more does not pay on CPU. */
export const DEFAULT_VIT_BATCH = 8;

/** Runs a feature extractor on `count` images of 3 × H × W; returns `count` feature vectors. */
export type RunVit = (input: Float32Array, count: number) => Promise<Float32Array>;

/**
 * Builds the network input for slices [start, start + count) of an (H, W, Z) array: each slice in 3
 * channels, clipped to the HU window, scaled to [0, 1], then normalised with ImageNet statistics.
 * The arithmetic is float64, rounded to float32 at the end, as the reference's numpy code does.
 * `flip` reverses H, the image rows.
 */
export function vitInput(image: NdArray<TypedArray>, start: number, count: number, flip: boolean): Float32Array {
  const [height, width, depth] = image.shape;
  const [low, high] = HU_WINDOW;
  const plane = height * width;
  const input = new Float32Array(count * 3 * plane);
  for (let n = 0; n < count; n++) {
    const z = start + n;
    for (let h = 0; h < height; h++) {
      const sourceRow = flip ? height - 1 - h : h;
      for (let w = 0; w < width; w++) {
        const hu = Math.min(Math.max(image.data[(sourceRow * width + w) * depth + z], low), high);
        const scaled = (hu - low) / (high - low);
        for (let channel = 0; channel < 3; channel++) {
          input[(n * 3 + channel) * plane + h * width + w] = (scaled - IMAGENET_MEAN[channel]) / IMAGENET_STD[channel];
        }
      }
    }
  }
  return input;
}

/** Features of a volume: the mean vector that the heads take, and the class token of each slice. */
export interface SliceFeatures {
  /** Class tokens averaged over slices, as stored and H-flipped, then the two averages averaged. */
  mean: Float32Array;
  /** Class token of every slice, shape (2, Z, D): index 0 as stored, index 1 flipped along H. */
  tokens: NdArray<Float32Array>;
}

/**
 * Extracts the feature vector of a volume: the class token of every slice, averaged over slices,
 * once as stored and once flipped along H; the result is the mean of the two averages.
 */
export async function extractFeatures(image: NdArray<TypedArray>, runVit: RunVit, batchSize = DEFAULT_VIT_BATCH): Promise<Float32Array> {
  return (await extractSliceFeatures(image, runVit, batchSize)).mean;
}

/**
 * Extracts the mean feature vector, as `extractFeatures` does, and keeps each slice's class
 * tokens, so that the heads' logits can be split into one share per slice.
 */
export async function extractSliceFeatures(image: NdArray<TypedArray>, runVit: RunVit, batchSize = DEFAULT_VIT_BATCH): Promise<SliceFeatures> {
  const depth = image.shape[2];
  if (depth === 0) {
    throw new RangeError('no slice to extract features from');
  }

  const averages: Float32Array[] = [];
  let sliceTokens: Float32Array | undefined;
  for (const [flipIndex, flip] of [false, true].entries()) {
    let sum: Float64Array | undefined;
    for (let start = 0; start < depth; start += batchSize) {
      const count = Math.min(batchSize, depth - start);
      const tokens = await runVit(vitInput(image, start, count, flip), count);
      const dimension = tokens.length / count;
      sum ??= new Float64Array(dimension);
      sliceTokens ??= new Float32Array(2 * depth * dimension);
      sliceTokens.set(tokens, (flipIndex * depth + start) * dimension);
      for (let n = 0; n < count; n++) {
        for (let d = 0; d < dimension; d++) sum[d] += tokens[n * dimension + d];
      }
    }
    averages.push(Float32Array.from(sum!, (value) => value / depth));
  }

  return {
    mean: Float32Array.from(averages[0], (value, d) => (value + averages[1][d]) / 2),
    tokens: { data: sliceTokens!, shape: [2, depth, averages[0].length] },
  };
}
