import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { FIXTURE_MODELS_DIR, REPO_ROOT, SHARED_DIR } from './helpers.js';

const CLI = path.join(REPO_ROOT, 'bin', 'balaitous.js');
/** Outputs of the entrypoint on inputs-example may differ from the committed ones by CPU-specific rounding only. */
const EXPECTED_OUTPUT_TOLERANCE = 1e-5;

function run(args: string[], options: { cwd?: string } = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: options.cwd ?? REPO_ROOT });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function temporaryDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-test-'));
}

/** Writes a small MetaImage by hand, so that the tests can make images the product rejects. */
async function writeMetaImage(file: string, header: Record<string, string>, data: Uint8Array): Promise<void> {
  const lines = Object.entries({ ObjectType: 'Image', ...header, ElementDataFile: 'LOCAL' }).map(([key, value]) => `${key} = ${value}\n`);
  await fs.writeFile(file, Buffer.concat([Buffer.from(lines.join('')), data]));
}

test('gc on inputs-example writes the expected outputs', async () => {
  const output = await temporaryDir();
  const { code, stderr } = run(['gc', '--input', 'inputs-example', '--output', output, '--models', FIXTURE_MODELS_DIR]);
  assert.is(code, 0, stderr);
  assert.match(stderr, /TEST MODELS/);
  for (const file of ['probability-covid-19.json', 'probability-severe-covid-19.json']) {
    const actual = JSON.parse(await fs.readFile(path.join(output, file), 'utf8'));
    const expected = JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'expected-outputs', file), 'utf8'));
    assert.type(actual, 'number');
    assert.ok(Math.abs(actual - expected) < EXPECTED_OUTPUT_TOLERANCE, `${file}: ${actual} vs ${expected}`);
  }
  assert.equal((await fs.readdir(output)).sort(), ['probability-covid-19.json', 'probability-severe-covid-19.json']);
});

test('gc rejects an input folder with two images', async () => {
  const input = await temporaryDir();
  const output = await temporaryDir();
  await fs.ensureDir(path.join(input, 'images', 'ct'));
  for (const name of ['a.mha', 'b.nii.gz']) await fs.writeFile(path.join(input, 'images', 'ct', name), '');
  const { code, stderr } = run(['gc', '--input', input, '--output', output, '--models', FIXTURE_MODELS_DIR]);
  assert.is(code, 1);
  assert.match(stderr, /2 images found \(a\.mha, b\.nii\.gz\)/);
  assert.equal(await fs.readdir(output), []);
});

test('gc rejects an empty input folder', async () => {
  const input = await temporaryDir();
  await fs.ensureDir(path.join(input, 'images', 'ct'));
  const { code, stderr } = run(['gc', '--input', input, '--output', await temporaryDir(), '--models', FIXTURE_MODELS_DIR]);
  assert.is(code, 1);
  assert.match(stderr, /no image found .* it is empty/);
});

test('gc rejects a missing input folder', async () => {
  const input = path.join(await temporaryDir(), 'absent');
  const { code, stderr } = run(['gc', '--input', input, '--models', FIXTURE_MODELS_DIR]);
  assert.is(code, 1);
  assert.match(stderr, /input folder not found/);
});

test('predict rejects a missing file', () => {
  const { code, stderr } = run(['predict', 'no-such-scan.mha', '--models', FIXTURE_MODELS_DIR]);
  assert.is(code, 1);
  assert.match(stderr, /no-such-scan\.mha: file not found/);
});

test('predict rejects RGB pixels', async () => {
  const file = path.join(await temporaryDir(), 'rgb.mha');
  await writeMetaImage(file, { NDims: '3', DimSize: '4 4 4', ElementType: 'MET_UCHAR', ElementNumberOfChannels: '3' }, new Uint8Array(4 * 4 * 4 * 3));
  const { code, stderr } = run(['predict', file, '--models', FIXTURE_MODELS_DIR]);
  assert.is(code, 1);
  assert.match(stderr, /rgb\.mha: pixels are .* with 3 components; a CT scan has scalar pixels/);
});

test('predict rejects a 2D image', async () => {
  const file = path.join(await temporaryDir(), 'slice.mha');
  await writeMetaImage(file, { NDims: '2', DimSize: '4 4', ElementType: 'MET_SHORT' }, new Uint8Array(4 * 4 * 2));
  const { code, stderr } = run(['predict', file, '--models', FIXTURE_MODELS_DIR]);
  assert.is(code, 1);
  assert.match(stderr, /slice\.mha: image is 2D; a CT scan is a 3D volume/);
});

test('predict rejects a file that is not an image', async () => {
  const file = path.join(await temporaryDir(), 'notes.mha');
  await fs.writeFile(file, 'not an image\n');
  const { code, stderr } = run(['predict', file, '--models', FIXTURE_MODELS_DIR]);
  assert.is(code, 1);
  assert.match(stderr, /notes\.mha: not a MetaImage file/);
});

test('predict rejects an invalid --sex', () => {
  const { code, stderr } = run(['predict', 'scan.mha', '--sex', '2']);
  assert.is(code, 2);
  assert.match(stderr, /invalid --sex 2: expected 0 \(female\), 0\.5 \(unknown\) or 1 \(male\)/);
});

test('predict rejects a non-numeric --age', () => {
  const { code, stderr } = run(['predict', 'scan.mha', '--age', 'old']);
  assert.is(code, 2);
  assert.match(stderr, /invalid --age "old": expected a number/);
});

test('predict rejects an unknown option by name', () => {
  const { code, stderr } = run(['predict', 'scan.mha', '--fast']);
  assert.is(code, 2);
  assert.match(stderr, /--fast/);
});

test('predict rejects an invalid --device', () => {
  const { code, stderr } = run(['predict', 'scan.mha', '--device', 'tpu']);
  assert.is(code, 2);
  assert.match(stderr, /invalid --device "tpu"/);
});

test('predict rejects a models directory that does not match its manifest', async () => {
  const models = await temporaryDir();
  await fs.copy(FIXTURE_MODELS_DIR, models);
  const heads = await fs.readJson(path.join(models, 'heads.json'));
  heads.heads.full_covid.intercept += 1;
  await fs.writeJson(path.join(models, 'heads.json'), heads);
  const { code, stderr } = run(['predict', path.join(SHARED_DIR, 'data', 'ct', 'cip-copdgene-ct64.mha'), '--models', models]);
  assert.is(code, 1);
  assert.match(stderr, /heads\.json: sha256 [0-9a-f]{64} does not match the manifest's/);
});

test('predict --json prints probabilities, providers and timings', () => {
  const scan = path.join(SHARED_DIR, 'data', 'ct', 'cip-copdgene-ct64.mha');
  const { code, stdout, stderr } = run(['predict', scan, '--models', FIXTURE_MODELS_DIR, '--json', '--age', '70', '--sex', '1']);
  assert.is(code, 0, stderr);
  const output = JSON.parse(stdout);
  assert.ok(output.covid >= 0 && output.covid <= 1);
  assert.ok(output.severe >= 0 && output.severe <= 1);
  assert.is(output.age, 0.7);
  assert.is(output.sex, 1);
  assert.equal(output.providers, { lungmask: 'cpu', vit_full: 'cpu', vit_lung: 'cpu' });
  assert.type(output.timings.lung_mask, 'number');
});

test('predict --json prints the explanation and lung measures', () => {
  const scan = path.join(SHARED_DIR, 'data', 'ct', 'cip-copdgene-ct64.mha');
  const { code, stdout, stderr } = run(['predict', scan, '--models', FIXTURE_MODELS_DIR, '--json']);
  assert.is(code, 0, stderr);
  const output = JSON.parse(stdout);
  for (const head of ['full_covid', 'lung_covid', 'full_severe', 'lung_severe']) {
    const { offset, slices } = output.explanation[head];
    assert.ok(slices.length > 0, `${head} has no slice`);
    const sum = slices.reduce((total: number, slice: { contribution: number }) => total + slice.contribution, offset);
    const logitOfProbability = Math.log(output.heads[head] / (1 - output.heads[head]));
    assert.ok(Math.abs(sum - logitOfProbability) <= 1e-9 * Math.abs(logitOfProbability), `${head}: ${sum} vs ${logitOfProbability}`);
    assert.type(slices[0].zMm, 'number');
  }
  const measures = output.lungMeasures;
  assert.ok(measures.totalMl > 0);
  assert.ok(Math.abs(measures.totalMl - (measures.rightMl + measures.leftMl)) < 1e-9, `total ${measures.totalMl} mL`);
  assert.is(measures.note, 'descriptive, not used by the model');
});

test('--version prints the package version', async () => {
  const { version } = await fs.readJson(path.join(REPO_ROOT, 'package.json'));
  const { code, stdout } = run(['--version']);
  assert.is(code, 0);
  assert.is(stdout.trim(), version);
});

test('models verify reports a good directory', () => {
  const { code, stdout } = run(['models', 'verify', FIXTURE_MODELS_DIR]);
  assert.is(code, 0);
  assert.match(stdout, /OK \(fixture-tiny/);
});

test.run();
