/**
 * MetaImage (.mha, .mhd) reading in JavaScript, for the layout that ITK and SimpleITK write for CT
 * scans: three dimensions, scalar binary pixels, raw or zlib-compressed, in the header's file or in
 * one data file. Any other MetaImage goes to itk-wasm. Reading here needs no WebAssembly heap: a
 * process that read a 512 × 512 × 255 int16 scan (133 MB of pixels) with itk-wasm on a worker
 * thread peaked at 558 MB RSS. It also inflates the data once, where the checks before itk-wasm
 * inflate it a first time.
 *
 * NOTE: the 2 GiB limit of itk-wasm's 32-bit heap (`checkPixelBytes`) still applies here, so that
 * both readers accept the same files, although this reader has no such limit.
 *
 * The geometry follows ITK's MetaImageIO: `ElementSpacing` is the spacing, `Offset` the origin, and
 * row i of `TransformMatrix` the direction of axis i. test/io/metaimage.test.ts checks voxels, geometry
 * and metadata against @itk-wasm/image-io 1.6.1 on files with flipped, permuted and oblique axes.
 */
import type { ComponentType, TypedArray, Vec3, Volume } from '../volume.js';
import { type MetaImageHeader, checkMetaImageData } from './metaimage-header.js';

const COMPONENT_TYPES: Record<string, ComponentType> = {
  MET_CHAR: 'int8',
  MET_UCHAR: 'uint8',
  MET_SHORT: 'int16',
  MET_USHORT: 'uint16',
  MET_INT: 'int32',
  MET_UINT: 'uint32',
  MET_FLOAT: 'float32',
  MET_DOUBLE: 'float64',
};

const ARRAY_TYPES: Record<ComponentType, new (buffer: ArrayBuffer) => TypedArray> = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

/** Header fields that describe the image itself. Every other field is metadata, as in ITK. */
const IMAGE_FIELDS = new Set([
  'ObjectType', 'ObjectSubType', 'NDims', 'Comment', 'Name', 'ID', 'ParentID', 'Color', 'Modality', 'SequenceID',
  'BinaryData', 'BinaryDataByteOrderMSB', 'ElementByteOrderMSB', 'CompressedData', 'CompressedDataSize',
  'TransformMatrix', 'Rotation', 'Orientation', 'Offset', 'Position', 'Origin', 'CenterOfRotation',
  'AnatomicalOrientation', 'ElementSpacing', 'ElementSize', 'DimSize', 'HeaderSize', 'ElementMin', 'ElementMax',
  'ElementNumberOfChannels', 'ElementType', 'ElementDataFile',
]);

/** Fields whose presence sends the file to itk-wasm: synonyms and layouts this reader leaves out. */
const ITK_ONLY_FIELDS = ['Rotation', 'Orientation', 'Position', 'Origin', 'ElementSize', 'HeaderSize'];

function numbers(value: string | undefined, count: number): number[] | undefined {
  if (value === undefined) return undefined;
  const parsed = value.split(/\s+/).filter((part) => part !== '').map(Number);
  return parsed.length === count && parsed.every(Number.isFinite) ? parsed : undefined;
}

/**
 * Returns whether `readMetaImage` reads this header's file. The header must announce a 3D scalar
 * image of binary pixels in one file, with its spacing. Files that need ITK's handling of other
 * layouts or field synonyms return false.
 */
export function isPlainMetaImage(header: MetaImageHeader): boolean {
  const { fields } = header;
  const dataFile = header.elementDataFile;
  const spacing = numbers(fields.get('ElementSpacing'), 3);
  return (
    (fields.get('ObjectType') ?? 'Image') === 'Image' &&
    header.dimension === 3 &&
    header.components === 1 &&
    /^true$/i.test(fields.get('BinaryData') ?? '') &&
    COMPONENT_TYPES[header.elementType] !== undefined &&
    dataFile !== '' &&
    !/^LIST(\s|$)/.test(dataFile) &&
    !/%\d*d/.test(dataFile) &&
    ITK_ONLY_FIELDS.every((key) => !fields.has(key)) &&
    spacing !== undefined &&
    (!fields.has('Offset') || numbers(fields.get('Offset'), 3) !== undefined) &&
    (!fields.has('TransformMatrix') || numbers(fields.get('TransformMatrix'), 9) !== undefined)
  );
}

/**
 * Reads a MetaImage whose header `isPlainMetaImage` accepts. The pixel data is checked as
 * `checkMetaImageData` checks it, with the same errors, and that check's warning is returned.
 */
export async function readMetaImage(file: string, header: MetaImageHeader): Promise<{ volume: Volume; warning?: string }> {
  const componentType = COMPONENT_TYPES[header.elementType];
  let buffer: ArrayBuffer | undefined;
  const warning = await checkMetaImageData(file, header, () => {
    try {
      buffer = new ArrayBuffer(header.pixelBytes);
    } catch (error) {
      throw new Error(`${file}: cannot allocate ${header.pixelBytes} bytes for the pixel data (${error instanceof Error ? error.message : String(error)}); free memory or raise the limit`);
    }
    return new Uint8Array(buffer);
  });
  if (buffer === undefined) {
    throw new Error(`${file}: the pixel data was not read`);
  }

  const { fields } = header;
  if (/^true$/i.test(fields.get('BinaryDataByteOrderMSB') ?? fields.get('ElementByteOrderMSB') ?? '')) {
    swapBytes(new Uint8Array(buffer), header.componentBytes);
  }

  // Row i of TransformMatrix is axis i's direction, which is column i of the direction matrix.
  const matrix = numbers(fields.get('TransformMatrix'), 9) ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const direction = Array.from({ length: 9 }, (_, index) => matrix[3 * (index % 3) + Math.floor(index / 3)]);
  const metadata = new Map<string, string>();
  for (const [key, value] of fields) {
    if (!IMAGE_FIELDS.has(key)) metadata.set(key, value);
  }
  const volume: Volume = {
    data: new ARRAY_TYPES[componentType](buffer),
    componentType,
    size: header.size as Vec3,
    spacing: numbers(fields.get('ElementSpacing'), 3) as Vec3,
    origin: (numbers(fields.get('Offset'), 3) ?? [0, 0, 0]) as Vec3,
    direction,
    metadata,
  };
  return { volume, warning };
}

/** Reverses the byte order of each `width`-byte element of `bytes`, in place. */
function swapBytes(bytes: Uint8Array, width: number): void {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (width === 2) view.swap16();
  else if (width === 4) view.swap32();
  else if (width === 8) view.swap64();
}
