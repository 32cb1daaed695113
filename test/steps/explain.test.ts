import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { formatExplanationCsv, formatExplanationOffsetsCsv } from '../../src/debug-dir.js';
import { explainHeads, slicePositions } from '../../src/steps/explain.js';
import { type RunVit, extractFeatures, extractSliceFeatures, vitInput } from '../../src/steps/features.js';
import { HEAD_NAMES, type HeadWeights, applyHeads } from '../../src/steps/heads.js';
import { reorientToIdentity } from '../../src/steps/reorient.js';
import { resample } from '../../src/steps/resample.js';
import type { Geometry, NdArray, Volume } from '../../src/volume.js';

const IDENTITY = [1, 0, 0, 0, 1, 0, 0, 0, 1];
const HEIGHT = 4;
const WIDTH = 4;
const DEPTH = 5;
const DIMENSION = 3;

/** Returns an (H, W, Z) image whose voxels take many different HU values. */
function testImage(): NdArray<Float32Array> {
  const data = Float32Array.from({ length: HEIGHT * WIDTH * DEPTH }, (_, i) => -1000 + ((i * 37) % 1500));
  return { data, shape: [HEIGHT, WIDTH, DEPTH] };
}

/** Computes three stand-in features per image from its pixels, so that a flipped image gives other features. */
const runVit: RunVit = async (input, count) => {
  const plane = HEIGHT * WIDTH;
  const tokens = new Float32Array(count * DIMENSION);
  for (let n = 0; n < count; n++) {
    const image = input.subarray(n * 3 * plane, (n + 1) * 3 * plane);
    let channelSum = 0;
    for (let p = 0; p < plane; p++) channelSum += image[p];
    tokens[n * DIMENSION] = channelSum / plane;
    tokens[n * DIMENSION + 1] = image[0];
    tokens[n * DIMENSION + 2] = image[2 * plane + 5] - image[1];
  }
  return tokens;
};

const weights: HeadWeights = {
  features: DIMENSION,
  heads: {
    full_covid: { coef: [0.5, -1.25, 2], intercept: -0.3 },
    lung_covid: { coef: [-0.75, 0.2, 1.1], intercept: 0.45 },
    full_severe: { coef: [0.1, 0.9, -0.6, 1.5, -0.4], intercept: 0.05 },
    lung_severe: { coef: [1.3, -0.2, 0.35, -2, 0.8], intercept: -1.1 },
  },
  alpha: { full_covid: 0.35, lung_covid: 0.65, full_severe: 0.5, lung_severe: 0.5 },
};

test('extractSliceFeatures keeps each slice token', async () => {
  const image = testImage();
  const { tokens } = await extractSliceFeatures(image, runVit, 2);
  assert.equal(tokens.shape, [2, DEPTH, DIMENSION]);
  for (const [flipIndex, flip] of [false, true].entries()) {
    for (let z = 0; z < DEPTH; z++) {
      const expected = await runVit(vitInput(image, z, 1, flip), 1);
      const start = (flipIndex * DEPTH + z) * DIMENSION;
      assert.equal(Array.from(tokens.data.subarray(start, start + DIMENSION)), Array.from(expected), `flip ${flip}, slice ${z}`);
    }
  }
});

test('extractSliceFeatures mean matches extractFeatures', async () => {
  const image = testImage();
  const { mean, tokens } = await extractSliceFeatures(image, runVit, 2);
  assert.equal(Array.from(mean), Array.from(await extractFeatures(image, runVit, 2)));
  for (let d = 0; d < DIMENSION; d++) {
    let sum = 0;
    for (let z = 0; z < DEPTH; z++) {
      sum += (tokens.data[z * DIMENSION + d] + tokens.data[(DEPTH + z) * DIMENSION + d]) / 2;
    }
    const average = sum / DEPTH;
    assert.ok(Math.abs(mean[d] - average) <= 1e-6 * Math.abs(average), `feature ${d}: ${mean[d]} vs ${average}`);
  }
});

test('explainHeads sums to each head logit', async () => {
  const image = testImage();
  const full = await extractSliceFeatures(image, runVit, 2);
  const halved = { data: image.data.map((value) => value / 2), shape: image.shape };
  const lung = await extractSliceFeatures(halved, runVit, 3);
  const age = 0.72;
  const sex = 1;
  const prediction = applyHeads(weights, { full: full.mean, lung: lung.mean }, age, sex);
  const grid: Geometry = { size: [HEIGHT, WIDTH, 20], spacing: [1.5, 1.5, 5], origin: [0, 0, -40], direction: IDENTITY };
  const explanation = explainHeads(weights, { full: full.tokens, lung: lung.tokens }, prediction.logits, age, sex, slicePositions(grid, [10, 10 + DEPTH]));

  for (const head of HEAD_NAMES) {
    const { offset, logit, rounding, slices } = explanation[head];
    const { coef, intercept } = weights.heads[head];
    const expectedOffset = head.endsWith('severe') ? intercept + age * coef[DIMENSION] + sex * coef[DIMENSION + 1] : intercept;
    assert.is(offset, expectedOffset, `${head} offset`);
    assert.is(logit, prediction.logits[head], `${head} logit`);
    assert.is(slices.length, DEPTH, `${head} slice count`);

    const sum = slices.reduce((total, slice) => total + slice.contribution, offset);
    assert.ok(Math.abs(sum - logit) <= 1e-12 * Math.abs(logit), `${head}: offset + Σ contributions = ${sum}, logit ${logit}`);
    const absoluteSum = slices.reduce((total, slice) => total + Math.abs(slice.contribution), 0);
    assert.ok(Math.abs(rounding) <= 1e-6 * absoluteSum, `${head}: rounding ${rounding}`);

    // Each contribution is (coef · f_z) / Z up to its share of the rounding.
    const tokens = head.startsWith('full') ? full.tokens : lung.tokens;
    for (let z = 0; z < DEPTH; z++) {
      let dot = 0;
      for (let d = 0; d < DIMENSION; d++) {
        dot += coef[d] * ((tokens.data[z * DIMENSION + d] + tokens.data[(DEPTH + z) * DIMENSION + d]) / 2);
      }
      assert.ok(Math.abs(slices[z].contribution - dot / DEPTH) <= Math.abs(rounding) / DEPTH + 1e-15, `${head} slice ${z}`);
    }
  }
});

test('explainHeads rejects tokens of the wrong shape', () => {
  const tokens = { data: new Float32Array(2 * DEPTH * 2), shape: [2, DEPTH, 2] };
  const logits = { full_covid: 0, lung_covid: 0, full_severe: 0, lung_severe: 0 };
  const grid: Geometry = { size: [1, 1, DEPTH], spacing: [1.5, 1.5, 5], origin: [0, 0, 0], direction: IDENTITY };
  assert.throws(() => explainHeads(weights, { full: tokens, lung: tokens }, logits, 0.5, 0.5, slicePositions(grid, [0, DEPTH])), /expects tokens of shape \(2, Z, 3\), got \(2, 5, 2\)/);
});

test('slicePositions on an identity grid', () => {
  const grid: Geometry = { size: [10, 10, 20], spacing: [1.5, 1.5, 5], origin: [-7, 3, -100], direction: IDENTITY };
  assert.equal(slicePositions(grid, [3, 6]), [
    { resampledSlice: 3, zMm: -85 },
    { resampledSlice: 4, zMm: -80 },
    { resampledSlice: 5, zMm: -75 },
  ]);
});

test('slicePositions follows a reversed z axis', () => {
  const grid: Geometry = { size: [10, 10, 20], spacing: [1.5, 1.5, 5], origin: [0, 0, 40], direction: [1, 0, 0, 0, 1, 0, 0, 0, -1] };
  assert.equal(slicePositions(grid, [0, 2]).map((position) => position.zMm), [40, 35]);
});

test('slicePositions rejects an invalid range', () => {
  const grid: Geometry = { size: [10, 10, 20], spacing: [1.5, 1.5, 5], origin: [0, 0, 0], direction: IDENTITY };
  assert.throws(() => slicePositions(grid, [5, 5]), /invalid slice range \[5, 5\) for a grid of 20 slices/);
  assert.throws(() => slicePositions(grid, [18, 21]), RangeError);
});

test('slicePositions gives the input world z after reorientation', () => {
  // Array axis 0 runs along physical z, from head to feet; axes 1 and 2 are x and y.
  const size: [number, number, number] = [7, 4, 4];
  const origin: [number, number, number] = [10, -20, 30];
  const direction = [0, 1, 0, 0, 0, 1, -1, 0, 0];
  const data = new Float64Array(size[0] * size[1] * size[2]);
  for (let i = 0; i < data.length; i++) data[i] = i % size[0];
  const scan: Volume = { data, componentType: 'float64', size, spacing: [5, 1.5, 1.5], origin, direction, metadata: new Map() };
  const inputWorldZ = (index: number) => origin[2] + direction[6] * 5 * index;

  // Each resampled voxel contains the input index along axis 0 that it was interpolated from.
  const resampled = resample(reorientToIdentity(scan, 'test scan'));
  const plane = resampled.size[0] * resampled.size[1];
  const positions = slicePositions(resampled, [0, resampled.size[2]]);
  assert.is(positions.length, size[0]);
  for (const { resampledSlice, zMm } of positions) {
    const inputIndex = resampled.data[resampledSlice * plane];
    assert.ok(Math.abs(zMm - inputWorldZ(inputIndex)) < 1e-9, `slice ${resampledSlice}: zMm ${zMm}, input world z ${inputWorldZ(inputIndex)}`);
  }
});

test('explanation CSV lists every head and slice', () => {
  const grid: Geometry = { size: [1, 1, 4], spacing: [1.5, 1.5, 5], origin: [0, 0, -12.5], direction: IDENTITY };
  const positions = slicePositions(grid, [1, 3]);
  const slices = positions.map((position, k) => ({ ...position, contribution: 0.1 * (k + 1) + 1e-17 }));
  const explanation = Object.fromEntries(HEAD_NAMES.map((head, h) => [head, { offset: h - 1.5, logit: h - 1.2, rounding: 1e-9 * h, slices }])) as Parameters<typeof formatExplanationCsv>[0];

  const lines = formatExplanationCsv(explanation).trimEnd().split('\n');
  assert.is(lines[0], 'head,slice,zMm,contribution');
  assert.is(lines.length, 1 + HEAD_NAMES.length * slices.length);
  assert.is(lines[1], `full_covid,1,-7.5,${slices[0].contribution}`);
  assert.is(Number(lines.at(-1)!.split(',')[3]), slices[1].contribution);

  const offsets = formatExplanationOffsetsCsv(explanation).trimEnd().split('\n');
  assert.is(offsets[0], 'head,offset,logit,rounding');
  assert.is(offsets[2], `lung_covid,-0.5,${1 - 1.2},1e-9`);
});

test.run();
