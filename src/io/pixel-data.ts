/**
 * Checks of pixel data shared by the image formats: the largest buffer the image reader can hold,
 * and whether a compressed stream inflates completely.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createInflate } from 'node:zlib';

/** Image layout announced by a file's header, read before the pixel data. */
export interface ImageFileHeader {
  /** Number of dimensions. */
  dimension: number;
  /** Length of each dimension, in voxels. */
  size: number[];
  /** Components per voxel (1 for a scalar image). */
  components: number;
  /** Bytes per component. */
  componentBytes: number;
  /** Bytes of uncompressed pixel data. */
  pixelBytes: number;
}

/**
 * Largest pixel buffer that the image reader returns, in bytes. @itk-wasm/image-io 1.6.1 runs in
 * 32-bit WebAssembly and fails with an exception that carries no message from 2^31 bytes on: a
 * 512 × 512 × 4095 int16 MetaImage reads (about 6 GB of process memory), 512 × 512 × 4096 fails.
 */
export const MAX_PIXEL_BYTES = 2 ** 31 - 1;

/** Read and inflate buffers, in bytes: large chunks keep a full pass over a scan under a second per 100 MB. */
const CHUNK_BYTES = 1 << 20;

/** Rejects an image whose pixel data the reader cannot hold, before any of it is read. */
export function checkPixelBytes(file: string, header: ImageFileHeader, layout: string): void {
  if (header.pixelBytes > MAX_PIXEL_BYTES) {
    const gib = (header.pixelBytes / 2 ** 30).toFixed(2);
    throw new Error(
      `${file}: image too large: ${layout} is ${gib} GiB of pixel data, but the image reader (itk-wasm, 32-bit WebAssembly) cannot store 2 GiB or more. ` +
        'Crop the scan to the chest, or resample it to thicker slices, before scoring.',
    );
  }
}

/**
 * Inflates `length` bytes of `file` from byte `start` and returns the inflated byte count, without
 * keeping the data. Rejects with zlib's error when the stream is corrupt or ends early.
 */
export async function inflatedLength(file: string, start: number, length: number, format: 'zlib' | 'gzip'): Promise<number> {
  if (length < 1) {
    throw new Error('no compressed data');
  }
  const source = createReadStream(file, { start, end: start + length - 1, highWaterMark: CHUNK_BYTES });
  const inflate = format === 'zlib' ? createInflate({ chunkSize: CHUNK_BYTES }) : createGunzip({ chunkSize: CHUNK_BYTES });
  let total = 0;
  await pipeline(source, inflate, async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) total += chunk.length;
  });
  return total;
}
