import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Balaitous } from '../../src/index.js';
import { FIXTURE_MODELS_DIR } from '../helpers.js';
import { type PhantomOptions, assertProbability, collectStderr, makePhantom } from './fixtures.js';

let model: Balaitous;
test.before(async () => {
  model = (await collectStderr(() => Balaitous.load({ models: FIXTURE_MODELS_DIR, device: 'cpu' }))).result!;
});
test.after(async () => {
  await model.dispose();
});

async function predict(source: string, options: PhantomOptions, intermediates = false) {
  return collectStderr(() => model.predict(makePhantom(options), { source, intermediates }));
}

test('a body without lungs is rejected', async () => {
  const { error } = await predict('no-lungs', { lungs: 'none' });
  assert.instance(error, Error);
  assert.match((error as Error).message, /^no-lungs: no lung found: the lung mask is empty after cleaning/);
});

for (const [slices, halfLength] of [[1, 2], [2, 5]] as const) {
  test(`lungs on ${slices} slice(s) are rejected`, async () => {
    const { result, error } = await predict(`lungs-${slices}`, { lungHalfLengthMm: halfLength });
    assert.is(result, undefined);
    assert.instance(error, Error);
    assert.match((error as Error).message, new RegExp(`^lungs-${slices}: (no lung found|no slice left: the lungs span [12] axial slice)`));
  });
}

test('lungs touching each other are scored', async () => {
  const { result, stderr } = await predict('touching', { lungs: 'touching' }, true);
  assert.ok(result !== undefined, stderr);
  assertProbability(result.covid, 'covid');
  assertProbability(result.severe, 'severe');
  // Voxels of both labels survive the cleaning of step 5.
  const labels = new Set(result.intermediates!.lungmaskLabels.data);
  assert.ok(labels.has(1), `labels ${[...labels].join(', ')}`);
  assert.ok(labels.has(2), `labels ${[...labels].join(', ')}`);
});

test('air outside the body is not taken for lung', async () => {
  const { result, stderr } = await predict('air-outside', { airOutsideBody: true }, true);
  assert.ok(result !== undefined, stderr);
  assertProbability(result.covid, 'covid');
  assertProbability(result.severe, 'severe');
  // The air ball is centred at x = y = -120 mm; on the 1.5 mm grid with origin at the phantom's
  // first voxel centre, that is column (-120 + 173.25) / 1.5 and row likewise, at every slice.
  const { maskClean, resampled } = result.intermediates!;
  const [height, width, depth] = maskClean.shape;
  const index = Math.round((-120 + 173.25) / 1.5);
  const row = height - 1 - index;
  for (let z = 0; z < depth; z++) {
    // The resampled voxel is the ball's air, so the point checked is the right one.
    assert.ok(resampled.data[index + resampled.size[0] * (index + resampled.size[1] * z)] < -900, `slice ${z} is not air there`);
    assert.is(maskClean.data[(row * width + index) * depth + z], 0, `slice ${z}`);
  }
});

test.run();
