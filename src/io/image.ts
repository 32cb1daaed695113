/**
 * Reading and writing images: the only module that imports @itk-wasm/image-io. Folders of DICOM
 * slices are read by dicom.ts.
 */
import path from 'node:path';

import { readImageNode, writeImageNode } from '@itk-wasm/image-io';
import fs from 'fs-extra';

import { log } from '../log.js';
import type { ComponentType, Vec3, Volume } from '../volume.js';
import { captureConsole, checkImageFile, describeReaderFailure, readerMessages } from './check-image-file.js';
import { isDicomFile, readDicomSeries } from './dicom.js';
import { type MetaImageHeader, readMetaImageHeader } from './metaimage-header.js';
import { isPlainMetaImage, readMetaImage } from './metaimage.js';

/** File name endings the product reads as images. */
export const IMAGE_EXTENSIONS = ['.mha', '.mhd', '.nii', '.nii.gz', '.nrrd'] as const;

const COMPONENT_TYPES: ComponentType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'];

export function hasImageExtension(fileName: string): boolean {
  const lower = fileName.toLowerCase();
  return IMAGE_EXTENSIONS.some((extension) => lower.endsWith(extension));
}

/**
 * Returns the header of a MetaImage file that `readMetaImage` reads without itk-wasm, or undefined
 * for any other file. That includes a MetaImage whose header is invalid, so that itk-wasm's path
 * reports it.
 */
export async function plainMetaImageHeader(filePath: string): Promise<MetaImageHeader | undefined> {
  const lower = filePath.toLowerCase();
  if (!lower.endsWith('.mha') && !lower.endsWith('.mhd')) return undefined;
  const header = await readMetaImageHeader(filePath).catch(() => undefined);
  return header !== undefined && isPlainMetaImage(header) ? header : undefined;
}

/**
 * Reads a 3D scalar image file, or the DICOM series in a folder; any other input is rejected with
 * an error naming the file. Plain MetaImage files are read in JavaScript, everything else with
 * itk-wasm.
 */
export async function readVolume(filePath: string): Promise<Volume> {
  const stat = await fs.stat(filePath).catch(() => undefined);
  if (stat === undefined) {
    throw new Error(`${filePath}: file not found`);
  }
  if (stat.isDirectory()) {
    return readDicomSeries(filePath);
  }
  if (!stat.isFile()) {
    throw new Error(`${filePath}: not a file (expected an image such as .mha, .mhd, .nii, .nii.gz or .nrrd, or a folder of DICOM slices)`);
  }
  if (!hasImageExtension(filePath)) {
    if (await isDicomFile(filePath)) {
      throw new Error(`${filePath}: a DICOM file contains a single slice. Pass the folder that contains the whole series`);
    }
    throw new Error(`${filePath}: unsupported file type (expected ${IMAGE_EXTENSIONS.join(', ')}, or a folder of DICOM slices)`);
  }

  const metaImage = await plainMetaImageHeader(filePath);
  if (metaImage !== undefined) {
    return readPlainMetaImage(filePath, metaImage);
  }

  return readVolumeWithItk(filePath);
}

/** Reads a MetaImage file whose header `plainMetaImageHeader` returned, and logs the data check's warning. */
export async function readPlainMetaImage(filePath: string, header: MetaImageHeader): Promise<Volume> {
  const { volume, warning } = await readMetaImage(filePath, header);
  if (warning !== undefined) log.warn(`${filePath}: ${warning}`);
  return volume;
}

/** Reads an image file with itk-wasm, after the checks of `checkImageFile`. */
export async function readVolumeWithItk(filePath: string): Promise<Volume> {
  for (const warning of await checkImageFile(filePath)) {
    log.warn(`${filePath}: ${warning}`);
  }
  const run = await captureConsole(() => readImageNode(filePath));
  const failure = describeReaderFailure(run);
  if (failure !== undefined || run.result === undefined) {
    throw new Error(`${filePath}: cannot be read as an image: ${failure ?? 'the reader returned no image'}. Check that the file is complete and that its format matches its extension`);
  }
  for (const message of readerMessages(run.lines)) {
    log.warn(`${filePath}: image reader: ${message}`);
  }
  const image = run.result;

  const { dimension, componentType, pixelType, components } = image.imageType;
  if (pixelType !== 'Scalar' || components !== 1) {
    throw new TypeError(`${filePath}: pixels are ${pixelType} with ${components} components; a CT scan has scalar pixels`);
  }
  if (dimension !== 3) {
    throw new RangeError(`${filePath}: image is ${dimension}D; a CT scan is a 3D volume`);
  }
  if (!COMPONENT_TYPES.includes(componentType as ComponentType)) {
    throw new TypeError(`${filePath}: pixel type ${componentType} is not supported (expected one of ${COMPONENT_TYPES.join(', ')})`);
  }
  if (image.data === null) {
    throw new Error(`${filePath}: image has no pixel data`);
  }

  const metadata = new Map<string, string>();
  for (const [key, value] of image.metadata as Map<string, unknown>) {
    metadata.set(key, String(value));
  }
  return {
    data: image.data as Volume['data'],
    componentType: componentType as ComponentType,
    size: [...image.size] as Vec3,
    spacing: [...image.spacing] as Vec3,
    origin: [...image.origin] as Vec3,
    direction: Array.from(image.direction as Float64Array),
    metadata,
  };
}

/** Writes a volume with its geometry and metadata; `.mha` output is zlib-compressed. */
export async function writeVolume(filePath: string, volume: Volume): Promise<void> {
  await fs.ensureDir(path.dirname(filePath));
  const image = {
    imageType: { dimension: 3, componentType: volume.componentType, pixelType: 'Scalar', components: 1 },
    name: path.basename(filePath),
    origin: [...volume.origin],
    spacing: [...volume.spacing],
    direction: Float64Array.from(volume.direction),
    size: [...volume.size],
    metadata: new Map(volume.metadata),
    data: volume.data,
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- itk-wasm's Image type is structural
  await writeImageNode(image as any, filePath, { useCompression: true });
}

/**
 * Writes an 8-bit RGB image as PNG. `rgb` contains `width * height` pixels of three bytes, row by row
 * from the top row, left to right.
 */
export async function writeRgbPng(filePath: string, width: number, height: number, rgb: Uint8Array): Promise<void> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${filePath}: invalid PNG size ${width} × ${height}: expected positive integers`);
  }
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`${filePath}: ${rgb.length} bytes of pixel data for a ${width} × ${height} RGB image (expected ${width * height * 3})`);
  }
  if (!filePath.toLowerCase().endsWith('.png')) {
    throw new RangeError(`${filePath}: a PNG file name must end with .png`);
  }
  // ITK writes index (0, 0) as the top-left pixel and image rows in order of the y index.
  const image = {
    imageType: { dimension: 2, componentType: 'uint8', pixelType: 'RGB', components: 3 },
    name: path.basename(filePath),
    origin: [0, 0],
    spacing: [1, 1],
    direction: Float64Array.from([1, 0, 0, 1]),
    size: [width, height],
    metadata: new Map(),
    data: rgb,
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- itk-wasm's Image type is structural
  await writeImageNode(image as any, filePath, { useCompression: true });
}
