/**
 * numpy's `.npy` format (version 1.0 to 3.0, C order, little-endian), optionally gzip-compressed,
 * so that intermediates can be compared file by file with the reference implementation's.
 */
import { gunzipSync } from 'node:zlib';
import fs from 'fs-extra';

import { type NdArray, type TypedArray, numberOfElements } from '../volume.js';

const MAGIC = '\x93NUMPY';

/** numpy `descr` strings and the typed arrays that store them (`|b1` is numpy's bool). */
const DESCRIPTORS: Record<string, new (buffer: ArrayBuffer, offset: number, length: number) => TypedArray> = {
  '|b1': Uint8Array,
  '|u1': Uint8Array,
  '|i1': Int8Array,
  '<i2': Int16Array,
  '<u2': Uint16Array,
  '<i4': Int32Array,
  '<u4': Uint32Array,
  '<f4': Float32Array,
  '<f8': Float64Array,
};

export interface NpyArray extends NdArray {
  /** The numpy dtype, e.g. `<i2` or `|b1`. */
  descr: string;
}

/** Parses `.npy` bytes; `<i8` and `<u8` arrays are read as Float64Array, exact up to 2^53. */
export function parseNpy(bytes: Uint8Array, source = 'array'): NpyArray {
  const magic = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  if (magic !== MAGIC) {
    throw new Error(`${source}: not a .npy file (magic string missing)`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = Buffer.from(bytes.subarray(headerStart, headerStart + headerLength)).toString('latin1');

  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortranOrder = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortranOrder === undefined || shapeText === undefined) {
    throw new Error(`${source}: unreadable .npy header ${JSON.stringify(header)}`);
  }
  if (fortranOrder === 'True') {
    throw new Error(`${source}: Fortran-order .npy arrays are not supported`);
  }
  const shape = shapeText.split(',').map((part) => part.trim()).filter((part) => part !== '').map(Number);
  const length = numberOfElements(shape);

  const dataStart = headerStart + headerLength;
  // A copy, so that the typed array starts at offset 0 of its own buffer, aligned for its element size.
  const payload = new Uint8Array(bytes.subarray(dataStart, dataStart + length * itemSize(descr, source)));
  if (descr === '<i8' || descr === '<u8') {
    const wide = descr === '<i8' ? new BigInt64Array(payload.buffer, 0, length) : new BigUint64Array(payload.buffer, 0, length);
    return { data: Float64Array.from(wide, (value) => Number(value)), shape, descr };
  }
  const Constructor = DESCRIPTORS[descr];
  if (Constructor === undefined) {
    throw new Error(`${source}: unsupported .npy dtype ${descr}`);
  }
  return { data: new Constructor(payload.buffer, 0, length), shape, descr };
}

function itemSize(descr: string, source: string): number {
  const size = Number(descr.slice(2));
  if (!Number.isInteger(size) || size <= 0) {
    throw new Error(`${source}: unsupported .npy dtype ${descr}`);
  }
  return size;
}

/** Reads a `.npy` or `.npy.gz` file. */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array = await fs.readFile(path);
  if (path.endsWith('.gz')) {
    bytes = gunzipSync(bytes);
  }
  return parseNpy(bytes, path);
}

/** Returns the numpy dtype that stores a typed array; `bool` marks a 0/1 Uint8Array as `|b1`. */
export function descrOf(data: TypedArray, bool = false): string {
  if (data instanceof Uint8Array) return bool ? '|b1' : '|u1';
  if (data instanceof Int8Array) return '|i1';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Uint16Array) return '<u2';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Uint32Array) return '<u4';
  if (data instanceof Float32Array) return '<f4';
  return '<f8';
}

/** Serialises an array as `.npy` version 1.0 bytes. */
export function formatNpy(array: NdArray, descr = descrOf(array.data)): Uint8Array {
  const shapeText = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // The header, with its 10-byte preamble and final newline, is padded to a multiple of 64 bytes.
  const padding = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(padding % 64) + '\n';

  const preamble = Buffer.alloc(10);
  preamble.write(MAGIC, 0, 'latin1');
  preamble[6] = 1;
  preamble[7] = 0;
  preamble.writeUInt16LE(header.length, 8);
  const data = Buffer.from(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), data]);
}

/** Writes a plain `.npy` file. */
export async function writeNpy(path: string, array: NdArray, descr?: string): Promise<void> {
  await fs.outputFile(path, formatNpy(array, descr));
}
