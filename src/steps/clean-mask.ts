/**
 * Step 5: removes spurious parts of the lung mask and makes it boolean (either lung).
 */
import { label, percentile, regionProperties } from '../ndimage.js';
import { type NdArray, type TypedArray } from '../volume.js';

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
  const clean = new Uint8Array(labels.data.length);

  for (const lungLabel of LUNG_LABELS) {
    const mask = Uint8Array.from(labels.data, (value) => (value === lungLabel ? 1 : 0));
    const labelling = label({ data: mask, shape: [...labels.shape] }, 3);
    if (labelling.count === 0) continue;
    const { area } = regionProperties(labelling);
    let largest = 0;
    for (let r = 1; r < area.length; r++) {
      if (area[r] > area[largest]) largest = r;
    }
    const regions = labelling.labels.data;
    for (let i = 0; i < regions.length; i++) {
      if (regions[i] === largest + 1) clean[i] = 1;
    }
  }

  const plane = height * width;
  const slice = new Uint8Array(plane);
  for (let z = 0; z < depth; z++) {
    for (let p = 0; p < plane; p++) slice[p] = clean[p * depth + z];
    const labelling = label({ data: slice, shape: [height, width] }, 2);
    if (labelling.count === 0) continue;

    const values: number[][] = Array.from({ length: labelling.count }, () => []);
    const regions = labelling.labels.data;
    for (let p = 0; p < plane; p++) {
      if (regions[p] !== 0) values[regions[p] - 1].push(image.data[p * depth + z]);
    }
    const tooDense = values.map((hu) => percentile(hu, COMPONENT_PERCENTILE) > COMPONENT_MAX_HU);
    for (let p = 0; p < plane; p++) {
      if (regions[p] !== 0 && tooDense[regions[p] - 1]) clean[p * depth + z] = 0;
    }
  }

  return { data: clean, shape: [height, width, depth] };
}
