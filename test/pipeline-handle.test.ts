/**
 * The scan handle of runPipeline, which lets the full-resolution volume be freed once resampled.
 */
import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { readVolume } from '../src/io/image.js';
import { setLogLevel } from '../src/log.js';
import { loadModels, releaseModels } from '../src/models.js';
import { type ScanHandle, runPipeline } from '../src/pipeline.js';
import { FIXTURE_MODELS_DIR, SHARED_DIR } from './helpers.js';

const SCAN = path.join(SHARED_DIR, 'data', 'ct', 'cip-copdgene-ct64.mha');

setLogLevel('warn');

test('runPipeline clears the scan handle', async () => {
  const models = await loadModels({ models: FIXTURE_MODELS_DIR, device: 'cpu' });
  try {
    const volume = await readVolume(SCAN);
    const handle: ScanHandle = { volume };
    const fromHandle = await runPipeline(handle, models, { intermediates: true });
    assert.is(handle.volume, undefined);

    // The same scan passed as a volume gives the same result and keeps the scan's geometry.
    const fromVolume = await runPipeline(volume, models, { intermediates: true });
    assert.is(fromHandle.covid, fromVolume.covid);
    assert.is(fromHandle.severe, fromVolume.severe);
    assert.equal(fromHandle.intermediates?.scan.size, volume.size);
    assert.equal(fromHandle.intermediates?.scan.spacing, volume.spacing);

    try {
      await runPipeline(handle, models);
      assert.unreachable('expected an error for an emptied handle');
    } catch (error) {
      assert.instance(error, TypeError);
      assert.match((error as Error).message, 'the scan handle has no volume');
    }
  } finally {
    await releaseModels(models);
  }
});

test.run();
