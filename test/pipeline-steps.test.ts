import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Balaitous, PIPELINE_STEPS } from '../src/index.js';
import { setLogLevel } from '../src/log.js';
import { FIXTURE_MODELS_DIR, SHARED_DIR } from './helpers.js';

const SCAN = path.join(SHARED_DIR, 'data', 'ct', 'cip-copdgene-ct64.mha');

setLogLevel('warn');

test('onStep reports every step in order', async () => {
  const model = await Balaitous.load({ models: FIXTURE_MODELS_DIR, device: 'cpu' });
  try {
    const calls: Array<[string, number, number]> = [];
    const result = await model.predict(SCAN, { onStep: (step, index, total) => calls.push([step, index, total]) });
    assert.equal(calls.map(([step]) => step), [...PIPELINE_STEPS]);
    assert.equal(calls.map(([, index]) => index), PIPELINE_STEPS.map((_, index) => index));
    assert.ok(calls.every(([, , total]) => total === PIPELINE_STEPS.length));
    assert.equal(Object.keys(result.timings), PIPELINE_STEPS.filter((step) => step !== 'read_image'));
  } finally {
    await model.dispose();
  }
});

test.run();
