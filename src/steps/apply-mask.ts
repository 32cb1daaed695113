/**
 * Step 9: sets every voxel outside the lung mask to air, for the lung feature extractor.
 */
import { type NdArray, type TypedArray } from '../volume.js';

/** Value given to voxels outside the lungs, in HU. */
export const OUTSIDE_LUNG_HU = -1024;

export function applyMask<T extends TypedArray>(image: NdArray<T>, mask: NdArray<Uint8Array>): NdArray<T> {
  const data = image.data.slice() as T;
  for (let i = 0; i < data.length; i++) {
    if (mask.data[i] === 0) data[i] = OUTSIDE_LUNG_HU;
  }
  return { data, shape: [...image.shape] };
}
