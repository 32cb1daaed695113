import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Balaitous } from '../src/index.js';
import { readVolume } from '../src/io/image.js';
import { readNpy } from '../src/io/npy.js';
import { setLogLevel } from '../src/log.js';
import { HEAD_NAMES } from '../src/steps/heads.js';
import type { NdArray } from '../src/volume.js';
import { FIXTURE_MODELS_DIR, REFERENCE_CASES, SHARED_DIR } from './helpers.js';

/** Largest |Δp| allowed between this port and the reference implementation. */
const PROBABILITY_TOLERANCE = 1e-4;
/** Largest feature difference allowed, relative to the largest feature magnitude. */
const FEATURE_TOLERANCE = 1e-4;
/** U-Net scores closer than this count as a tie, where float32 rounding may pick either class. */
const SCORE_TIE = 1e-4;
/** Largest |offset + Σ contributions − logit| allowed, relative to |logit|. */
const EXPLANATION_TOLERANCE = 1e-9;
/**
 * Largest share of the logit that the explanation may attribute to float32 rounding of the mean
 * features, relative to Σ |coef_i f_i| of the head. A larger share would mean that the per-slice tokens do
 * not average to the features that the heads used.
 */
const ROUNDING_TOLERANCE = 1e-6;
/** Volume of one voxel of the 1.5 × 1.5 × 5 mm grid, in mm³. */
const RESAMPLED_VOXEL_MM3 = 1.5 * 1.5 * 5;

setLogLevel('warn');
const headWeights: { heads: Record<string, { coef: number[] }> } = await fs.readJson(path.join(FIXTURE_MODELS_DIR, 'heads.json'));
const model = await Balaitous.load({ models: FIXTURE_MODELS_DIR, device: 'cpu' });

function mismatches(actual: NdArray, expected: NdArray, name: string): number {
  assert.equal(actual.shape, expected.shape, `${name} shape`);
  let count = 0;
  for (let i = 0; i < expected.data.length; i++) {
    if (actual.data[i] !== expected.data[i]) count++;
  }
  return count;
}

function dice(a: NdArray, b: NdArray): number {
  let both = 0;
  let total = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i] !== 0;
    const y = b.data[i] !== 0;
    if (x && y) both++;
    total += Number(x) + Number(y);
  }
  return total === 0 ? 1 : (2 * both) / total;
}

function maxRelativeDifference(actual: Float32Array, expected: number[]): number {
  const scale = Math.max(...expected.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  return worst;
}

const rows: string[] = [];
let worstExplanationError = 0;

for (const name of REFERENCE_CASES) {
  test(`pipeline matches the reference step by step on ${name}`, async () => {
    const folder = path.join(SHARED_DIR, 'reference', name);
    const reference = await fs.readJson(path.join(folder, 'reference.json'));
    const expected = async (file: string) => readNpy(path.join(folder, `${file}.npy.gz`));

    const result = await model.predict(path.join(SHARED_DIR, 'data', 'ct', `${name}.mha`), { intermediates: true });
    const steps = result.intermediates!;

    const resampled = await readVolume(path.join(folder, 'resampled.mha'));
    const resampledMismatches = mismatches({ data: steps.resampled.data, shape: steps.resampled.size }, { data: resampled.data, shape: resampled.size }, 'resampled');
    assert.is(resampledMismatches, 0, 'resampled voxels');
    assert.is(mismatches(steps.lungmaskInputSlices, await expected('lungmask_input_slices'), 'input slices'), 0, 'lungmask input slices');
    assert.is(mismatches(steps.lungmaskBoxes, await expected('lungmask_boxes'), 'boxes'), 0, 'lungmask boxes');

    // A U-Net label may differ only where its two best class scores tie to within float32 rounding.
    const unetExpected = await expected('lungmask_unet_labels');
    const unetMismatches = mismatches(steps.lungmaskUnetLabels, unetExpected, 'unet labels');
    if (unetMismatches > 0) {
      const gaps = await tieGaps(steps.lungmaskInputSlices, steps.lungmaskUnetLabels, unetExpected);
      assert.ok(Math.max(...gaps) < SCORE_TIE, `U-Net labels differ where scores differ by ${Math.max(...gaps)}`);
    }

    const later = ['lungmask_postprocessed', 'lungmask_labels', 'mask_clean', 'cropped_mask'] as const;
    const actualOf = { lungmask_postprocessed: steps.lungmaskPostprocessed, lungmask_labels: steps.lungmaskLabels, mask_clean: steps.maskClean, cropped_mask: steps.croppedMask };
    const diceOf: Record<string, number> = {};
    for (const file of later) {
      const reference = await expected(file);
      const count = mismatches(actualOf[file], reference, file);
      diceOf[file] = dice(actualOf[file], reference);
      if (unetMismatches === 0) assert.is(count, 0, `${file} voxels`);
      else assert.ok(diceOf[file] > 0.999, `${file} Dice ${diceOf[file]}`);
    }
    const croppedImageMismatches = mismatches(steps.croppedImage, await expected('cropped_image'), 'cropped_image');
    if (unetMismatches === 0) assert.is(croppedImageMismatches, 0, 'cropped_image voxels');

    assert.is(result.age, reference.age);
    assert.is(result.sex, reference.sex);
    const fullDifference = maxRelativeDifference(result.features.full, reference.features.full);
    const lungDifference = maxRelativeDifference(result.features.lung, reference.features.lung);
    assert.ok(fullDifference < FEATURE_TOLERANCE, `full features differ by ${fullDifference}`);
    assert.ok(lungDifference < FEATURE_TOLERANCE, `lung features differ by ${lungDifference}`);

    const covidDifference = Math.abs(result.covid - reference.prediction.covid);
    const severeDifference = Math.abs(result.severe - reference.prediction.severe);
    assert.ok(covidDifference <= PROBABILITY_TOLERANCE, `|Δ covid| = ${covidDifference}`);
    assert.ok(severeDifference <= PROBABILITY_TOLERANCE, `|Δ severe| = ${severeDifference}`);

    // Each head's logit is its offset plus the sum of its per-slice contributions.
    const [sliceStart, sliceEnd] = result.sliceRange;
    let explanationError = 0;
    for (const head of HEAD_NAMES) {
      const { offset, slices, rounding } = result.explanation[head];
      assert.is(slices.length, sliceEnd - sliceStart, `${head} slice count`);
      assert.equal(slices.map((slice) => slice.resampledSlice), Array.from({ length: sliceEnd - sliceStart }, (_, k) => sliceStart + k), `${head} slice indices`);
      const sum = slices.reduce((total, slice) => total + slice.contribution, offset);
      const probability = result.heads[head];
      const logitOfProbability = Math.log(probability / (1 - probability));
      const errorToLogit = Math.abs(sum - result.logits[head]) / Math.abs(result.logits[head]);
      const errorToProbability = Math.abs(sum - logitOfProbability) / Math.abs(logitOfProbability);
      assert.ok(errorToLogit < EXPLANATION_TOLERANCE, `${head}: offset + Σ contributions differs from the logit by ${errorToLogit} relative`);
      assert.ok(errorToProbability < EXPLANATION_TOLERANCE, `${head}: offset + Σ contributions differs from logit(p) by ${errorToProbability} relative`);
      explanationError = Math.max(explanationError, errorToLogit, errorToProbability);
      // Float32 rounding moves each feature by a few 1e-8 of itself, so the share is bounded by Σ |coef_i f_i|.
      const features = head.startsWith('full') ? result.features.full : result.features.lung;
      const { coef } = headWeights.heads[head];
      let termScale = 0;
      for (let i = 0; i < features.length; i++) termScale += Math.abs(coef[i] * features[i]);
      assert.ok(Math.abs(rounding) <= ROUNDING_TOLERANCE * termScale, `${head}: rounding ${rounding} for Σ |coef_i f_i| ${termScale}`);
    }
    worstExplanationError = Math.max(worstExplanationError, explanationError);

    // Slice positions: identity-direction grid, so z is origin + 5 mm per slice.
    const resampledGrid = steps.resampled;
    const firstSlice = result.explanation.full_covid.slices[0];
    assert.is(firstSlice.zMm, resampledGrid.origin[2] + resampledGrid.spacing[2] * sliceStart, 'zMm of the first kept slice');

    // Lung volumes: a direct count of the labelled voxels inside the cleaned mask.
    let rightVoxels = 0;
    let leftVoxels = 0;
    for (let i = 0; i < steps.maskClean.data.length; i++) {
      if (steps.maskClean.data[i] === 0) continue;
      if (steps.lungmaskLabels.data[i] === 1) rightVoxels++;
      if (steps.lungmaskLabels.data[i] === 2) leftVoxels++;
    }
    const measures = result.lungMeasures;
    assert.is(measures.rightMl, (rightVoxels * RESAMPLED_VOXEL_MM3) / 1000, 'right lung volume');
    assert.is(measures.leftMl, (leftVoxels * RESAMPLED_VOXEL_MM3) / 1000, 'left lung volume');
    assert.is(measures.totalMl, ((rightVoxels + leftVoxels) * RESAMPLED_VOXEL_MM3) / 1000, 'total lung volume');
    for (const key of ['wellAeratedFraction', 'compromisedFraction'] as const) {
      assert.ok(measures[key] >= 0, `${key} ${measures[key]}`);
      assert.ok(measures[key] <= 1, `${key} ${measures[key]}`);
    }

    rows.push(
      `${name}: resampled ${resampledMismatches} voxels differ, U-Net labels ${unetMismatches} differ, ` +
        `Dice mask_clean ${diceOf.mask_clean.toFixed(6)}, cropped_image ${croppedImageMismatches} differ, ` +
        `features max rel. Δ ${fullDifference.toExponential(2)} / ${lungDifference.toExponential(2)}, ` +
        `|Δ covid| ${covidDifference.toExponential(2)}, |Δ severe| ${severeDifference.toExponential(2)}, ` +
        `explanation max rel. error ${explanationError.toExponential(2)}, ` +
        `lungs ${measures.rightMl.toFixed(1)} + ${measures.leftMl.toFixed(1)} mL`,
    );
  });
}

/** Runs the U-Net again on the slices where labels differ; returns the score gap at each differing pixel. */
async function tieGaps(slices: NdArray, actual: NdArray, expected: NdArray): Promise<number[]> {
  const { unetInput } = await import('../src/steps/lung-mask.js');
  const internals = (model as unknown as { models: { unet: { run(input: Float32Array, dims: number[]): Promise<{ data: Float32Array }> } } }).models;
  const plane = 256 * 256;
  const gaps: number[] = [];
  for (let z = 0; z < slices.shape[0]; z++) {
    const differing: number[] = [];
    for (let p = 0; p < plane; p++) if (actual.data[z * plane + p] !== expected.data[z * plane + p]) differing.push(p);
    if (differing.length === 0) continue;
    const { data: scores } = await internals.unet.run(unetInput(slices, z, 1), [1, 3, 256, 256]);
    for (const p of differing) {
      gaps.push(Math.abs(scores[actual.data[z * plane + p] * plane + p] - scores[expected.data[z * plane + p] * plane + p]));
    }
  }
  return gaps;
}

test.after(async () => {
  await model.dispose();
  process.stderr.write(`\n${rows.join('\n')}\nexplanation: worst relative error ${worstExplanationError.toExponential(2)}\n`);
});

test.run();
