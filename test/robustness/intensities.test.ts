import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Balaitous } from '../../src/index.js';
import { writeVolume } from '../../src/io/image.js';
import type { PipelineResult } from '../../src/pipeline.js';
import { AIR_HU, checkIntensities } from '../../src/steps/check-scan.js';
import type { Volume } from '../../src/volume.js';
import { FIXTURE_MODELS_DIR } from '../helpers.js';
import { assertProbability, collectStderr, makePhantom, temporaryDir } from './fixtures.js';

/** Float scans keep the fractions that int16 resampling truncates, so their probabilities move a little. */
const FLOAT_TOLERANCE = 1e-3;

let dir = '';
let model: Balaitous;
let int16Result: PipelineResult;
test.before(async () => {
  dir = await temporaryDir();
  model = (await collectStderr(() => Balaitous.load({ models: FIXTURE_MODELS_DIR, device: 'cpu' }))).result!;
  int16Result = await score('int16.mha', makePhantom());
});
test.after(async () => {
  await model.dispose();
});

/** Writes the volume as a MetaImage and scores the file; returns the result and the log. */
async function scoreWithLog(name: string, volume: Volume) {
  const file = path.join(dir, name);
  await writeVolume(file, volume);
  return { file, ...(await collectStderr(() => model.predict(file))) };
}

async function score(name: string, volume: Volume): Promise<PipelineResult> {
  const { result, error, stderr } = await scoreWithLog(name, volume);
  assert.ok(result !== undefined, `${name} was not scored: ${String(error)}\n${stderr}`);
  return result;
}

for (const componentType of ['float32', 'float64'] as const) {
  test(`${componentType} scans are scored like int16`, async () => {
    const result = await score(`${componentType}.mha`, makePhantom({ componentType }));
    assert.ok(Math.abs(result.covid - int16Result.covid) < FLOAT_TOLERANCE, `${result.covid} vs ${int16Result.covid}`);
    assert.ok(Math.abs(result.severe - int16Result.severe) < FLOAT_TOLERANCE, `${result.severe} vs ${int16Result.severe}`);
  });
}

test('uint16 without the HU offset is rejected', async () => {
  const { file, error } = await scoreWithLog('uint16-raw.mha', makePhantom({ componentType: 'uint16', offset: 1024, paddingHu: -1024 }));
  assert.instance(error, Error);
  const { message } = error as Error;
  assert.ok(message.startsWith(`${file}: not in Hounsfield units`), message);
  assert.match(message, /voxel values range from 0 to \d+ \(uint16\), with none below 0/);
  assert.match(message, /HU = value × RescaleSlope \+ RescaleIntercept \(RescaleIntercept is usually -1024\)/);
});

test('int16 without the HU offset is rejected', async () => {
  const { error } = await scoreWithLog('int16-raw.mha', makePhantom({ offset: 1024 }));
  assert.instance(error, Error);
  assert.match((error as Error).message, /not in Hounsfield units: voxel values range from \d+ to \d+ \(int16\)/);
});

test('NaN voxels are scored as air with a warning', async () => {
  const nanPadded = makePhantom({ componentType: 'float32', paddingHu: NaN });
  const airPadded = makePhantom({ componentType: 'float32', paddingHu: AIR_HU });
  const { result, stderr } = await scoreWithLog('nan-padding.mha', nanPadded);
  assert.ok(result !== undefined, stderr);
  assert.match(stderr, /nan-padding\.mha: \d+ voxel\(s\) \(\d+(\.\d+)? %\) are NaN or infinite; they are scored as air \(-1024 HU\)/);
  const reference = await score('air-padding.mha', airPadded);
  assert.is(result.covid, reference.covid);
  assert.is(result.severe, reference.severe);
});

test('a scan of NaN only is rejected', () => {
  const volume = makePhantom({ componentType: 'float32' });
  volume.data.fill(NaN);
  assert.throws(() => checkIntensities(volume, 'blank.mha'), /blank\.mha: every voxel is NaN or infinite/);
});

test('NaN replacement leaves the caller volume unchanged', async () => {
  const volume = makePhantom({ componentType: 'float64', paddingHu: Infinity });
  const { result: checked } = await collectStderr(async () => checkIntensities(volume, 'infinite'));
  assert.ok(volume.data.some((value) => value === Infinity));
  assert.ok(checked !== undefined);
  assert.not.ok(checked.data.some((value) => !Number.isFinite(value)));
});

for (const paddingHu of [-2048, -3024]) {
  test(`padding of ${paddingHu} outside the field of view is scored`, async () => {
    const result = await score(`padding${paddingHu}.mha`, makePhantom({ paddingHu }));
    assertProbability(result.covid, 'covid');
    assertProbability(result.severe, 'severe');
    assert.ok(result.sliceRange[1] > result.sliceRange[0]);
  });
}

test.run();
