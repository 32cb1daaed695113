/**
 * Worker thread of `sha256FilesInWorker`: hashes the files of `workerData.files` one after the
 * other and posts `{ digests }`, or `{ error }` with the first failure.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { sha256File } from './file-hash.js';

const { files } = workerData as { files: string[] };
const digests: string[] = [];
try {
  for (const file of files) digests.push(await sha256File(file));
  parentPort?.postMessage({ digests });
} catch (error) {
  parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) });
}
