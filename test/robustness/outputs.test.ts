import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { loadModels, releaseModels } from '../../src/models.js';
import { OUTPUT_FILES, writeOutputs } from '../../src/outputs.js';
import { runPipeline } from '../../src/pipeline.js';
import { FIXTURE_MODELS_DIR } from '../helpers.js';
import { collectStderr, makePhantom, temporaryDir } from './fixtures.js';

for (const [name, value] of [['NaN', NaN], ['Infinity', Infinity], ['-0.1', -0.1], ['1.5', 1.5]] as const) {
  test(`writeOutputs rejects ${name}`, async () => {
    const output = await temporaryDir();
    const { error } = await collectStderr(() => writeOutputs(output, { covid: 0.5, severe: value }));
    assert.instance(error, RangeError);
    assert.match((error as Error).message, new RegExp(`output severe = ${name.replace('.', '\\.')} is not a probability in \\[0, 1\\]; nothing was written`));
    assert.equal(await fs.readdir(output), []);
  });
}

test('writeOutputs writes bare numbers and nothing else', async () => {
  const output = await temporaryDir();
  await writeOutputs(output, { covid: 0.25, severe: 1 });
  assert.equal((await fs.readdir(output)).sort(), [OUTPUT_FILES.covid, OUTPUT_FILES.severe].sort());
  assert.is(await fs.readFile(path.join(output, OUTPUT_FILES.covid), 'utf8'), '0.25\n');
  assert.is(await fs.readFile(path.join(output, OUTPUT_FILES.severe), 'utf8'), '1\n');
});

test('a failed second rename removes the first output', async () => {
  const output = await temporaryDir();
  // A non-empty folder where the severe output goes: renaming a file onto it fails.
  await fs.outputFile(path.join(output, OUTPUT_FILES.severe, 'keep'), '');
  const { error } = await collectStderr(() => writeOutputs(output, { covid: 0.25, severe: 0.75 }));
  assert.instance(error, Error);
  assert.match((error as Error).message, /cannot write outputs to .* \(.*\); nothing was written/);
  assert.equal(await fs.readdir(output), [OUTPUT_FILES.severe]);
  assert.equal(await fs.readdir(path.join(output, OUTPUT_FILES.severe)), ['keep']);
});

test('writeOutputs overwrites a leftover temporary file', async () => {
  const output = await temporaryDir();
  await fs.writeFile(path.join(output, `.${OUTPUT_FILES.covid}.${process.pid}.tmp`), 'half');
  await writeOutputs(output, { covid: 0.5, severe: 0.5 });
  assert.equal((await fs.readdir(output)).sort(), [OUTPUT_FILES.covid, OUTPUT_FILES.severe].sort());
});

test('non-finite probabilities stop the pipeline', async () => {
  const { result: models, stderr } = await collectStderr(() => loadModels({ models: FIXTURE_MODELS_DIR, device: 'cpu' }));
  assert.ok(models !== undefined, stderr);
  try {
    // Weights that load checks would reject, set in memory: a NaN intercept makes a NaN logit.
    models.heads.heads.full_covid.intercept = NaN;
    const { error } = await collectStderr(() => runPipeline(makePhantom(), models, { source: 'phantom' }));
    assert.instance(error, RangeError);
    assert.match((error as Error).message, /the models returned non-finite probabilities \(covid NaN, severe 0\.\d+\)/);
  } finally {
    await releaseModels(models);
  }
});

test.run();
