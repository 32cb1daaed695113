/**
 * The int8 variants of the ViTs (tools/export-models --int8), made from the test models and
 * stored in test/fixtures/int8: their features against PyTorch's float32 ones, and a whole run
 * with --precision int8 against float32.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import * as ort from 'onnxruntime-node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Balaitous, setLogLevel } from '../src/index.js';
import { type Manifest, sha256File } from '../src/models.js';
import { type CheckInput, makeCheckBatch } from './helpers/check-batch.js';
import { FIXTURE_MODELS_DIR, REPO_ROOT, SHARED_DIR } from './helpers.js';

const INT8_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'int8');
const VITS = ['vit_full', 'vit_lung'] as const;
// Relative L2 error of the int8 features against float32 on the check batch: about 1.2% with these
// random width-64 ViTs. Above 1e-4, so that a float32 model passed off as int8 fails.
const MAX_RELATIVE_ERROR = 0.05;
const MIN_RELATIVE_ERROR = 1e-4;

setLogLevel('warn');

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let squaredError = 0;
  let squaredNorm = 0;
  for (let i = 0; i < expected.length; i++) {
    squaredError += (actual[i] - expected[i]) ** 2;
    squaredNorm += expected[i] ** 2;
  }
  return Math.sqrt(squaredError / squaredNorm);
}

test('int8 ViT features stay near float32', async () => {
  const check = JSON.parse(readFileSync(path.join(FIXTURE_MODELS_DIR, 'check.json'), 'utf8')) as {
    models: Record<(typeof VITS)[number], { input: CheckInput; features: number[][] }>;
  };
  for (const role of VITS) {
    const { input, features } = check.models[role];
    const session = await ort.InferenceSession.create(path.join(INT8_DIR, `${role}.int8.onnx`));
    try {
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', makeCheckBatch(input), input.shape) };
      const output = (await session.run(feeds))[session.outputNames[0]];
      assert.equal([...output.dims], [input.shape[0], features[0].length], `${role} output shape`);
      const error = relativeError(output.data as Float32Array, features.flat());
      assert.ok(error <= MAX_RELATIVE_ERROR, `${role}: relative error ${error}`);
      assert.ok(error >= MIN_RELATIVE_ERROR, `${role}: relative error ${error}, as small as float32's`);
    } finally {
      await session.release();
    }
  }
});

test('precision int8 runs the int8 variants', async () => {
  // The test models plus the int8 files, listed as manifest variants as tools/export-models
  // --int8 lists them. The U-Net's int8 variant is its float32 file.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-int8-'));
  await fs.copy(FIXTURE_MODELS_DIR, dir);
  const manifest: Manifest = await fs.readJson(path.join(dir, 'manifest.json'));
  const { path: unetPath, sha256, bytes } = manifest.files.lungmask;
  manifest.files.lungmask.variants = { ...manifest.files.lungmask.variants, int8: { path: unetPath, sha256, bytes } };
  for (const role of VITS) {
    const file = `${role}.int8.onnx`;
    await fs.copy(path.join(INT8_DIR, file), path.join(dir, file));
    const variant = { path: file, sha256: await sha256File(path.join(dir, file)), bytes: (await fs.stat(path.join(dir, file))).size };
    manifest.files[role].variants = { ...manifest.files[role].variants, int8: variant };
  }
  await fs.writeJson(path.join(dir, 'manifest.json'), manifest);

  const scan = path.join(SHARED_DIR, 'data', 'ct', 'cip-copdgene-ct64.mha');
  const fp32 = await Balaitous.load({ models: dir, device: 'cpu', precision: 'fp32' });
  const int8 = await Balaitous.load({ models: dir, device: 'cpu', precision: 'int8' });
  try {
    const expected = await fp32.predict(scan);
    const actual = await int8.predict(scan);
    // The U-Net is the same file, so the mask and the slices kept are the same.
    assert.equal(actual.sliceRange, expected.sliceRange);
    for (const kind of ['full', 'lung'] as const) {
      const error = relativeError(actual.features[kind], expected.features[kind]);
      assert.ok(error <= MAX_RELATIVE_ERROR, `${kind} features: relative error ${error}`);
      assert.ok(error >= MIN_RELATIVE_ERROR, `${kind} features: relative error ${error}, as small as float32's`);
    }
  } finally {
    await fp32.dispose();
    await int8.dispose();
  }
});

test.run();
