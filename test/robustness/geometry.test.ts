import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Balaitous } from '../../src/index.js';
import { readVolume, writeVolume } from '../../src/io/image.js';
import { checkScan } from '../../src/steps/check-scan.js';
import { FIXTURE_MODELS_DIR } from '../helpers.js';
import { assertProbability, collectStderr, int16Bytes, makePhantom, temporaryDir, writeMetaImage } from './fixtures.js';

let dir = '';
let model: Balaitous;
test.before(async () => {
  dir = await temporaryDir();
  model = (await collectStderr(() => Balaitous.load({ models: FIXTURE_MODELS_DIR, device: 'cpu' }))).result!;
});
test.after(async () => {
  await model.dispose();
});

/** Reads a file and runs the scan checks; returns the error, failing when there is none. */
async function scanError(file: string): Promise<Error> {
  const { error } = await collectStderr(async () => checkScan(await readVolume(file), file));
  assert.instance(error, Error, `${file} passed the checks`);
  assert.ok((error as Error).message.startsWith(file), (error as Error).message);
  return error as Error;
}

async function writeShort(name: string, fields: Record<string, string>, voxels: number, channels = 1): Promise<string> {
  const file = path.join(dir, name);
  const values = Int16Array.from({ length: voxels * channels }, (_, i) => (i % 7) * 100 - 1000);
  await writeMetaImage(file, { ElementType: 'MET_SHORT', ...fields }, int16Bytes(values));
  return file;
}

test('a 2D image is rejected', async () => {
  const file = await writeShort('slice-2d.mha', { NDims: '2', DimSize: '16 16' }, 256);
  assert.match((await scanError(file)).message, /image is 2D; a CT scan is a 3D volume/);
});

test('a 4D image is rejected', async () => {
  const file = await writeShort('series-4d.mha', { NDims: '4', DimSize: '8 8 4 2' }, 512);
  assert.match((await scanError(file)).message, /image is 4D; a CT scan is a 3D volume/);
});

test('vector pixels are rejected', async () => {
  const file = await writeShort('vector.mha', { NDims: '3', DimSize: '8 8 4', ElementNumberOfChannels: '2' }, 256, 2);
  assert.match((await scanError(file)).message, /pixels are Vector with 2 components; a CT scan has scalar pixels/);
});

test('RGB pixels are rejected', async () => {
  const file = path.join(dir, 'rgb.mha');
  await writeMetaImage(file, { NDims: '3', DimSize: '8 8 4', ElementType: 'MET_UCHAR', ElementNumberOfChannels: '3' }, new Uint8Array(768));
  assert.match((await scanError(file)).message, /pixels are .* with 3 components; a CT scan has scalar pixels/);
});

test('a single axial slice is rejected with the extent needed', async () => {
  const file = await writeShort('one-slice.mha', { NDims: '3', DimSize: '16 16 1', ElementSpacing: '0.7 0.7 1.25' }, 256);
  const { message } = await scanError(file);
  assert.match(message, /covers 1\.3 mm along the body axis \(1 slice\(s\) of 1\.25 mm\), 0 slice\(s\) on the 5 mm grid/);
  assert.match(message, /needs at least 15 mm \(3 slices\)/);
});

test('a slab thinner than 5 mm is rejected', async () => {
  const file = await writeShort('thin.mha', { NDims: '3', DimSize: '16 16 4', ElementSpacing: '1 1 1' }, 1024);
  assert.match((await scanError(file)).message, /covers 4\.0 mm along the body axis/);
});

test('the extent check follows the body axis of a permuted direction', async () => {
  // 40 slices of 1 mm along stored axis 0, which the direction maps to z: 8 slices once resampled.
  const file = await writeShort('sagittal.mha', { NDims: '3', DimSize: '40 4 4', ElementSpacing: '1 1 1', TransformMatrix: '0 0 1 1 0 0 0 1 0' }, 640);
  const volume = await readVolume(file);
  assert.equal(volume.direction, [0, 1, 0, 0, 0, 1, 1, 0, 0]);
  assert.not.throws(() => checkScan(volume, file));
});

for (const [name, spacing, pattern] of [
  ['zero', '0.7 0 2', /invalid spacing \[0\.7, 0, 2\] mm: every spacing must be a positive number/],
  ['negative', '0.7 0.7 -2', /negative spacing \[0\.7, 0\.7, -2\] mm is not supported/],
  ['nan', '0.7 nan 2', /invalid spacing \[0\.7, (NaN|null), 2\] mm/],
] as const) {
  test(`spacing ${name} is rejected`, async () => {
    const file = await writeShort(`spacing-${name}.mha`, { NDims: '3', DimSize: '16 16 8', ElementSpacing: spacing }, 2048);
    const { message } = await scanError(file);
    assert.match(message, pattern);
    assert.match(message, /ElementSpacing|absolute value/);
  });
}

test('a direction that is not a rotation is rejected', async () => {
  const volume = makePhantom();
  const sheared = { ...volume, direction: [1, 0.2, 0, 0, 1, 0, 0, 0, 1] };
  assert.throws(() => checkScan(sheared, 'sheared.mha'), /sheared\.mha: direction matrix \[1, 0\.2, 0, 0, 1, 0, 0, 0, 1\] is not orthonormal/);
});

test('data of the wrong length is rejected', () => {
  const volume = makePhantom();
  assert.throws(() => checkScan({ ...volume, size: [64, 64, 13] }, 'memory'), /memory: 49152 voxels of data for a size of 64 × 64 × 13/);
});

test('non-square slices are scored', async () => {
  const file = path.join(dir, 'non-square.mha');
  await writeVolume(file, makePhantom({ size: [64, 48, 12], spacing: [5.5, 5.5, 5] }));
  const { result, stderr } = await collectStderr(() => model.predict(file));
  assert.ok(result !== undefined, stderr);
  assertProbability(result.covid, 'covid');
  assertProbability(result.severe, 'severe');
});

test('15 mm slices are scored', async () => {
  const phantom = makePhantom({ size: [64, 64, 4], spacing: [5.5, 5.5, 15] });
  const { result, stderr } = await collectStderr(() => model.predict(phantom, { source: 'thick-slices' }));
  assert.ok(result !== undefined, stderr);
  assertProbability(result.covid, 'covid');
  assertProbability(result.severe, 'severe');
});

test.run();
