/**
 * Before step 1: checks that a volume can be scored, its geometry and its intensities, and
 * replaces non-finite voxels with air. Every error names the scan, the value and the fix.
 */
import { log } from '../log.js';
import type { Volume } from '../volume.js';
import { findReorientation } from './reorient.js';
import { TARGET_SPACING_MM } from './resample.js';

/** HU given to NaN and infinite voxels: air, the lowest value that the networks see. */
export const AIR_HU = -1024;
/**
 * Minimum number of axial slices on the 5 mm grid for a scan to be scored: step 7 keeps slices
 * [first, last) of the lungs and then drops 10 % at each end, which leaves none below three.
 */
export const MIN_RESAMPLED_SLICES = 3;
/** Largest deviation of the direction matrix's columns from unit length and orthogonality. */
const ORTHONORMAL_TOLERANCE = 1e-3;

const INTEGER_TYPES = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32']);

function formatVector(values: readonly number[]): string {
  return `[${values.map((value) => String(value ?? NaN)).join(', ')}]`;
}

/** Throws when the size, spacing, origin or direction of a volume cannot place it in space. */
export function checkGeometry(volume: Volume, source = 'scan'): void {
  const { size, spacing, origin, direction } = volume;
  if (size.length !== 3 || size.some((length) => !Number.isInteger(length) || length < 1)) {
    throw new RangeError(`${source}: invalid size ${formatVector(size)}: expected 3 positive voxel counts`);
  }
  const voxels = size[0] * size[1] * size[2];
  if (volume.data.length !== voxels) {
    throw new RangeError(`${source}: ${volume.data.length} voxels of data for a size of ${size.join(' × ')} (${voxels} voxels)`);
  }
  if (spacing.length !== 3 || spacing.some((value) => !Number.isFinite(value) || value === 0)) {
    throw new RangeError(
      `${source}: invalid spacing ${formatVector(spacing)} mm: every spacing must be a positive number of mm. ` +
        'Fix ElementSpacing (MetaImage), pixdim (NIfTI) or "space directions" (NRRD) in the header.',
    );
  }
  if (spacing.some((value) => value < 0)) {
    throw new RangeError(
      `${source}: negative spacing ${formatVector(spacing)} mm is not supported: write each spacing as its absolute value ` +
        'and negate the matching column of the direction matrix (TransformMatrix of a MetaImage) instead.',
    );
  }
  if (origin.length !== 3 || origin.some((value) => !Number.isFinite(value))) {
    throw new RangeError(`${source}: invalid origin ${formatVector(origin)} mm: expected 3 finite numbers`);
  }
  if (direction.length !== 9 || direction.some((value) => !Number.isFinite(value))) {
    throw new RangeError(`${source}: invalid direction matrix ${formatVector(direction)}: expected 9 finite numbers`);
  }
  for (let a = 0; a < 3; a++) {
    for (let b = a; b < 3; b++) {
      let dot = 0;
      for (let row = 0; row < 3; row++) dot += direction[3 * row + a] * direction[3 * row + b];
      if (Math.abs(dot - (a === b ? 1 : 0)) > ORTHONORMAL_TOLERANCE) {
        throw new RangeError(
          `${source}: direction matrix ${formatVector(direction)} is not orthonormal (columns ${a} and ${b} have dot product ${dot.toFixed(4)}); ` +
            'a scan direction is a rotation, possibly with axes flipped. Fix TransformMatrix (MetaImage) or the orientation of the header.',
        );
      }
    }
  }
}

/** Throws when a scan is too thin along the body axis to keep any slice in step 7. */
export function checkExtent(volume: Volume, source = 'scan'): void {
  // The axis that reorientation turns into z, in the scan's own axis order.
  const zAxis = findReorientation(volume.direction, source).axisOf[2];
  const { size, spacing } = volume;
  const extent = size[zAxis] * spacing[zAxis];
  // The same float64 arithmetic as resampledSize, so that the check and step 2 agree.
  const resampledSlices = Math.trunc(extent / TARGET_SPACING_MM[2]);
  if (resampledSlices < MIN_RESAMPLED_SLICES) {
    throw new RangeError(
      `${source}: the scan covers ${extent.toFixed(1)} mm along the body axis (${size[zAxis]} slice(s) of ${spacing[zAxis]} mm), ` +
        `${resampledSlices} slice(s) on the ${TARGET_SPACING_MM[2]} mm grid; scoring needs at least ${MIN_RESAMPLED_SLICES * TARGET_SPACING_MM[2]} mm ` +
        `(${MIN_RESAMPLED_SLICES} slices). A single slice or a thin slab cannot be scored: pass the whole chest CT series.`,
    );
  }
}

/**
 * Checks that the voxels are Hounsfield units: NaN and infinite voxels become air with a warning,
 * and a scan with no voxel below 0 is rejected, because a chest CT in HU has air at about -1000.
 * Returns the volume, copied only when voxels were replaced.
 */
export function checkIntensities(volume: Volume, source = 'scan'): Volume {
  const { data } = volume;
  let min = Infinity;
  let max = -Infinity;
  let nonFinite = 0;
  if (INTEGER_TYPES.has(volume.componentType)) {
    for (let i = 0; i < data.length; i++) {
      const value = data[i];
      if (value < min) min = value;
      if (value > max) max = value;
    }
  } else {
    for (let i = 0; i < data.length; i++) {
      const value = data[i];
      if (!Number.isFinite(value)) {
        nonFinite++;
        continue;
      }
      if (value < min) min = value;
      if (value > max) max = value;
    }
  }

  if (nonFinite === data.length) {
    throw new RangeError(`${source}: every voxel is NaN or infinite, so the scan contains no image data`);
  }
  let checked = volume;
  if (nonFinite > 0) {
    const copy = data.slice();
    for (let i = 0; i < copy.length; i++) {
      if (!Number.isFinite(copy[i])) copy[i] = AIR_HU;
    }
    checked = { ...volume, data: copy };
    min = Math.min(min, AIR_HU);
    const percent = ((100 * nonFinite) / data.length).toPrecision(2);
    log.warn(`${source}: ${nonFinite} voxel(s) (${percent} %) are NaN or infinite; they are scored as air (${AIR_HU} HU)`);
  }

  if (min >= 0) {
    throw new RangeError(
      `${source}: not in Hounsfield units: voxel values range from ${min} to ${max} (${volume.componentType}), with none below 0, ` +
        'but a chest CT in HU has air at about -1000 around the body and in the lungs. These look like stored DICOM values without ' +
        'the rescale: convert them with HU = value × RescaleSlope + RescaleIntercept (RescaleIntercept is usually -1024) into a signed type such as int16.',
    );
  }
  return checked;
}

/** Runs every check of this module; returns the volume to score. */
export function checkScan(volume: Volume, source = 'scan'): Volume {
  checkGeometry(volume, source);
  checkExtent(volume, source);
  return checkIntensities(volume, source);
}
