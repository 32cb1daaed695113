/**
 * File hashing on a worker thread, and loading a models directory while it is verified.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { sha256File, sha256FilesInWorker } from '../src/file-hash.js';
import { loadModels } from '../src/models.js';
import { FIXTURE_MODELS_DIR } from './helpers.js';

async function scratchDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-hash-'));
}

test('sha256FilesInWorker matches node:crypto', async () => {
  const dir = await scratchDir();
  // Over the 1 MiB read size, so that the digest spans several chunks.
  const large = Buffer.alloc(3 * (1 << 20) + 17, 7);
  const contents = [Buffer.from('lungs'), Buffer.alloc(0), large];
  const files = contents.map((_, index) => path.join(dir, `file-${index}`));
  await Promise.all(files.map((file, index) => fs.writeFile(file, contents[index])));

  const expected = contents.map((content) => createHash('sha256').update(content).digest('hex'));
  assert.equal(await sha256FilesInWorker(files), expected);
  assert.is(await sha256File(files[2]), expected[2]);
  assert.equal(await sha256FilesInWorker([]), []);
});

test('sha256FilesInWorker names a missing file', async () => {
  const missing = path.join(await scratchDir(), 'absent.onnx');
  try {
    await sha256FilesInWorker([missing]);
    assert.unreachable('expected an error');
  } catch (error) {
    assert.instance(error, Error);
    assert.match((error as Error).message, 'absent.onnx');
  }
});

test('loadModels reports a truncated model as a mismatch', async () => {
  const dir = await scratchDir();
  await fs.copy(FIXTURE_MODELS_DIR, dir);
  await fs.truncate(path.join(dir, 'vit_lung.onnx'), 1000);
  try {
    const models = await loadModels({ models: dir, device: 'cpu' });
    assert.unreachable(`loaded ${models.dir}`);
  } catch (error) {
    assert.instance(error, Error);
    // The hash check wins over the ONNX Runtime error on the same file.
    assert.match((error as Error).message, 'does not match its manifest');
    assert.match((error as Error).message, /vit_lung\.onnx: sha256 [0-9a-f]{64} does not match/);
  }
});

test.run();
