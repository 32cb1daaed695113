import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Balaitous } from '../../src/index.js';
import { readVolume, writeVolume } from '../../src/io/image.js';
import type { PipelineResult } from '../../src/pipeline.js';
import type { Volume } from '../../src/volume.js';
import { FIXTURE_MODELS_DIR } from '../helpers.js';
import { collectStderr, makePhantom, multiply, rotationZ, storeWithDirection, temporaryDir } from './fixtures.js';

/** The same voxels reach the networks, so only ONNX Runtime's run-to-run noise may remain. */
const SAME_ANATOMY_TOLERANCE = 1e-6;

let dir = '';
let model: Balaitous;
let reference: PipelineResult;
const phantom = makePhantom();

test.before(async () => {
  dir = await temporaryDir();
  model = (await collectStderr(() => Balaitous.load({ models: FIXTURE_MODELS_DIR, device: 'cpu' }))).result!;
  reference = (await score('identity', phantom)).result;
});
test.after(async () => {
  await model.dispose();
});

/** Stores the volume as a MetaImage, reads it back, scores it; returns the result and the log. */
async function score(name: string, volume: Volume): Promise<{ result: PipelineResult; stderr: string }> {
  const file = path.join(dir, `${name}.mha`);
  await writeVolume(file, volume);
  const { result, error, stderr } = await collectStderr(() => model.predict(file));
  assert.ok(result !== undefined, `${name}: ${String(error)}\n${stderr}`);
  return { result, stderr };
}

function assertSameAsIdentity(result: PipelineResult, name: string): void {
  assert.ok(Math.abs(result.covid - reference.covid) <= SAME_ANATOMY_TOLERANCE, `${name}: covid ${result.covid} vs ${reference.covid}`);
  assert.ok(Math.abs(result.severe - reference.severe) <= SAME_ANATOMY_TOLERANCE, `${name}: severe ${result.severe} vs ${reference.severe}`);
}

const AXIS_ALIGNED: [string, number[]][] = [
  ['diag(-1, -1, 1), prone head first', [-1, 0, 0, 0, -1, 0, 0, 0, 1]],
  ['diag(1, 1, -1), slices from the feet', [1, 0, 0, 0, 1, 0, 0, 0, -1]],
  ['diag(-1, 1, -1), supine feet first', [-1, 0, 0, 0, 1, 0, 0, 0, -1]],
  ['diag(1, -1, -1), prone feet first', [1, 0, 0, 0, -1, 0, 0, 0, -1]],
  ['axes permuted, sagittal slices', [0, 0, 1, 1, 0, 0, 0, 1, 0]],
];

for (const [name, direction] of AXIS_ALIGNED) {
  test(`${name} scores as the identity`, async () => {
    const stored = storeWithDirection(phantom, direction);
    // The voxels are laid out differently on disk; only the direction brings them back.
    assert.not.equal(Array.from(stored.data.subarray(0, 4096)), Array.from(phantom.data.subarray(0, 4096)));
    const { result } = await score(name.replace(/\W+/g, '-'), stored);
    assertSameAsIdentity(result, name);
  });
}

test('the stored direction survives the file round trip', async () => {
  const direction = [0, 0, 1, 1, 0, 0, 0, 1, 0];
  const file = path.join(dir, 'round-trip.mha');
  await writeVolume(file, storeWithDirection(phantom, direction));
  assert.equal((await readVolume(file)).direction, direction);
});

for (const [name, base] of [
  ['oblique, 3 degrees about z', [1, 0, 0, 0, 1, 0, 0, 0, 1]],
  ['oblique and prone, 2 degrees about z', [-1, 0, 0, 0, -1, 0, 0, 0, 1]],
] as const) {
  test(`${name} scores as the nearest axis-aligned direction, with a warning`, async () => {
    const degrees = Number(/(\d+) degrees/.exec(name)![1]);
    const stored = storeWithDirection(phantom, [...base]);
    const { result, stderr } = await score(name.replace(/\W+/g, '-'), { ...stored, direction: multiply(rotationZ(degrees), [...base]) });
    assert.match(stderr, /oblique direction \[.*\] is treated as the nearest axis-aligned one/);
    assertSameAsIdentity(result, name);
  });
}

test('mirrored anatomy scores differently', async () => {
  // The check above can fail: the same voxels mirrored left-right, stored as identity, are other anatomy.
  const mirrored = storeWithDirection(phantom, [-1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const { result } = await score('mirrored', { ...mirrored, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] });
  const difference = Math.max(Math.abs(result.covid - reference.covid), Math.abs(result.severe - reference.severe));
  assert.ok(difference > 100 * SAME_ANATOMY_TOLERANCE, `difference ${difference}`);
});

test.run();
