/**
 * A strict reader of 8-bit RGB PNG files for tests, independent of the writer: it checks the
 * signature, every chunk's CRC and the IHDR fields, inflates the IDAT stream and undoes the row
 * filters.
 */
import { inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export interface DecodedPng {
  width: number;
  height: number;
  /** Pixels, three bytes each, row by row from the top. */
  rgb: Uint8Array;
}

function paeth(left: number, up: number, upLeft: number): number {
  const estimate = left + up - upLeft;
  const toLeft = Math.abs(estimate - left);
  const toUp = Math.abs(estimate - up);
  const toUpLeft = Math.abs(estimate - upLeft);
  if (toLeft <= toUp && toLeft <= toUpLeft) return left;
  return toUp <= toUpLeft ? up : upLeft;
}

/** Decodes a non-interlaced 8-bit RGB PNG; throws on anything else or on a damaged file. */
export function decodeRgbPng(file: Buffer): DecodedPng {
  if (!file.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file: wrong signature');
  let offset = 8;
  let header: Buffer | undefined;
  const data: Buffer[] = [];
  let ended = false;
  while (offset < file.length) {
    const length = file.readUInt32BE(offset);
    const typeAndData = file.subarray(offset + 4, offset + 8 + length);
    const type = typeAndData.subarray(0, 4).toString('latin1');
    if (crc32(typeAndData) !== file.readUInt32BE(offset + 8 + length)) throw new Error(`PNG chunk ${type}: CRC mismatch`);
    const body = typeAndData.subarray(4);
    if (type === 'IHDR') header = body;
    if (type === 'IDAT') data.push(body);
    if (type === 'IEND') ended = true;
    offset += 12 + length;
  }
  if (header === undefined || !ended) throw new Error('PNG file without IHDR or IEND');
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const [bitDepth, colourType, , , interlace] = header.subarray(8, 13);
  if (bitDepth !== 8 || colourType !== 2 || interlace !== 0) {
    throw new Error(`PNG of bit depth ${bitDepth}, colour type ${colourType}, interlace ${interlace}: expected 8-bit RGB, not interlaced`);
  }

  const filtered = inflateSync(Buffer.concat(data));
  const stride = width * 3;
  if (filtered.length !== height * (stride + 1)) throw new Error(`PNG data of ${filtered.length} bytes for ${width} × ${height} RGB`);
  const rgb = new Uint8Array(height * stride);
  for (let row = 0; row < height; row++) {
    const filter = filtered[row * (stride + 1)];
    const line = filtered.subarray(row * (stride + 1) + 1, (row + 1) * (stride + 1));
    const out = row * stride;
    for (let i = 0; i < stride; i++) {
      const left = i >= 3 ? rgb[out + i - 3] : 0;
      const up = row > 0 ? rgb[out - stride + i] : 0;
      const upLeft = row > 0 && i >= 3 ? rgb[out - stride + i - 3] : 0;
      const predictors = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)];
      if (filter > 4) throw new Error(`PNG row ${row}: unknown filter type ${filter}`);
      rgb[out + i] = (line[i] + predictors[filter]) & 0xff;
    }
  }
  return { width, height, rgb };
}
