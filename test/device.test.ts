/**
 * Device and precision selection, through the container entrypoint: which provider runs each
 * network, the log line that reports it, and the errors of a device or precision that cannot run.
 * The expectations are those of a machine without a GPU, as CI is. Where the CUDA provider is
 * installed, the tests that need it missing are skipped.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { cudaProviderInstalled } from '../src/backend/onnx.js';
import { FIXTURE_MODELS_DIR, REPO_ROOT } from './helpers.js';

const CLI = path.join(REPO_ROOT, 'bin', 'balaitous.js');
const NETWORKS = ['lungmask', 'vit_full', 'vit_lung'];
const OUTPUT_FILES = ['probability-covid-19.json', 'probability-severe-covid-19.json'];
/**
 * Largest difference allowed between the fp16 and fp32 probabilities of the test models on
 * inputs-example. ONNX Runtime's CPU provider measured 8e-5.
 */
const FP16_PROBABILITY_TOLERANCE = 1e-3;

async function runGc(extraArgs: string[], models = FIXTURE_MODELS_DIR) {
  const output = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-device-'));
  const args = [CLI, 'gc', '--input', 'inputs-example', '--output', output, '--models', models, '--threads', '1', ...extraArgs];
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: REPO_ROOT });
  const files = (await fs.readdir(output)).sort();
  return { code: result.status, stderr: result.stderr, output, files };
}

async function readOutputs(folder: string): Promise<number[]> {
  return Promise.all(OUTPUT_FILES.map(async (file) => JSON.parse(await fs.readFile(path.join(folder, file), 'utf8')) as number));
}

test('device cpu logs the provider of each network', async () => {
  const { code, stderr, files } = await runGc(['--device', 'cpu']);
  assert.is(code, 0, stderr);
  for (const name of NETWORKS) {
    assert.match(stderr, `balaitous info: ${name}: running on cpu with 1 thread(s) (device cpu)`);
  }
  assert.equal(files, OUTPUT_FILES);
});

test('device auto logs why it runs on the CPU', async () => {
  if (cudaProviderInstalled()) {
    console.log('  skipped: the CUDA provider is installed here');
    return;
  }
  const { code, stderr } = await runGc(['--device', 'auto']);
  assert.is(code, 0, stderr);
  for (const name of NETWORKS) {
    assert.match(stderr, `${name}: running on cpu with 1 thread(s) (device auto: onnxruntime-node's CUDA provider is not installed)`);
  }
});

test('device cuda without its provider fails', async () => {
  if (cudaProviderInstalled()) {
    console.log('  skipped: the CUDA provider is installed here');
    return;
  }
  const { code, stderr, files } = await runGc(['--device', 'cuda']);
  assert.is(code, 1);
  assert.match(stderr, /lungmask: cannot run on cuda: onnxruntime-node's CUDA provider \(libonnxruntime_providers_cuda\.so\) is not installed/);
  assert.match(stderr, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
  assert.not.match(stderr, /running on cpu/);
  assert.equal(files, []);
});

test('device webgpu runs or fails clearly', async () => {
  const { code, stderr, files } = await runGc(['--device', 'webgpu']);
  if (code === 0) {
    // A machine with a WebGPU adapter: every network must run there.
    for (const name of NETWORKS) assert.match(stderr, `${name}: running on webgpu (device webgpu)`);
    return;
  }
  assert.is(code, 1);
  assert.match(stderr, /lungmask: cannot run on webgpu \(Failed to get a WebGPU adapter[^)]*\); WebGPU needs a GPU/);
  assert.match(stderr, /use --device cpu or --device auto/);
  assert.not.match(stderr, /running on cpu/);
  assert.equal(files, []);
});

test('precision fp16 runs the fp16 variants', async () => {
  const fp32 = await runGc(['--device', 'cpu']);
  const fp16 = await runGc(['--device', 'cpu', '--precision', 'fp16']);
  assert.is(fp16.code, 0, fp16.stderr);
  assert.match(fp16.stderr, 'networks in fp16: lungmask.fp16.onnx, vit_full.fp16.onnx, vit_lung.fp16.onnx');
  const expected = await readOutputs(fp32.output);
  const actual = await readOutputs(fp16.output);
  for (const [index, file] of OUTPUT_FILES.entries()) {
    const difference = Math.abs(actual[index] - expected[index]);
    assert.ok(difference <= FP16_PROBABILITY_TOLERANCE, `${file}: fp16 ${actual[index]} vs fp32 ${expected[index]}`);
  }
});

test('precision fp16 without variants fails', async () => {
  const models = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-models-'));
  await fs.copy(FIXTURE_MODELS_DIR, models);
  const manifest = await fs.readJson(path.join(models, 'manifest.json'));
  delete manifest.files.lungmask.variants;
  await fs.writeJson(path.join(models, 'manifest.json'), manifest);
  const { code, stderr, files } = await runGc(['--precision', 'fp16'], models);
  assert.is(code, 1);
  assert.match(stderr, /manifest\.json: no fp16 variant of lungmask; export the models again with 'tools\/export-models --fp16'/);
  assert.equal(files, []);
});

test('invalid precision is a usage error', async () => {
  const { code, stderr } = await runGc(['--precision', 'fp8']);
  assert.is(code, 2);
  assert.match(stderr, /invalid --precision "fp8": expected one of fp32, fp16/);
});

test.run();
