/**
 * Reading images on a worker thread gives what reading on the main thread gives.
 */
import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { plainMetaImageHeader, readVolume, writeVolume } from '../src/io/image.js';
import { readVolumeInWorker } from '../src/io/read-in-worker.js';
import { SHARED_DIR } from './helpers.js';

test('readVolumeInWorker matches readVolume', async () => {
  // A NIfTI file goes to itk-wasm on the worker thread, whereas a plain MetaImage file is read on this one.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-read-'));
  const file = path.join(dir, 'scan.nii.gz');
  await writeVolume(file, await readVolume(path.join(SHARED_DIR, 'data', 'ct', 'cip-copdgene-ct64.mha')));
  assert.is(await plainMetaImageHeader(file), undefined);
  const [inWorker, onMain] = await Promise.all([readVolumeInWorker(file), readVolume(file)]);
  assert.is(inWorker.componentType, onMain.componentType);
  assert.is(inWorker.data.constructor, onMain.data.constructor);
  assert.equal(inWorker.size, onMain.size);
  assert.equal(inWorker.spacing, onMain.spacing);
  assert.equal(inWorker.origin, onMain.origin);
  assert.equal(inWorker.direction, onMain.direction);
  assert.equal([...inWorker.metadata], [...onMain.metadata]);
  assert.ok(Buffer.from(inWorker.data.buffer, inWorker.data.byteOffset, inWorker.data.byteLength).equals(
    Buffer.from(onMain.data.buffer, onMain.data.byteOffset, onMain.data.byteLength)));
});

test('readVolumeInWorker keeps the error type and message', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-read-'));
  const cases = [path.join(dir, 'absent.mha'), path.join(dir, 'notes.txt')];
  await fs.writeFile(cases[1], 'not an image');
  for (const file of cases) {
    const expected = await readVolume(file).then(() => undefined, (error: Error) => error);
    const actual = await readVolumeInWorker(file).then(() => undefined, (error: Error) => error);
    assert.ok(expected !== undefined, `readVolume accepted ${file}`);
    assert.ok(actual !== undefined, `readVolumeInWorker accepted ${file}`);
    assert.is(actual!.constructor, expected!.constructor, file);
    assert.is(actual!.message, expected!.message, file);
  }
});

test.run();
