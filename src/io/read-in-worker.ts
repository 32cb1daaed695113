/**
 * Image reading on a worker thread, to bound memory.
 */
import { Worker } from 'node:worker_threads';

import { type LogLevel, log } from '../log.js';
import type { Volume } from '../volume.js';
import { plainMetaImageHeader, readPlainMetaImage } from './image.js';

type WorkerMessage =
  | { log: Exclude<LogLevel, 'silent'>; message: string }
  | { volume: Volume }
  | { error: { name: string; message: string } };

const ERROR_TYPES: Record<string, ErrorConstructor> = { RangeError, TypeError };

/**
 * Reads an image file or a folder of DICOM slices as `readVolume` does, with the same log lines
 * and errors. Anything but a plain MetaImage file is read on a worker thread, so that the readers'
 * WebAssembly memory (about 230 MiB for a 512 × 512 × 255 int16 MetaImage) is freed when the worker
 * exits. On the main thread it would wait for a later garbage collection, which can come after the
 * networks have run.
 */
export async function readVolumeInWorker(file: string): Promise<Volume> {
  // Plain MetaImage files need no WebAssembly, so a worker would only add its start-up.
  const metaImage = await plainMetaImageHeader(file);
  if (metaImage !== undefined) {
    return readPlainMetaImage(file, metaImage);
  }
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./read-volume-worker.js', import.meta.url), { workerData: { file } });
    let settled = false;
    worker.on('message', (message: WorkerMessage) => {
      if ('log' in message) {
        log[message.log](message.message);
        return;
      }
      settled = true;
      if ('volume' in message) {
        resolve(message.volume);
      } else {
        const ErrorType = ERROR_TYPES[message.error.name] ?? Error;
        reject(new ErrorType(message.error.message));
      }
    });
    worker.once('error', (error) => {
      settled = true;
      reject(new Error(`${file}: the image reader's worker thread failed (${error.message})`));
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`${file}: the image reader's worker thread exited with code ${code} before it returned the image`));
    });
  });
}
