/**
 * Descriptive lung measures: the volume of each lung and the fractions of lung volume in two HU
 * ranges. The model does not use them, and they do not change its probabilities.
 */
import type { NdArray, TypedArray } from '../volume.js';

/**
 * Well-aerated lung, in HU, bounds included: a range used in quantitative CT studies of COVID-19.
 * NOTE: the original publication of this range and the next one was not checked here.
 */
export const WELL_AERATED_HU: readonly [number, number] = [-950, -700];
/** Compromised (poorly and non-aerated) lung, in HU, bounds included, from the same studies. */
export const COMPROMISED_HU: readonly [number, number] = [-500, 100];
/** lungmask label of the right lung. */
export const RIGHT_LUNG_LABEL = 1;
/** lungmask label of the left lung. */
export const LEFT_LUNG_LABEL = 2;
/** Label written next to the measures wherever they are output. */
export const LUNG_MEASURES_NOTE = 'descriptive, not used by the model';

const MM3_PER_ML = 1000;

/** Lung volumes and HU-range fractions of one scan. */
export interface LungMeasures {
  /** Volume of the right lung (lungmask label 1), in mL. */
  rightMl: number;
  /** Volume of the left lung (lungmask label 2), in mL. */
  leftMl: number;
  /** `rightMl + leftMl`. */
  totalMl: number;
  /** Fraction of the lung volume in `WELL_AERATED_HU`, in [0, 1]. */
  wellAeratedFraction: number;
  /** Fraction of the lung volume in `COMPROMISED_HU`, in [0, 1]. */
  compromisedFraction: number;
  note: typeof LUNG_MEASURES_NOTE;
}

/**
 * Measures the lungs on the resampled grid. A voxel counts as right or left lung when `mask` is
 * set there and `labels` has that lung's label, so the measures follow the cleaned mask that the
 * model crops with, split by lungmask's labels. `image` contains HU values. All three arrays share
 * one shape, and each voxel has a volume of `voxelVolumeMm3`. Throws a RangeError when no voxel is
 * lung, because the fractions are undefined then.
 */
export function measureLungs(image: NdArray<TypedArray>, labels: NdArray<Uint8Array>, mask: NdArray<Uint8Array>, voxelVolumeMm3: number): LungMeasures {
  for (const [name, array] of [['labels', labels], ['mask', mask]] as const) {
    if (array.shape.length !== image.shape.length || array.shape.some((length, axis) => length !== image.shape[axis])) {
      throw new RangeError(`${name} of shape (${array.shape.join(', ')}) does not match the image's (${image.shape.join(', ')})`);
    }
  }
  if (!(voxelVolumeMm3 > 0) || !Number.isFinite(voxelVolumeMm3)) {
    throw new RangeError(`invalid voxel volume ${voxelVolumeMm3} mm³: expected a positive number`);
  }

  let right = 0;
  let left = 0;
  let wellAerated = 0;
  let compromised = 0;
  for (let i = 0; i < image.data.length; i++) {
    if (mask.data[i] === 0) continue;
    const label = labels.data[i];
    if (label === RIGHT_LUNG_LABEL) right++;
    else if (label === LEFT_LUNG_LABEL) left++;
    else continue;
    const hu = image.data[i];
    if (hu >= WELL_AERATED_HU[0] && hu <= WELL_AERATED_HU[1]) wellAerated++;
    if (hu >= COMPROMISED_HU[0] && hu <= COMPROMISED_HU[1]) compromised++;
  }

  const lungVoxels = right + left;
  if (lungVoxels === 0) {
    throw new RangeError('no lung voxel to measure: the mask contains no voxel labelled as right or left lung');
  }
  const millilitres = (count: number) => (count * voxelVolumeMm3) / MM3_PER_ML;
  return {
    rightMl: millilitres(right),
    leftMl: millilitres(left),
    totalMl: millilitres(lungVoxels),
    wellAeratedFraction: wellAerated / lungVoxels,
    compromisedFraction: compromised / lungVoxels,
    note: LUNG_MEASURES_NOTE,
  };
}
