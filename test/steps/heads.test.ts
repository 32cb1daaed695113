import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { HEAD_NAMES, type HeadWeights, applyHeads, checkHeadWeights } from '../../src/steps/heads.js';
import { FIXTURE_MODELS_DIR, REFERENCE_CASES, SHARED_DIR } from '../helpers.js';

const weights: HeadWeights = await fs.readJson(path.join(FIXTURE_MODELS_DIR, 'heads.json'));

for (const name of REFERENCE_CASES) {
  test(`applyHeads reproduces the reference on ${name}`, async () => {
    const reference = await fs.readJson(path.join(SHARED_DIR, 'reference', name, 'reference.json'));
    const features = { full: Float32Array.from(reference.features.full), lung: Float32Array.from(reference.features.lung) };

    const prediction = applyHeads(weights, features, reference.age, reference.sex);

    for (const head of HEAD_NAMES) {
      assert.ok(Math.abs(prediction.heads[head] - reference.prediction[head]) < 1e-12, `${head}: ${prediction.heads[head]} vs ${reference.prediction[head]}`);
    }
    assert.ok(Math.abs(prediction.covid - reference.prediction.covid) < 1e-12);
    assert.ok(Math.abs(prediction.severe - reference.prediction.severe) < 1e-12);
  });
}

test('checkHeadWeights rejects a coefficient vector of the wrong length', () => {
  const broken = structuredClone(weights);
  broken.heads.lung_severe.coef.pop();
  assert.throws(() => checkHeadWeights(broken, 'heads.json'), /lung_severe has 65 coefficients, expected 66/);
});

test('applyHeads rejects features of the wrong length', () => {
  const features = { full: new Float32Array(3), lung: new Float32Array(3) };
  assert.throws(() => applyHeads(weights, features, 0.5, 0.5), /expects 64 features, got 3/);
});

test.run();
