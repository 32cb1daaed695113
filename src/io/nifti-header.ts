/**
 * NIfTI (.nii, .nii.gz) headers, checked in JavaScript before itk-wasm reads the file.
 *
 * itk-wasm (@itk-wasm/image-io 1.6.1) reads a truncated .nii or .nii.gz without an error and
 * fills the missing voxels with zeros. This check rejects such files by name.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';

import { type ImageFileHeader, checkPixelBytes, checkReadMemory, inflatedLength } from './pixel-data.js';

/** Header sizes of NIfTI-1 and NIfTI-2, the first field of each header. */
const NIFTI1_HEADER_BYTES = 348;
const NIFTI2_HEADER_BYTES = 540;

export interface NiftiHeader extends ImageFileHeader {
  version: 1 | 2;
  /** Byte offset of the pixel data in the uncompressed file. */
  voxOffset: number;
}

/** Reads the first `length` bytes of a gzip file, inflated; rejects when it is not gzip data. */
async function gunzipHead(file: string, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const gunzip = createGunzip();
  const source = createReadStream(file);
  source.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= length) break;
    }
  } catch (error) {
    // A stream that ends early still yields its head; only a stream that does not start is an error here.
    if (total === 0) throw error;
  } finally {
    source.destroy();
    gunzip.destroy();
  }
  return Buffer.concat(chunks).subarray(0, length);
}

/** Parses a NIfTI-1 or NIfTI-2 header from the start of the uncompressed file. */
export function parseNiftiHeader(file: string, head: Buffer): NiftiHeader {
  if (head.length < 4) {
    throw new Error(`${file}: not a NIfTI file (${head.length} bytes, shorter than any NIfTI header)`);
  }
  const sizeLittle = head.readInt32LE(0);
  const sizeBig = head.readInt32BE(0);
  const headerBytes = [NIFTI1_HEADER_BYTES, NIFTI2_HEADER_BYTES].find((bytes) => bytes === sizeLittle || bytes === sizeBig);
  if (headerBytes === undefined) {
    throw new Error(`${file}: not a NIfTI file (its first field is ${sizeLittle}, a NIfTI header starts with 348 or 540)`);
  }
  if (head.length < headerBytes) {
    throw new Error(`${file}: NIfTI header is truncated: ${head.length} of ${headerBytes} bytes. The file is incomplete: copy or export it again.`);
  }
  const little = sizeLittle === headerBytes;
  const int16 = (at: number) => (little ? head.readInt16LE(at) : head.readInt16BE(at));
  const version = headerBytes === NIFTI1_HEADER_BYTES ? 1 : 2;

  let dims: number[];
  let bitpix: number;
  let voxOffset: number;
  if (version === 1) {
    dims = Array.from({ length: 8 }, (_, i) => int16(40 + 2 * i));
    bitpix = int16(72);
    voxOffset = little ? head.readFloatLE(108) : head.readFloatBE(108);
  } else {
    const int64 = (at: number) => Number(little ? head.readBigInt64LE(at) : head.readBigInt64BE(at));
    dims = Array.from({ length: 8 }, (_, i) => int64(16 + 8 * i));
    bitpix = int16(14);
    voxOffset = int64(168);
  }

  const dimension = dims[0];
  if (!(dimension >= 1 && dimension <= 7)) {
    throw new Error(`${file}: invalid NIfTI header: dim[0] is ${dimension}, expected 1 to 7 dimensions`);
  }
  const size = dims.slice(1, dimension + 1);
  if (size.some((length) => !(length >= 1))) {
    throw new Error(`${file}: invalid NIfTI header: dimensions ${size.join(' × ')} must all be at least 1`);
  }
  if (!(bitpix >= 8 && bitpix % 8 === 0)) {
    throw new Error(`${file}: invalid NIfTI header: bitpix is ${bitpix}, expected a multiple of 8`);
  }
  if (!(voxOffset >= 0) || !Number.isInteger(voxOffset)) {
    throw new Error(`${file}: invalid NIfTI header: vox_offset is ${voxOffset}, expected a byte offset`);
  }
  const componentBytes = bitpix / 8;
  const pixelBytes = size.reduce((product, length) => product * length, 1) * componentBytes;
  return { version, dimension, size, components: 1, componentBytes, pixelBytes, voxOffset };
}

/** Checks that a .nii or .nii.gz contains all the pixel data that its header announces. */
export async function checkNiftiFile(file: string): Promise<NiftiHeader> {
  const gzipped = file.toLowerCase().endsWith('.gz');
  let head: Buffer;
  if (gzipped) {
    head = await gunzipHead(file, NIFTI2_HEADER_BYTES).catch((error: Error) => {
      throw new Error(`${file}: not a gzip-compressed file (zlib: ${error.message}); a .nii.gz file is a gzip-compressed NIfTI`);
    });
  } else {
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.alloc(NIFTI2_HEADER_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, NIFTI2_HEADER_BYTES, 0);
      head = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  const header = parseNiftiHeader(file, head);
  const layout = `${header.size.join(' × ')} voxels of ${header.componentBytes} byte(s)`;
  checkPixelBytes(file, header, layout);

  const { size: fileBytes } = await stat(file);
  let available = fileBytes;
  if (gzipped) {
    available = await inflatedLength(file, 0, fileBytes, 'gzip').catch((error: Error) => {
      throw new Error(`${file}: compressed data is corrupt or truncated (zlib: ${error.message}); the file is damaged: copy or export it again`);
    });
  }
  const expected = header.voxOffset + header.pixelBytes;
  if (available < expected) {
    throw new Error(
      `${file}: pixel data is truncated: the NIfTI header (${layout} from byte ${header.voxOffset}) needs ${expected} bytes, the ${gzipped ? 'inflated ' : ''}file has ${available}. ` +
        'The file is incomplete: copy or export it again.',
    );
  }
  checkReadMemory(file, header, layout, gzipped ? fileBytes : 0);
  return header;
}
