/**
 * Checks of pixel data shared by the image formats: the largest buffer the image reader can hold,
 * and whether a compressed stream inflates completely.
 */
import { createReadStream } from 'node:fs';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createInflate } from 'node:zlib';

import { type CgroupPaths, cgroupMemoryLimit } from '../cgroup.js';

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

/**
 * Peak memory of a read, as a multiple of the pixel data, to which the compressed data is added:
 * itk-wasm's WebAssembly heap stores the pixels next to the compressed stream, and the copy
 * returned to JavaScript stores them again. Measured with @itk-wasm/image-io 1.6.1 on a
 * 512 × 512 × 2000 int16 MetaImage (1 GiB of pixels): peak RSS 3.2 GB uncompressed, 4.0 GB with
 * 0.83 GB of zlib data.
 */
export const READ_MEMORY_FACTOR = 3;

/** Read and inflate buffers, in bytes: large chunks keep a full pass over a scan under a second per 100 MB. */
const CHUNK_BYTES = 1 << 20;

/** Rejects an image whose pixel data the reader cannot hold, before any of it is read. */
export function checkPixelBytes(file: string, header: ImageFileHeader, layout: string): void {
  if (header.pixelBytes > MAX_PIXEL_BYTES) {
    throw new Error(
      `${file}: image too large: ${layout} is ${gib(header.pixelBytes)} GiB of pixel data, but the image reader (itk-wasm, 32-bit WebAssembly) cannot store 2 GiB or more. ` +
        'Crop the scan to the chest, or resample it to thicker slices, before scoring.',
    );
  }
}

/** Returns the memory this process may use: the cgroup memory limit of a container, else the host's memory. */
export function memoryLimitBytes(cgroup?: CgroupPaths): number {
  const limit = cgroupMemoryLimit(cgroup);
  return limit === undefined ? os.totalmem() : Math.min(limit, os.totalmem());
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(2);
}

/**
 * Rejects an image whose read would need more memory than this process may use, before any of it
 * is read, so that a container's memory limit ends the job with a message rather than a kill.
 */
export function checkReadMemory(
  file: string,
  header: ImageFileHeader,
  layout: string,
  compressedBytes: number,
  limitBytes = memoryLimitBytes(),
  usedBytes = process.memoryUsage().rss,
): void {
  const needed = READ_MEMORY_FACTOR * header.pixelBytes + compressedBytes;
  if (usedBytes + needed > limitBytes) {
    const compressed = compressedBytes > 0 ? ` and ${gib(compressedBytes)} GiB of compressed data` : '';
    throw new Error(
      `${file}: not enough memory to read this image: ${layout} needs about ${gib(needed)} GiB while it is read ` +
        `(${READ_MEMORY_FACTOR} × ${gib(header.pixelBytes)} GiB of pixel data${compressed}), and this process may use ${gib(limitBytes)} GiB, ` +
        `${gib(usedBytes)} GiB of which are in use. Give the job more memory, or crop the scan or resample it to thicker slices.`,
    );
  }
}

/**
 * Inflates `length` bytes of `file` from byte `start` and returns the inflated byte count. The first
 * `target.length` inflated bytes are copied into `target` when it is given; the rest is not kept.
 * Rejects with zlib's error when the stream is corrupt or ends early.
 */
export async function inflatedLength(file: string, start: number, length: number, format: 'zlib' | 'gzip', target?: Uint8Array): Promise<number> {
  if (length < 1) {
    throw new Error('no compressed data');
  }
  const source = createReadStream(file, { start, end: start + length - 1, highWaterMark: CHUNK_BYTES });
  const inflate = format === 'zlib' ? createInflate({ chunkSize: CHUNK_BYTES }) : createGunzip({ chunkSize: CHUNK_BYTES });
  let total = 0;
  await pipeline(source, inflate, async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) {
      if (target !== undefined && total < target.length) {
        target.set(chunk.subarray(0, target.length - total), total);
      }
      total += chunk.length;
    }
  });
  return total;
}
