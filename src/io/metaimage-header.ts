/**
 * MetaImage (.mha, .mhd) headers, parsed and checked in JavaScript before itk-wasm reads the file.
 *
 * itk-wasm (@itk-wasm/image-io 1.6.1) returns zeros for compressed data that does not inflate, for a
 * CompressedDataSize smaller than the stream, and for a compressed `.mha` without CompressedDataSize,
 * with no error. These checks turn each of those, and every truncated or lying header, into an
 * error that names the file and the field.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';

import { type ImageFileHeader, checkPixelBytes, checkReadMemory, inflatedLength } from './pixel-data.js';

/** Bytes per component of each MetaImage element type (MetaIO's `MET_ValueTypeSize`). */
const ELEMENT_TYPE_BYTES: Record<string, number> = {
  MET_CHAR: 1,
  MET_UCHAR: 1,
  MET_SHORT: 2,
  MET_USHORT: 2,
  MET_INT: 4,
  MET_UINT: 4,
  MET_LONG: 4,
  MET_ULONG: 4,
  MET_LONG_LONG: 8,
  MET_ULONG_LONG: 8,
  MET_FLOAT: 4,
  MET_DOUBLE: 8,
};

/** Maximum header length searched for ElementDataFile, the field that ends every MetaImage header. */
const MAX_HEADER_BYTES = 1 << 20;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export interface MetaImageHeader extends ImageFileHeader {
  /** Header fields in file order, keys as written (MetaIO matches them case-sensitively). */
  fields: Map<string, string>;
  elementType: string;
  compressed: boolean;
  /** `LOCAL` for data in the same file, else the data file name as written. */
  elementDataFile: string;
  /** Byte offset of the pixel data in a `LOCAL` file. */
  dataOffset: number;
}

/**
 * Splits `Key = Value` at the first `=` or `:`, as MetaIO does (keys such as `NRRD_kinds[0]` occur);
 * returns undefined for a line without a key.
 */
function splitField(line: string): [string, string] | undefined {
  const match = /^\s*([^=:\s][^=:]*?)\s*[=:](.*)$/.exec(line);
  return match === null ? undefined : [match[1], match[2].trim()];
}

function parseIntegers(file: string, key: string, value: string, count: number): number[] {
  const parts = value.split(/\s+/).filter((part) => part !== '');
  const numbers = parts.map(Number);
  if (parts.length < count || numbers.slice(0, count).some((n) => !Number.isInteger(n))) {
    throw new Error(`${file}: invalid ${key} "${value}" in the MetaImage header: expected ${count} integer(s)`);
  }
  return numbers.slice(0, count);
}

/**
 * Reads the header of a MetaImage file: everything up to and including the ElementDataFile line.
 * Throws when the file is not a MetaImage header or the header is cut short.
 */
export async function readMetaImageHeader(file: string): Promise<MetaImageHeader> {
  const handle = await open(file, 'r');
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, MAX_HEADER_BYTES, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }

  const fields = new Map<string, string>();
  // MetaIO reads past a UTF-8 byte order mark, as the first key then is one it ignores.
  let offset = head.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0;
  let lineNumber = 0;
  let dataOffset = -1;
  while (offset < head.length) {
    const newline = head.indexOf(0x0a, offset);
    const end = newline < 0 ? head.length : newline;
    const line = head.subarray(offset, end).toString('latin1').replace(/\r$/, '');
    lineNumber++;
    offset = end + 1;
    if (line.trim() === '') continue;
    // itk-wasm passes header fields on as JSON and fails with a JSON syntax error on control bytes.
    const control = /[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]/.exec(line);
    if (control !== null) {
      const code = control[0].charCodeAt(0).toString(16).padStart(2, '0');
      throw new Error(
        `${file}: binary byte 0x${code} in line ${lineNumber} of the MetaImage header, before its ElementDataFile line: ` +
          'a MetaImage header is text that ends with ElementDataFile, so the file is damaged or not a MetaImage',
      );
    }
    const field = splitField(line);
    if (field === undefined) {
      if (fields.size === 0) {
        throw new Error(`${file}: not a MetaImage file (a MetaImage header starts with lines such as "ObjectType = Image")`);
      }
      throw new Error(`${file}: invalid line ${JSON.stringify(line.slice(0, 60))} in the MetaImage header: expected "Key = Value"`);
    }
    const [key, value] = field;
    fields.set(key, value);
    if (key === 'ElementDataFile') {
      dataOffset = newline < 0 ? head.length : offset;
      break;
    }
  }
  if (dataOffset < 0) {
    const where = head.length === MAX_HEADER_BYTES ? `in the first ${MAX_HEADER_BYTES} bytes` : 'in the file';
    throw new Error(`${file}: MetaImage header has no ElementDataFile line ${where}: the header is cut short or this is not a MetaImage file`);
  }

  for (const key of ['NDims', 'DimSize', 'ElementType']) {
    if (!fields.has(key)) {
      throw new Error(`${file}: MetaImage header has no ${key} field; every MetaImage header needs NDims, DimSize, ElementType and ElementDataFile`);
    }
  }
  const [dimension] = parseIntegers(file, 'NDims', fields.get('NDims')!, 1);
  if (dimension < 1 || dimension > 10) {
    throw new Error(`${file}: invalid NDims ${dimension} in the MetaImage header: expected 1 to 10`);
  }
  const size = parseIntegers(file, 'DimSize', fields.get('DimSize')!, dimension);
  if (size.some((length) => length < 1)) {
    throw new Error(`${file}: invalid DimSize "${fields.get('DimSize')}" in the MetaImage header: every length must be at least 1`);
  }
  const elementType = fields.get('ElementType')!;
  const componentBytes = ELEMENT_TYPE_BYTES[elementType];
  if (componentBytes === undefined) {
    throw new Error(`${file}: unsupported ElementType "${elementType}" in the MetaImage header: expected one of ${Object.keys(ELEMENT_TYPE_BYTES).join(', ')}`);
  }
  const components = fields.has('ElementNumberOfChannels') ? parseIntegers(file, 'ElementNumberOfChannels', fields.get('ElementNumberOfChannels')!, 1)[0] : 1;
  if (components < 1) {
    throw new Error(`${file}: invalid ElementNumberOfChannels ${components} in the MetaImage header: expected at least 1`);
  }

  const pixelBytes = size.reduce((product, length) => product * length, 1) * components * componentBytes;
  return {
    fields,
    dimension,
    size,
    components,
    componentBytes,
    pixelBytes,
    elementType,
    compressed: /^true$/i.test(fields.get('CompressedData') ?? ''),
    elementDataFile: fields.get('ElementDataFile')!,
    dataOffset,
  };
}

/** Location of the pixel data of a MetaImage: a file and a byte range in it. */
interface DataRegion {
  file: string;
  start: number;
  /** Bytes from `start` to the end of the file. */
  available: number;
}

async function locateData(file: string, header: MetaImageHeader): Promise<DataRegion | undefined> {
  const name = header.elementDataFile;
  if (name === '') {
    throw new Error(`${file}: ElementDataFile is empty in the MetaImage header: expected LOCAL or the name of the data file`);
  }
  if (name === 'LOCAL') {
    const { size } = await stat(file);
    return { file, start: header.dataOffset, available: size - header.dataOffset };
  }
  // A list of slice files, or a printf pattern with a range: itk-wasm checks those itself.
  if (/^LIST(\s|$)/.test(name) || /%\d*d/.test(name)) {
    return undefined;
  }

  const dataFile = path.resolve(path.dirname(file), name);
  const dataStat = await stat(dataFile).catch(() => undefined);
  if (dataStat === undefined) {
    throw new Error(`${file}: data file ${dataFile} (ElementDataFile = ${name}) not found; keep the .mhd header and its data file in the same folder`);
  }
  if (!dataStat.isFile()) {
    throw new Error(`${file}: data file ${dataFile} (ElementDataFile = ${name}) is not a file`);
  }
  // HeaderSize skips bytes at the start of the data file; -1 means the data is at its end.
  const headerSize = header.fields.has('HeaderSize') ? parseIntegers(file, 'HeaderSize', header.fields.get('HeaderSize')!, 1)[0] : 0;
  if (headerSize === -1) {
    return { file: dataFile, start: Math.max(dataStat.size - header.pixelBytes, 0), available: Math.min(dataStat.size, header.pixelBytes) };
  }
  if (headerSize < 0) {
    throw new Error(`${file}: invalid HeaderSize ${headerSize} in the MetaImage header: expected -1 or a byte count`);
  }
  return { file: dataFile, start: headerSize, available: dataStat.size - headerSize };
}

/** Fills `target` with the bytes of `region` from its start. */
async function readRegion(region: DataRegion, target: Uint8Array): Promise<void> {
  const handle = await open(region.file, 'r');
  try {
    let done = 0;
    while (done < target.length) {
      const { bytesRead } = await handle.read(target, done, target.length - done, region.start + done);
      if (bytesRead === 0) {
        throw new Error(`${region.file}: file ended after ${done} of ${target.length} bytes of pixel data`);
      }
      done += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

function describeLayout(header: MetaImageHeader): string {
  const channels = header.components === 1 ? '' : ` × ${header.components} channels`;
  return `DimSize ${header.size.join(' × ')}${channels} of ${header.elementType}`;
}

/**
 * Checks that the pixel data a MetaImage header announces is all there: uncompressed data must
 * fill the stated size, compressed data must inflate completely to it. Returns a warning for
 * extra bytes that readers ignore, else undefined. With `allocate`, which returns a buffer of
 * `header.pixelBytes` bytes once the checks of size and memory have passed, the pixel data is also
 * copied into that buffer, inflated if compressed, so that it is read only once.
 */
export async function checkMetaImageData(file: string, header: MetaImageHeader, allocate?: () => Uint8Array): Promise<string | undefined> {
  const layout = describeLayout(header);
  checkPixelBytes(file, header, layout);
  if (/^false$/i.test(header.fields.get('BinaryData') ?? '')) {
    // ASCII pixel values have no fixed width, so the byte count does not give the voxel count.
    checkReadMemory(file, header, layout, 0);
    return undefined;
  }
  const region = await locateData(file, header);
  if (region === undefined) {
    checkReadMemory(file, header, layout, 0);
    return undefined;
  }
  const expected = header.pixelBytes;
  const where = region.file === file ? 'after the header' : `in ${region.file}`;

  if (!header.compressed) {
    if (region.available < expected) {
      throw new Error(
        `${file}: pixel data is truncated: the header (${layout}) needs ${expected} bytes, but the file contains ${Math.max(region.available, 0)} ${where}. ` +
          'The file is incomplete: copy or export it again.',
      );
    }
    checkReadMemory(file, header, layout, 0);
    if (allocate !== undefined) {
      await readRegion(region, allocate());
    }
    if (region.available > expected) {
      return `${region.available - expected} bytes ${where} follow the ${expected} bytes of pixel data that the header (${layout}) announces; they are ignored`;
    }
    return undefined;
  }

  let compressedBytes = region.available;
  if (header.fields.has('CompressedDataSize')) {
    [compressedBytes] = parseIntegers(file, 'CompressedDataSize', header.fields.get('CompressedDataSize')!, 1);
    if (compressedBytes < 1) {
      throw new Error(`${file}: invalid CompressedDataSize ${compressedBytes} in the MetaImage header: expected a positive byte count`);
    }
    if (compressedBytes > region.available) {
      throw new Error(
        `${file}: compressed pixel data is truncated: CompressedDataSize is ${compressedBytes} bytes, but the file contains ${Math.max(region.available, 0)} ${where}. ` +
          'The file is incomplete: copy or export it again.',
      );
    }
  } else if (region.file === file) {
    // MetaIO then takes the whole file, header included, as the compressed stream, and fails.
    throw new Error(
      `${file}: compressed data without CompressedDataSize: ITK's MetaImage reader cannot find the data in a .mha without it. ` +
        `Add the line "CompressedDataSize = ${region.available}" before ElementDataFile, or write the file again with ITK or SimpleITK.`,
    );
  }

  checkReadMemory(file, header, layout, compressedBytes);
  const inflated = await inflatedLength(region.file, region.start, compressedBytes, 'zlib', allocate?.()).catch((error: Error) => {
    throw new Error(`${file}: compressed pixel data is corrupt (zlib: ${error.message}); the file is damaged: copy or export it again`);
  });
  if (inflated < expected) {
    throw new Error(
      `${file}: compressed pixel data inflates to ${inflated} bytes, but the header (${layout}) needs ${expected}. ` +
        'DimSize or ElementType does not match the data: export the file again.',
    );
  }
  if (inflated > expected) {
    return `compressed pixel data inflates to ${inflated} bytes, more than the ${expected} that the header (${layout}) announces; the rest is ignored`;
  }
  return undefined;
}
