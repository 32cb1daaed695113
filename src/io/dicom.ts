/**
 * Reading a CT scan from a folder of DICOM slices: the only module that imports @itk-wasm/dicom.
 *
 * itk-wasm's series reader supplies the voxels, and this module computes the geometry (spacing,
 * origin, direction) from each slice's ImagePositionPatient and ImageOrientationPatient. The
 * reader's own geometry cannot be trusted: @itk-wasm/dicom 7.6.4, given a series in top-down order
 * with singleSortedSeries, returns the top slice's origin with a +z direction, upside down.
 */
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import { readDicomTagsNode, readImageDicomFileSeriesNode } from '@itk-wasm/dicom';

import { log } from '../log.js';
import type { ComponentType, Vec3, Volume } from '../volume.js';

const TAGS = {
  modality: '0008|0060',
  seriesDescription: '0008|103e',
  patientSex: '0010|0040',
  patientAge: '0010|1010',
  seriesInstanceUid: '0020|000e',
  seriesNumber: '0020|0011',
  imagePositionPatient: '0020|0032',
  imageOrientationPatient: '0020|0037',
  rows: '0028|0010',
  columns: '0028|0011',
  pixelSpacing: '0028|0030',
} as const;

/** Offset of the `DICM` magic in a DICOM Part 10 file, after the 128-byte preamble. */
const DICM_OFFSET = 128;
/** Two direction cosines closer than this count as the same orientation. */
const ORIENTATION_TOLERANCE = 1e-4;
/** Slices closer than this along the slice normal, in mm, are at the same position. */
const SAME_POSITION_MM = 1e-3;
/**
 * Largest deviation of a slice gap from the mean gap, in mm or as a fraction of the mean gap
 * (whichever is larger), for the slices to count as evenly spaced.
 */
const GAP_TOLERANCE_MM = 0.01;
const GAP_TOLERANCE_FRACTION = 0.01;
/** Largest in-plane drift of the slice positions across the whole series, in mm, read without a warning. */
const SHEAR_TOLERANCE_MM = 0.5;

interface Slice {
  file: string;
  tags: Map<string, string>;
  position: Vec3;
  rowDirection: Vec3;
  columnDirection: Vec3;
  rows: number;
  columns: number;
}

/** Slices that share a series UID, an orientation and a slice size: one candidate volume. */
interface SeriesGroup {
  uid: string;
  description: string;
  slices: Slice[];
}

/** Checks whether a file is DICOM: the `DICM` magic after the preamble, or a `.dcm` name. */
export async function isDicomFile(file: string): Promise<boolean> {
  if (file.toLowerCase().endsWith('.dcm')) {
    return true;
  }
  let handle;
  try {
    handle = await open(file, 'r');
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, DICM_OFFSET);
    return bytesRead === 4 && magic.toString('latin1') === 'DICM';
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

/** Lists the DICOM files directly in a folder (not in its subfolders), sorted by name. */
export async function listDicomFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const file = path.join(dir, entry.name);
    const isFile = entry.isFile() || (entry.isSymbolicLink() && (await stat(file).catch(() => undefined))?.isFile());
    if (isFile && (await isDicomFile(file))) {
      files.push(file);
    }
  }
  return files;
}

/**
 * Reads the DICOM series in a folder as one volume. With several series, the one with the most
 * voxels is read, and the choice is logged. `PatientAge` and `PatientSex` of the series' first
 * file by name go into the metadata under those names.
 */
export async function readDicomSeries(dir: string): Promise<Volume> {
  const files = await listDicomFiles(dir);
  if (files.length === 0) {
    throw new Error(`${dir}: no DICOM file found (expected the .dcm slices of one CT series, or an image file such as .mha)`);
  }

  // NOTE: readDicomTagsNode decompresses and compiles its WebAssembly module on every call
  // (itk-wasm 1.0.0-b.201), about 50 ms per file on a 2-core machine: a 500-slice series spends
  // about 25 s here. Calls made in parallel were no faster, since they share one thread.
  const slices: Slice[] = [];
  const skipped: string[] = [];
  for (const file of files) {
    const slice = await readSliceTags(file);
    if (typeof slice === 'string') {
      skipped.push(`${path.basename(file)} (${slice})`);
    } else {
      slices.push(slice);
    }
  }
  if (skipped.length > 0) {
    const examples = skipped.slice(0, 3).join(', ');
    log.warn(`${dir}: ${skipped.length} DICOM file(s) skipped because they are not image slices: ${examples}${skipped.length > 3 ? ', ...' : ''}`);
  }
  if (slices.length === 0) {
    throw new Error(`${dir}: none of the ${files.length} DICOM file(s) is an image slice with ImagePositionPatient and ImageOrientationPatient`);
  }

  const series = chooseSeries(groupSeries(slices), dir);
  const volume = await readSeriesVoxels(series, dir);
  const metadata = new Map<string, string>();
  const first = series.slices[0].tags;
  for (const [name, tag] of [['PatientAge', TAGS.patientAge], ['PatientSex', TAGS.patientSex]] as const) {
    const value = first.get(tag);
    if (value !== undefined) metadata.set(name, value);
  }
  const modality = first.get(TAGS.modality)?.trim();
  if (modality !== undefined && modality !== '' && modality !== 'CT') {
    log.warn(`${dir}: Modality is ${modality}, but the model was trained on CT scans only`);
  }
  return { ...volume, metadata };
}

/** Reads the tags of one file; returns why the file is not an image slice, as a string, if it is not. */
async function readSliceTags(file: string): Promise<Slice | string> {
  let tags: Map<string, string>;
  try {
    const result = await readDicomTagsNode(path.resolve(file), { tagsToRead: { tags: Object.values(TAGS) } });
    tags = new Map(result.tags);
  } catch (error) {
    return `unreadable: ${error instanceof Error ? error.message.trim() : String(error)}`;
  }
  const position = parseNumbers(tags.get(TAGS.imagePositionPatient), 3);
  const orientation = parseNumbers(tags.get(TAGS.imageOrientationPatient), 6);
  const rows = Number(tags.get(TAGS.rows));
  const columns = Number(tags.get(TAGS.columns));
  if (position === undefined) return 'no ImagePositionPatient';
  if (orientation === undefined) return 'no ImageOrientationPatient';
  if (Math.hypot(...orientation.slice(0, 3)) < 0.5 || Math.hypot(...orientation.slice(3, 6)) < 0.5) {
    return `invalid ImageOrientationPatient ${orientation.join('\\')}`;
  }
  if (!(rows > 0 && columns > 0)) return 'no Rows or Columns';
  return {
    file,
    tags,
    position: position as Vec3,
    rowDirection: normalize(orientation.slice(0, 3) as Vec3),
    columnDirection: normalize(orientation.slice(3, 6) as Vec3),
    rows,
    columns,
  };
}

function groupSeries(slices: Slice[]): SeriesGroup[] {
  const groups: SeriesGroup[] = [];
  for (const slice of slices) {
    const uid = slice.tags.get(TAGS.seriesInstanceUid)?.trim() ?? '';
    const group = groups.find(({ uid: groupUid, slices: [other] }) =>
      groupUid === uid && other.rows === slice.rows && other.columns === slice.columns
      && sameDirection(other.rowDirection, slice.rowDirection) && sameDirection(other.columnDirection, slice.columnDirection));
    if (group === undefined) {
      const number = slice.tags.get(TAGS.seriesNumber)?.trim();
      const description = slice.tags.get(TAGS.seriesDescription)?.trim();
      groups.push({ uid, description: [number && `series ${number}`, description && `"${description}"`].filter(Boolean).join(' ') || `series ${uid || '(no UID)'}`, slices: [slice] });
    } else {
      group.slices.push(slice);
    }
  }
  return groups;
}

function voxelCount({ slices }: SeriesGroup): number {
  return slices.length * slices[0].rows * slices[0].columns;
}

/** Picks the series with the most voxels; ties go to the one whose first file sorts first. */
function chooseSeries(groups: SeriesGroup[], dir: string): SeriesGroup {
  const ranked = [...groups].sort((a, b) => voxelCount(b) - voxelCount(a));
  const [chosen, ...others] = ranked;
  if (others.length > 0) {
    const describe = (group: SeriesGroup) => `${group.description}, ${group.slices.length} slice(s) of ${group.slices[0].columns} × ${group.slices[0].rows}`;
    log.info(`${dir}: ${groups.length} series found; reading the largest, ${describe(chosen)}; skipped: ${others.map(describe).join('; ')}`);
  }
  return chosen;
}

/** Sorts the slices along their normal, checks that they are evenly spaced and reads the voxels. */
async function readSeriesVoxels(series: SeriesGroup, dir: string): Promise<Omit<Volume, 'metadata'>> {
  const { rowDirection, columnDirection, rows, columns } = series.slices[0];
  const normal = normalize(cross(rowDirection, columnDirection));
  const sorted = series.slices
    .map((slice) => ({ slice, distance: dot(slice.position, normal) }))
    .sort((a, b) => a.distance - b.distance);
  const name = (index: number) => path.basename(sorted[index].slice.file);

  if (sorted.length < 2) {
    throw new Error(`${dir}: ${series.description} has a single slice, but a CT scan needs at least two (multi-frame DICOM files are not supported)`);
  }
  const gaps = sorted.slice(1).map(({ distance }, index) => distance - sorted[index].distance);
  const duplicate = gaps.findIndex((gap) => gap < SAME_POSITION_MM);
  if (duplicate >= 0) {
    throw new Error(`${dir}: ${name(duplicate)} and ${name(duplicate + 1)} are at the same position in ${series.description}. Put each acquisition of the series in its own folder`);
  }
  const zSpacing = (sorted[sorted.length - 1].distance - sorted[0].distance) / gaps.length;
  const tolerance = Math.max(GAP_TOLERANCE_MM, GAP_TOLERANCE_FRACTION * zSpacing);
  const deviations = gaps.map((gap) => Math.abs(gap - zSpacing));
  const uneven = deviations.indexOf(Math.max(...deviations));
  if (deviations[uneven] > tolerance) {
    throw new Error(`${dir}: slices are not evenly spaced in ${series.description}: ${name(uneven)} and ${name(uneven + 1)} are ${gaps[uneven].toFixed(3)} mm apart, the mean gap is ${zSpacing.toFixed(3)} mm (missing slices?)`);
  }

  // Slices of a gantry-tilted acquisition move within their own plane as well as along the normal.
  const first = sorted[0].slice.position;
  const last = sorted[sorted.length - 1].slice.position;
  const alongNormal = sorted[sorted.length - 1].distance - sorted[0].distance;
  const shear = Math.hypot(...[0, 1, 2].map((axis) => last[axis] - first[axis] - alongNormal * normal[axis]));
  if (shear > SHEAR_TOLERANCE_MM) {
    log.warn(`${dir}: slice positions drift ${shear.toFixed(2)} mm across the slice plane (gantry tilt?). The scan is read as if the slices were stacked straight`);
  }

  const pixelSpacing = parseNumbers(sorted[0].slice.tags.get(TAGS.pixelSpacing), 2);
  if (pixelSpacing === undefined || !pixelSpacing.every((value) => value > 0)) {
    throw new Error(`${dir}: ${name(0)} has no valid PixelSpacing (0028,0030)`);
  }

  // singleSortedSeries keeps the order given here, so slice k of the data is sorted[k].
  const sortedFiles = sorted.map(({ slice }) => path.resolve(slice.file));
  let image;
  try {
    ({ outputImage: image } = await readImageDicomFileSeriesNode({ inputImages: sortedFiles, singleSortedSeries: true }));
  } catch (error) {
    throw new Error(`${dir}: the DICOM series cannot be read (${error instanceof Error ? error.message.trim() : String(error)})`);
  }
  const { componentType, pixelType, components } = image.imageType;
  if (pixelType !== 'Scalar' || components !== 1) {
    throw new TypeError(`${dir}: pixels are ${pixelType} with ${components} components; a CT scan has scalar pixels`);
  }
  const expectedSize = [columns, rows, sorted.length];
  if (image.data === null || image.size.some((length, axis) => length !== expectedSize[axis])) {
    throw new Error(`${dir}: the series reader returned an image of size ${image.size.join(' × ')}, expected ${expectedSize.join(' × ')}`);
  }

  // PixelSpacing is (row spacing, column spacing): the gap between rows is the spacing along y.
  const direction = [0, 1, 2].flatMap((axis) => [rowDirection[axis], columnDirection[axis], normal[axis]]);
  return {
    data: image.data as Volume['data'],
    componentType: componentType as ComponentType,
    size: expectedSize as Vec3,
    spacing: [pixelSpacing[1], pixelSpacing[0], zSpacing],
    origin: [...first] as Vec3,
    direction,
  };
}

/** Parses a backslash-separated DICOM decimal string of `count` finite numbers. */
function parseNumbers(text: string | undefined, count: number): number[] | undefined {
  if (text === undefined) return undefined;
  const values = text.split('\\').map((part) => (part.trim() === '' ? Number.NaN : Number(part)));
  return values.length === count && values.every(Number.isFinite) ? values : undefined;
}

function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function normalize(vector: Vec3): Vec3 {
  const length = Math.hypot(...vector);
  return length === 0 ? vector : (vector.map((value) => value / length) as Vec3);
}

function sameDirection(a: Vec3, b: Vec3): boolean {
  return a.every((value, axis) => Math.abs(value - b[axis]) < ORIENTATION_TOLERANCE);
}
