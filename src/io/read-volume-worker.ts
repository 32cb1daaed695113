/**
 * Worker thread of `readVolumeInWorker`: reads `workerData.file` with `readVolume` and posts the
 * volume with its pixel buffer transferred, or the error. Log lines go to the main thread as
 * messages, where the main thread's logger writes them with its own level and status line.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { log, setLogLevel } from '../log.js';
import { readVolume } from './image.js';

const port = parentPort!;
const { file } = workerData as { file: string };

setLogLevel('debug');
for (const level of ['debug', 'info', 'warn', 'error'] as const) {
  log[level] = (message: string) => port.postMessage({ log: level, message });
}

try {
  const volume = await readVolume(file);
  port.postMessage({ volume }, [volume.data.buffer as ArrayBuffer]);
} catch (error) {
  const { name, message } = error instanceof Error ? error : new Error(String(error));
  port.postMessage({ error: { name, message } });
}
