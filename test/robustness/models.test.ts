import { createHash } from 'node:crypto';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { type Manifest, loadModels } from '../../src/models.js';
import { FIXTURE_MODELS_DIR } from '../helpers.js';
import { collectStderr, temporaryDir } from './fixtures.js';

/** Copies the test models into a folder that a test may damage. */
async function copyModels(): Promise<string> {
  const dir = path.join(await temporaryDir(), 'models');
  await fs.copy(FIXTURE_MODELS_DIR, dir);
  return dir;
}

async function editManifest(dir: string, edit: (manifest: Manifest) => void): Promise<void> {
  const file = path.join(dir, 'manifest.json');
  const manifest: Manifest = await fs.readJson(file);
  edit(manifest);
  await fs.writeJson(file, manifest, { spaces: 2 });
}

/** Records the sha256 and size of a file in its manifest entry, as a careless hand edit would. */
async function acceptFile(dir: string, name: 'lungmask' | 'vit_full' | 'vit_lung'): Promise<void> {
  const bytes = await fs.readFile(path.join(dir, `${name}.onnx`));
  await editManifest(dir, (manifest) => {
    manifest.files[name].sha256 = createHash('sha256').update(bytes).digest('hex');
    manifest.files[name].bytes = bytes.length;
  });
}

async function loadError(dir: string): Promise<Error> {
  const { result, error } = await collectStderr(() => loadModels({ models: dir, device: 'cpu' }));
  assert.is(result, undefined, `${dir} loaded`);
  assert.instance(error, Error);
  return error as Error;
}

test('a missing models directory is rejected', async () => {
  const dir = path.join(await temporaryDir(), 'absent');
  assert.match((await loadError(dir)).message, /absent: not a models directory \(manifest\.json not found\)/);
});

test('an incomplete models directory names the file', async () => {
  const dir = await copyModels();
  await fs.remove(path.join(dir, 'vit_lung.onnx'));
  assert.match((await loadError(dir)).message, /vit_lung\.onnx: missing \(listed in the manifest as vit_lung/);
});

test('a corrupted model fails its checksum', async () => {
  const dir = await copyModels();
  const file = path.join(dir, 'lungmask.onnx');
  const bytes = await fs.readFile(file);
  bytes[bytes.length >> 1] ^= 0xff;
  await fs.writeFile(file, bytes);
  assert.match((await loadError(dir)).message, /lungmask\.onnx: sha256 [0-9a-f]{64} does not match the manifest's/);
});

test('a corrupted model with a matching checksum fails to load', async () => {
  const dir = await copyModels();
  const file = path.join(dir, 'vit_lung.onnx');
  await fs.writeFile(file, (await fs.readFile(file)).subarray(0, 50_000));
  await acceptFile(dir, 'vit_lung');
  assert.match((await loadError(dir)).message, /vit_lung\.onnx: cannot be loaded by ONNX Runtime/);
});

test('a swapped model does not match the pipeline', async () => {
  const dir = await copyModels();
  await fs.copy(path.join(dir, 'lungmask.onnx'), path.join(dir, 'vit_full.onnx'));
  await acceptFile(dir, 'vit_full');
  const { message } = await loadError(dir);
  assert.match(message, /vit_full\.onnx: vit_full input "input" float32 \[N, 1, 256, 256\] does not match what the pipeline expects \(float32 \[batch, 3, 224, 224\]\)/);
  assert.match(message, /export the models directory again with tools\/export-models/);
});

test('a feature count unlike the heads is rejected', async () => {
  const dir = await copyModels();
  const headsFile = path.join(dir, 'heads.json');
  const heads = await fs.readJson(headsFile);
  heads.features = 32;
  for (const [name, head] of Object.entries(heads.heads) as [string, { coef: number[] }][]) {
    // The severity heads end with the age and sex coefficients.
    head.coef = name.endsWith('severe') ? [...head.coef.slice(0, 32), ...head.coef.slice(-2)] : head.coef.slice(0, 32);
  }
  await fs.writeJson(headsFile, heads);
  const digest = createHash('sha256').update(await fs.readFile(headsFile)).digest('hex');
  await editManifest(dir, (manifest) => {
    manifest.files.heads.sha256 = digest;
    delete manifest.files.heads.bytes;
  });
  assert.match((await loadError(dir)).message, /vit_full output "features" float32 \[N, 64\] does not match what the pipeline expects \(float32 \[batch, 32\]\)/);
});

test('a model unlike its manifest entry is rejected', async () => {
  const dir = await copyModels();
  await editManifest(dir, (manifest) => {
    manifest.files.vit_lung.outputs![0].name = 'tokens';
  });
  assert.match((await loadError(dir)).message, /vit_lung\.onnx: vit_lung outputs "features" float32 \[N, 64\] do not match the manifest's "tokens" float32 \[N, 64\]/);
});

test('the test models load', async () => {
  const { result, stderr } = await collectStderr(() => loadModels({ models: FIXTURE_MODELS_DIR, device: 'cpu' }));
  assert.ok(result !== undefined, stderr);
  assert.equal(result.unet.inputs, [{ name: 'input', type: 'float32', shape: ['N', 1, 256, 256] }]);
  await Promise.all([result.unet.release(), result.vitFull.release(), result.vitLung.release()]);
});

test.run();
