/**
 * After step 11: splits each head's logit into an offset and one share per kept slice.
 *
 * A head is a logistic regression on the slice-averaged features, so its logit is
 * `offset + mean over z of coef · f_z`, with `f_z` the class token of slice z averaged over the
 * two flips. The share of slice z is `(coef · f_z) / Z`, and the shares sum to the logit.
 */
import type { Geometry, NdArray } from '../volume.js';
import { HEAD_NAMES, type HeadName, type HeadWeights } from './heads.js';

/** Position of a kept slice. */
export interface SlicePosition {
  /** Index of the slice on the resampled 1.5 × 1.5 × 5 mm grid: the z of the resampled volume and of the (H, W, Z) arrays. */
  resampledSlice: number;
  /**
   * Physical z of the slice centre, in mm, in the input image's physical (world) coordinates.
   * For an axis-aligned input that is not stored in the identity direction, the reorientation moves
   * voxels without moving them in space, so this is still the input's world z.
   */
  zMm: number;
}

/** Share of one slice in a head's logit. */
export interface SliceContribution extends SlicePosition {
  /** `(coef · f_z) / Z`, plus an equal share of the head's `rounding`. */
  contribution: number;
}

/** One head's logit, split into its parts. */
export interface HeadExplanation {
  /** Part of the logit that does not depend on the image: the intercept, plus the age and sex terms for the severity heads. */
  offset: number;
  /** The head's logit, `offset + Σ contribution`. */
  logit: number;
  /**
   * Float32 rounding of the mean feature vector: `logit − offset − Σ (coef · f_z) / Z`, with `f_z` in
   * float64. It is already shared equally among the slices' contributions.
   */
  rounding: number;
  /** Kept slices, in the order of the resampled grid. */
  slices: SliceContribution[];
}

export type Explanation = Record<HeadName, HeadExplanation>;

/** Class tokens of the kept slices, shape (2, Z, D) as `extractSliceFeatures` returns them, for each feature extractor. */
export interface SliceTokens {
  full: NdArray<Float32Array>;
  lung: NdArray<Float32Array>;
}

/**
 * Places the kept slices `[start, end)` of the (H, W, Z) arrays on the resampled grid and in space.
 * Step 4 keeps the resampled z axis as it is, and steps 5 to 7 do not move slices, so kept slice k
 * is resampled slice `start + k`. Its centre is the physical point of the continuous index
 * `((X − 1) / 2, (Y − 1) / 2, start + k)`.
 *
 * NOTE: an oblique input is resampled as if its direction were the nearest axis-aligned one, so
 * `zMm` then ignores the tilt: it is the world z of the voxel that reorientation puts first, plus
 * 5 mm per slice.
 */
export function slicePositions(resampled: Geometry, sliceRange: readonly [number, number]): SlicePosition[] {
  const [start, end] = sliceRange;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= resampled.size[2])) {
    throw new RangeError(`invalid slice range [${start}, ${end}) for a grid of ${resampled.size[2]} slices`);
  }
  const centre = [(resampled.size[0] - 1) / 2, (resampled.size[1] - 1) / 2];
  const zRow = 6;
  const inPlane =
    resampled.direction[zRow] * resampled.spacing[0] * centre[0] + resampled.direction[zRow + 1] * resampled.spacing[1] * centre[1];

  const positions: SlicePosition[] = [];
  for (let slice = start; slice < end; slice++) {
    const zMm = resampled.origin[2] + inPlane + resampled.direction[zRow + 2] * resampled.spacing[2] * slice;
    positions.push({ resampledSlice: slice, zMm });
  }
  return positions;
}

/**
 * Explains the heads' logits as `applyHeads` computed them: for each head, its offset and one
 * contribution per kept slice, such that `offset + Σ contribution = logit` to float64 rounding.
 * The contributions come from the per-slice tokens in float64. They would sum to the logit of the
 * float64 mean features, whereas the heads use the float32 mean. That small difference (about 1e-7
 * of the logit) is reported as `rounding` and shared equally among the slices.
 */
export function explainHeads(
  weights: HeadWeights,
  tokens: SliceTokens,
  logits: Record<HeadName, number>,
  age: number,
  sex: number,
  positions: readonly SlicePosition[],
): Explanation {
  const explanation = {} as Explanation;
  for (const name of HEAD_NAMES) {
    const headTokens = name.startsWith('full') ? tokens.full : tokens.lung;
    const [flips, depth, dimension] = headTokens.shape;
    if (flips !== 2 || dimension !== weights.features) {
      throw new RangeError(`head ${name} expects tokens of shape (2, Z, ${weights.features}), got (${headTokens.shape.join(', ')})`);
    }
    if (depth !== positions.length) {
      throw new RangeError(`head ${name}: ${depth} slices of tokens for ${positions.length} slice positions`);
    }

    const { coef, intercept } = weights.heads[name];
    let offset = intercept;
    if (name.endsWith('severe')) {
      offset += age * coef[dimension] + sex * coef[dimension + 1];
    }

    const shares = new Float64Array(depth);
    let sharesSum = 0;
    for (let z = 0; z < depth; z++) {
      const stored = z * dimension;
      const flipped = (depth + z) * dimension;
      let dot = 0;
      for (let d = 0; d < dimension; d++) {
        dot += coef[d] * ((headTokens.data[stored + d] + headTokens.data[flipped + d]) / 2);
      }
      shares[z] = dot / depth;
      sharesSum += shares[z];
    }

    const logit = logits[name];
    const rounding = logit - offset - sharesSum;
    const slices = positions.map((position, z) => ({ ...position, contribution: shares[z] + rounding / depth }));
    explanation[name] = { offset, logit, rounding, slices };
  }
  return explanation;
}
