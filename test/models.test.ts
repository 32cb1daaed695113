/**
 * Models directories: `balaitous models verify` on good and tampered directories, external data
 * and variant files, and the lookup order that `balaitous models info` prints.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { type Manifest, manifestFiles, modelFile, verifyModelsDir } from '../src/models.js';
import { FIXTURE_MODELS_DIR, REPO_ROOT } from './helpers.js';

const CLI = path.join(REPO_ROOT, 'bin', 'balaitous.js');

function run(args: string[], env: Record<string, string | undefined> = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO_ROOT, env: { ...process.env, ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function copyOfFixtureModels(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-models-'));
  await fs.copy(FIXTURE_MODELS_DIR, dir);
  return dir;
}

test('verify lists every file of a good directory', () => {
  const { code, stdout } = run(['models', 'verify', FIXTURE_MODELS_DIR]);
  assert.is(code, 0);
  assert.match(stdout, `${FIXTURE_MODELS_DIR}: OK (fixture-tiny, every file matches its sha256: `);
  assert.match(stdout, 'lungmask, lungmask fp16, vit_full, vit_full fp16, vit_lung, vit_lung fp16, heads');
});

test('verify names each tampered file', async () => {
  const dir = await copyOfFixtureModels();
  // One flipped byte in a variant, one truncated model and one deleted file.
  const variant = path.join(dir, 'vit_full.fp16.onnx');
  const bytes = await fs.readFile(variant);
  bytes[bytes.length - 1] ^= 0xff;
  await fs.writeFile(variant, bytes);
  await fs.truncate(path.join(dir, 'lungmask.onnx'), 1000);
  await fs.remove(path.join(dir, 'vit_lung.fp16.onnx'));

  const { code, stdout } = run(['models', 'verify', dir]);
  assert.is(code, 1);
  assert.match(stdout, `${dir}: INVALID`);
  assert.match(stdout, /lungmask\.onnx: sha256 [0-9a-f]{64} does not match the manifest's [0-9a-f]{64} \(lungmask, 1000 bytes instead of 7289660\)/);
  assert.match(stdout, /vit_full\.fp16\.onnx: sha256 [0-9a-f]{64} does not match the manifest's [0-9a-f]{64} \(vit_full fp16\)/);
  assert.match(stdout, 'vit_lung.fp16.onnx: missing (listed in the manifest as vit_lung fp16)');
  assert.not.match(stdout, 'vit_full.onnx:');
  assert.not.match(stdout, 'heads.json:');
});

test('verify checks external data files', async () => {
  const dir = await copyOfFixtureModels();
  const manifestPath = path.join(dir, 'manifest.json');
  const manifest: Manifest = await fs.readJson(manifestPath);
  await fs.writeFile(path.join(dir, 'vit_full.onnx.data'), 'tensors');
  manifest.files.vit_full.externalData = { path: 'vit_full.onnx.data', sha256: '0'.repeat(64), bytes: 7 };
  manifest.files.vit_lung.variants!.fp16!.externalData = { path: 'vit_lung.fp16.onnx.data', sha256: '0'.repeat(64), bytes: 10 };
  await fs.writeJson(manifestPath, manifest);

  const problems = await verifyModelsDir(dir);
  assert.is(problems.length, 2, problems.join('\n'));
  assert.match(problems[0], /vit_full\.onnx\.data: sha256 [0-9a-f]{64} does not match the manifest's 0{64} \(vit_full external data\)/);
  assert.match(problems[1], 'vit_lung.fp16.onnx.data: missing (listed in the manifest as vit_lung fp16 external data)');
});

test('verify with a precision skips other variants', async () => {
  const dir = await copyOfFixtureModels();
  await fs.remove(path.join(dir, 'vit_lung.fp16.onnx'));
  assert.equal(await verifyModelsDir(dir, undefined, 'fp32'), []);
  const problems = await verifyModelsDir(dir, undefined, 'fp16');
  assert.equal(problems, [`${path.join(dir, 'vit_lung.fp16.onnx')}: missing (listed in the manifest as vit_lung fp16)`]);
});

test('manifestFiles lists models, variants and heads', async () => {
  const manifest: Manifest = await fs.readJson(path.join(FIXTURE_MODELS_DIR, 'manifest.json'));
  const listed = manifestFiles(manifest).map(({ role, precision, entry }) => [role, precision, entry.path]);
  assert.equal(listed, [
    ['lungmask', 'fp32', 'lungmask.onnx'],
    ['lungmask fp16', 'fp16', 'lungmask.fp16.onnx'],
    ['vit_full', 'fp32', 'vit_full.onnx'],
    ['vit_full fp16', 'fp16', 'vit_full.fp16.onnx'],
    ['vit_lung', 'fp32', 'vit_lung.onnx'],
    ['vit_lung fp16', 'fp16', 'vit_lung.fp16.onnx'],
    ['heads', 'fp32', 'heads.json'],
  ]);
});

test('modelFile picks the precision variant', async () => {
  const manifest: Manifest = await fs.readJson(path.join(FIXTURE_MODELS_DIR, 'manifest.json'));
  assert.is(modelFile('/models', manifest, 'vit_lung', 'fp32'), path.join('/models', 'vit_lung.onnx'));
  assert.is(modelFile('/models', manifest, 'vit_lung', 'fp16'), path.join('/models', 'vit_lung.fp16.onnx'));
  delete manifest.files.vit_lung.variants;
  assert.throws(() => modelFile('/models', manifest, 'vit_lung', 'fp16'), /no fp16 variant of vit_lung; export the models again with 'tools\/export-models --fp16'/);
});

test('info prints the lookup order', async () => {
  const explicit = await copyOfFixtureModels();
  const cacheHome = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-cache-'));
  const { code, stdout, stderr } = run(['models', 'info', '--models', explicit], { BALAITOUS_MODELS: FIXTURE_MODELS_DIR, XDG_CACHE_HOME: cacheHome });
  assert.is(code, 0, stderr);
  const lines = stdout.trimEnd().split('\n');
  assert.is(lines.length, 4, stdout);
  assert.is(lines[0], `--models         ${explicit}: fixture-tiny (test models), precisions fp32, fp16`);
  assert.is(lines[1], `$BALAITOUS_MODELS ${FIXTURE_MODELS_DIR}: fixture-tiny (test models), precisions fp32, fp16`);
  assert.ok(lines[2].startsWith(`package models/  ${path.join(REPO_ROOT, 'models')}: `), lines[2]);
  assert.is(lines[3], `user cache       ${path.join(cacheHome, 'balaitous', 'models')}: no manifest.json`);
});

test('info reports an invalid manifest', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-models-'));
  await fs.writeFile(path.join(dir, 'manifest.json'), '{ not json');
  const { code, stdout } = run(['models', 'info'], { BALAITOUS_MODELS: dir });
  assert.is(code, 0);
  assert.match(stdout, `$BALAITOUS_MODELS ${dir}: invalid: ${path.join(dir, 'manifest.json')}: cannot be read as JSON`);
});

test.run();
