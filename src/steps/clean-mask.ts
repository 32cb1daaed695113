/**
 * Step 5: removes spurious parts of the lung mask and makes it boolean (either lung).
 */
import { label, percentile } from '../ndimage.js';
import { type NdArray, type TypedArray, allocateLike } from '../volume.js';

/** A 2D component is removed when this percentile of its HU values ... */
export const COMPONENT_PERCENTILE = 5;
/** ... is above this value, in HU: too dense to be aerated lung. */
export const COMPONENT_MAX_HU = -100;

const LUNG_LABELS = [1, 2] as const;

/**
 * Keeps, for label 1 and for label 2, only the largest 3D connected component (full
 * connectivity; the lowest-numbered one among equal sizes, as a stable sort by size gives), then
 * drops every 2D component (full connectivity) of each axial slice whose 5th HU percentile is
 * above -100. Both arrays are (H, W, Z); the result is a 0/1 mask.
 */
export function cleanMask(labels: NdArray<Uint8Array>, image: NdArray<TypedArray>): NdArray<Uint8Array> {
  const [height, width, depth] = labels.shape;
  const clean = largestComponentPerLabel(labels);

  // The 2D pass works on contiguous slices, so both arrays go to the (Z, H, W) order and back.
  const plane = height * width;
  const cleanSlices = toSliceMajor(clean, plane, depth);
  const imageSlices = toSliceMajor(image.data, plane, depth);
  for (let z = 0; z < depth; z++) {
    dropDenseComponents(cleanSlices.subarray(z * plane, (z + 1) * plane), imageSlices.subarray(z * plane, (z + 1) * plane), height, width);
  }
  for (let p = 0, i = 0; p < plane; p++) {
    for (let z = 0; z < depth; z++, i++) clean[i] = cleanSlices[z * plane + p];
  }

  return { data: clean, shape: [height, width, depth] };
}

/**
 * Returns a 0/1 mask of the largest 3D region of each lung label. One labelling of the label
 * image gives the same regions as labelling each label's mask on its own, numbered in the same
 * relative order, because regions of equal values are numbered by their first voxel either way.
 */
function largestComponentPerLabel(labels: NdArray<Uint8Array>): Uint8Array {
  const lungOnly = new Uint8Array(labels.data.length);
  for (let i = 0; i < lungOnly.length; i++) {
    const value = labels.data[i];
    if (value === LUNG_LABELS[0] || value === LUNG_LABELS[1]) lungOnly[i] = value;
  }
  const labelling = label({ data: lungOnly, shape: [...labels.shape] }, 3);
  const regions = labelling.labels.data;

  const area = new Float64Array(labelling.count + 1);
  const valueOfRegion = new Uint8Array(labelling.count + 1);
  for (let i = 0; i < regions.length; i++) {
    area[regions[i]] += 1;
    valueOfRegion[regions[i]] = lungOnly[i];
  }
  const largestOf = new Int32Array(LUNG_LABELS[1] + 1);
  for (let region = 1; region <= labelling.count; region++) {
    const value = valueOfRegion[region];
    if (largestOf[value] === 0 || area[region] > area[largestOf[value]]) largestOf[value] = region;
  }

  const clean = new Uint8Array(regions.length);
  for (let i = 0; i < regions.length; i++) {
    const region = regions[i];
    if (region !== 0 && largestOf[lungOnly[i]] === region) clean[i] = 1;
  }
  return clean;
}

/** Copies an (H, W, Z) array, `plane` = H × W elements per slice, to (Z, H, W) order. */
function toSliceMajor<T extends TypedArray>(data: T, plane: number, depth: number): T {
  const slices = allocateLike(data, data.length);
  for (let p = 0, i = 0; p < plane; p++) {
    for (let z = 0; z < depth; z++, i++) slices[z * plane + p] = data[i];
  }
  return slices;
}

/**
 * Clears, in one (H, W) slice of the mask, each 8-connected component whose 5th HU percentile
 * in `hu` is above `COMPONENT_MAX_HU`.
 */
function dropDenseComponents(mask: Uint8Array, hu: TypedArray, height: number, width: number): void {
  const labelling = label({ data: mask, shape: [height, width] }, 2);
  if (labelling.count === 0) return;
  const regions = labelling.labels.data;

  // The HU values of each component, grouped in one buffer in the order of their pixels.
  const start = new Int32Array(labelling.count + 2);
  for (let p = 0; p < regions.length; p++) start[regions[p] + 1] += 1;
  start[0] = 0;
  start[1] = 0;
  for (let region = 2; region <= labelling.count + 1; region++) start[region] += start[region - 1];
  const values = new Float64Array(start[labelling.count + 1]);
  const next = start.slice(0, labelling.count + 1);
  for (let p = 0; p < regions.length; p++) {
    if (regions[p] !== 0) values[next[regions[p]]++] = hu[p];
  }

  const tooDense = new Uint8Array(labelling.count + 1);
  for (let region = 1; region <= labelling.count; region++) {
    const componentValues = values.subarray(start[region], start[region + 1]);
    tooDense[region] = percentile(componentValues, COMPONENT_PERCENTILE) > COMPONENT_MAX_HU ? 1 : 0;
  }
  for (let p = 0; p < regions.length; p++) {
    if (tooDense[regions[p]]) mask[p] = 0;
  }
}
