/**
 * The lung mask step against lungmask 0.2.11: small hand-made cases for each function, then
 * every reference case with the reference U-Net labels standing in for the network. Expected
 * values marked "lungmask 0.2.11" were computed with its utils.py under scipy 1.10.1 and
 * scikit-image 0.19.3, with fill_voids.fill replaced by scipy's 6-connected binary_fill_holes,
 * which gives the same result on these cases.
 */
import path from 'node:path';

import { readImageNode } from '@itk-wasm/image-io';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { readNpy } from '../../src/io/npy.js';
import { flip } from '../../src/ndimage.js';
import {
  type Box,
  type UnetRunner,
  UNET_RESOLUTION,
  bodyBox,
  bodyMask,
  clipHu,
  computeLungMask,
  cropAndResize,
  orientationFlips,
  postprocess,
  reshapeMask,
  unetInput,
} from '../../src/steps/lung-mask.js';
import { toHwz } from '../../src/steps/to-arrays.js';
import { type NdArray, type TypedArray } from '../../src/volume.js';
import { REFERENCE_CASES, SHARED_DIR } from '../helpers.js';

const IDENTITY = [1, 0, 0, 0, 1, 0, 0, 0, 1];
const PLANE = UNET_RESOLUTION * UNET_RESOLUTION;

function labels(values: number[], shape: number[]): NdArray<Uint8Array> {
  return { data: Uint8Array.from(values), shape };
}

function countMismatches(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let mismatches = Math.abs(actual.length - expected.length);
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    if (actual[i] !== expected[i]) mismatches++;
  }
  return mismatches;
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}

/** Builds a slice of air with a body, a dark patch inside it, a table below and a bright speck. */
function phantomSlice(): NdArray<Int16Array> {
  const height = 100;
  const width = 120;
  const data = new Int16Array(height * width).fill(-1000);
  const paint = (r0: number, r1: number, c0: number, c1: number, value: number): void => {
    for (let r = r0; r < r1; r++) data.fill(value, r * width + c0, r * width + c1);
  };
  paint(20, 80, 10, 110, 0);
  paint(40, 60, 30, 50, -900);
  paint(90, 95, 30, 90, 100);
  paint(2, 6, 2, 6, 200);
  return { data, shape: [height, width] };
}

/** Builds a (z, y, x) volume of phantom-like slices whose body shifts from slice to slice. */
function phantomVolume(depth: number, height: number, width: number): NdArray<Int16Array> {
  const data = new Int16Array(depth * height * width).fill(-1000);
  for (let z = 0; z < depth; z++) {
    for (let y = 5 + (z % 3); y < height - 4; y++) {
      for (let x = 4 + (z % 5); x < width - 6; x++) {
        const inLung = y > 12 && y < height - 10 && (x - width / 2) ** 2 > 16;
        data[(z * height + y) * width + x] = inLung ? -850 + 3 * x : 40 - y;
      }
    }
  }
  return { data, shape: [depth, height, width] };
}

/** Stands in for the U-Net: dark pixels are lung, left or right of the middle column. */
const thresholdUnet: UnetRunner = async (input, count) => {
  const output = new Uint8Array(count * PLANE);
  for (let i = 0; i < output.length; i++) {
    if (input[i] >= 0.3) continue;
    const column = i % UNET_RESOLUTION;
    output[i] = column < UNET_RESOLUTION / 2 ? 1 : 2;
  }
  return output;
};

// --- orientation -----------------------------------------------------------------------------

test('orientationFlips reads the diagonal', () => {
  assert.equal(orientationFlips(IDENTITY), []);
  assert.equal(orientationFlips([-1, 0, 0, 0, 1, 0, 0, 0, 1]), [2]);
  assert.equal(orientationFlips([1, 0, 0, 0, -1, 0, 0, 0, -1]), [0, 1]);
  // lungmask ignores the off-diagonal entries, so a permutation flips nothing.
  assert.equal(orientationFlips([0, 1, 0, 1, 0, 0, 0, 0, 1]), []);
  assert.throws(() => orientationFlips([1, 0, 0, 1]), (error: Error) => error instanceof RangeError && /9 entries/.test(error.message));
});

// --- preprocessing ---------------------------------------------------------------------------

test('clipHu clamps and keeps the type', () => {
  const clipped = clipHu({ data: Int16Array.of(-2000, -1024, 0, 600, 3000), shape: [1, 5] });
  assert.ok(clipped.data instanceof Int16Array);
  assert.equal(Array.from(clipped.data), [-1024, -1024, 0, 600, 600]);
});

test('bodyMask matches simple_bodymask', () => {
  const mask = bodyMask(phantomSlice());
  assert.equal(mask.shape, [100, 120]);
  // lungmask 0.2.11: simple_bodymask keeps 5988 pixels, without the speck and the table.
  assert.is(sum(mask.data), 5988);
  assert.is(mask.data[3 * 120 + 3], 0);
  assert.is(mask.data[92 * 120 + 60], 0);
  assert.is(mask.data[50 * 120 + 40], 1);
});

test('bodyMask of air is empty', () => {
  const air = { data: new Int16Array(50 * 60).fill(-1000), shape: [50, 60] };
  assert.is(sum(bodyMask(air).data), 0);
  assert.equal(bodyBox(bodyMask(air)), [0, 0, 50, 60]);
});

test('bodyBox and cropAndResize match crop_and_resize', () => {
  const slice = phantomSlice();
  const box = bodyBox(bodyMask(slice));
  // lungmask 0.2.11: crop_and_resize(img, width=256, height=256)
  assert.equal(box, [20, 10, 80, 110]);
  const resized = cropAndResize(slice, box);
  assert.ok(resized.data instanceof Int16Array);
  assert.equal(resized.shape, [256, 256]);
  assert.is(sum(resized.data), -4000038);
});

test('unetInput scales by the slice type', () => {
  const slices = { data: new Int16Array(PLANE), shape: [1, 256, 256] };
  slices.data.set([-1024, -500, 0, 600]);
  const input = unetInput(slices, 0, 1);
  assert.is(input.length, PLANE);
  assert.equal(Array.from(input.subarray(0, 4)), [0, Math.fround(524 / 1624), Math.fround(1024 / 1624), 1]);

  // numpy adds 1024 in float32 for float32 slices before dividing.
  const floats = { data: new Float32Array(2 * PLANE), shape: [2, 256, 256] };
  floats.data[PLANE] = Math.fround(-0.7);
  floats.data[PLANE + 1] = 700;
  const second = unetInput(floats, 1, 1);
  assert.is(second[0], Math.fround(Math.fround(Math.fround(-0.7) + 1024) / 1624));
  assert.is(second[1], 1);
});

// --- postprocessing --------------------------------------------------------------------------

test('postprocess fills voids and keeps the first of equal regions', () => {
  const volume = labels(new Array(5 * 8 * 8).fill(0), [5, 8, 8]);
  const at = (z: number, y: number, x: number): number => (z * 8 + y) * 8 + x;
  for (let z = 1; z < 4; z++) for (let y = 1; y < 4; y++) for (let x = 1; x < 4; x++) volume.data[at(z, y, x)] = 2;
  volume.data[at(2, 2, 2)] = 0;
  for (const [z, y, x] of [[0, 6, 0], [0, 6, 1], [0, 7, 0], [0, 7, 1], [4, 6, 5], [4, 6, 6], [4, 7, 5], [4, 7, 6], [2, 6, 4]]) {
    volume.data[at(z, y, x)] = 1;
  }
  // lungmask 0.2.11: the cavity of label 2 is filled. Of the two label-1 regions of 4 voxels
  // only the first keeps its label, and the single voxel is dropped as a smaller region.
  const expected = new Uint8Array(volume.data.length);
  for (let z = 1; z < 4; z++) for (let y = 1; y < 4; y++) for (let x = 1; x < 4; x++) expected[at(z, y, x)] = 2;
  for (const [z, y, x] of [[0, 6, 0], [0, 6, 1], [0, 7, 0], [0, 7, 1]]) expected[at(z, y, x)] = 1;
  assert.equal(Array.from(postprocess(volume).data), Array.from(expected));
});

test('postprocess merges no region into a neighbour', () => {
  const volume = labels(
    [
      1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 2, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 2, 0, 0, 0, 0, 0,
    ],
    [3, 5, 6],
  );
  // lungmask 0.2.11: the label-1 region of 4 voxels in slice 1 touches the label-2 column, but
  // stays label 1 and is then dropped as a smaller region instead of joining label 2.
  assert.equal(Array.from(postprocess(volume).data), [
    1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 2, 0, 0, 0, 0, 0,
  ]);
});

test('postprocess closes small holes of a single slice', () => {
  const rows = 12;
  const columns = 22;
  const slice = new Array(rows * columns).fill(1);
  const clear = (r0: number, r1: number, c0: number, c1: number): void => {
    for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) slice[r * columns + c] = 0;
  };
  clear(0, 8, 0, 8);
  clear(2, 9, 10, 19);
  clear(10, 11, 20, 21);
  clear(11, 12, 21, 22);
  clear(11, 12, 0, 3);
  // lungmask 0.2.11: only the 64-pixel background region survives area_closing(..., 64).
  const expected = new Array(rows * columns).fill(1);
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) expected[r * columns + c] = 0;
  assert.equal(Array.from(postprocess(labels(slice, [1, rows, columns])).data), expected);
});

test('postprocess skips the smallest value', () => {
  // lungmask 0.2.11 drops the first unique value, assuming it is 0, so all-lung input empties.
  assert.equal(Array.from(postprocess(labels(new Array(8).fill(1), [2, 2, 2])).data), new Array(8).fill(0));
  assert.throws(() => postprocess(labels([1, 2], [2])), (error: Error) => error instanceof RangeError && /\(z, y, x\)/.test(error.message));
});

// --- back to the input grid ------------------------------------------------------------------

test('reshapeMask zeroes the last row like zoom', () => {
  const ones = labels(new Array(PLANE).fill(1), [256, 256]);
  const box: Box = [3, 5, 15, 25];
  const slice = reshapeMask(ones, box, 20, 30);
  assert.equal(slice.shape, [20, 30]);
  // scipy 1.10.1: zooming 256 rows to 12 puts the last one just past the input, so it is 0.
  const expected = new Array(20 * 30).fill(0);
  for (let r = 3; r < 14; r++) for (let c = 5; c < 25; c++) expected[r * 30 + c] = 1;
  assert.equal(Array.from(slice.data), expected);
});

// --- the whole step --------------------------------------------------------------------------

test('computeLungMask rejects bad calls', async () => {
  const volume = phantomVolume(2, 30, 40);
  const rejects = async (call: () => Promise<unknown>, kind: ErrorConstructor, pattern: RegExp): Promise<void> => {
    try {
      await call();
    } catch (error) {
      assert.instance(error, kind);
      assert.match((error as Error).message, pattern);
      return;
    }
    assert.unreachable(`expected a ${kind.name} matching ${pattern}`);
  };
  await rejects(() => computeLungMask(volume, [1, 0, 0], thresholdUnet), RangeError, /9 entries/);
  await rejects(() => computeLungMask(volume, IDENTITY, thresholdUnet, { batch: 4 } as never), TypeError, /unknown option 'batch'/);
  await rejects(() => computeLungMask(volume, IDENTITY, thresholdUnet, { batchSize: 0 }), RangeError, /batchSize/);
  await rejects(() => computeLungMask({ data: new Int16Array(0), shape: [0, 30, 40] }, IDENTITY, thresholdUnet), RangeError, /at least one voxel/);
  await rejects(() => computeLungMask({ data: new Int16Array(1200), shape: [30, 40] }, IDENTITY, thresholdUnet), RangeError, /\(z, y, x\)/);
  await rejects(() => computeLungMask(volume, IDENTITY, async () => new Uint8Array(10)), TypeError, /131072 labels for 2 slice\(s\), got 10 labels/);
});

test('computeLungMask runs the network in batches', async () => {
  const volume = phantomVolume(20, 30, 40);
  const counts: number[] = [];
  const countingUnet: UnetRunner = async (input, count) => {
    counts.push(count);
    assert.is(input.length, count * PLANE);
    return thresholdUnet(input, count);
  };
  await computeLungMask(volume, IDENTITY, countingUnet);
  assert.equal(counts, [8, 8, 4]);
  counts.length = 0;
  const result = await computeLungMask(volume, IDENTITY, countingUnet, { batchSize: 5 });
  assert.equal(counts, [5, 5, 5, 5]);
  assert.equal(result.labels.shape, [20, 30, 40]);
  assert.equal(result.inputSlices.shape, [20, 256, 256]);
  assert.equal(result.boxes.shape, [20, 4]);
  assert.ok(sum(result.labels.data) > 0);
});

test('computeLungMask times its parts', async () => {
  const volume = phantomVolume(4, 30, 40);
  const delayMs = 30;
  const slowUnet: UnetRunner = async (input, count) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return thresholdUnet(input, count);
  };
  const start = performance.now();
  const { seconds } = await computeLungMask(volume, IDENTITY, slowUnet, { batchSize: 2 });
  const totalSeconds = (performance.now() - start) / 1000;
  // Two calls of the network, each at least one delay long.
  assert.ok(seconds.unet >= (2 * delayMs - 2) / 1000, `unet ${seconds.unet} s`);
  assert.ok(seconds.preprocess > 0, `preprocess ${seconds.preprocess} s`);
  assert.ok(seconds.postprocess > 0, `postprocess ${seconds.postprocess} s`);
  assert.ok(seconds.preprocess + seconds.unet + seconds.postprocess <= totalSeconds, `parts add up to more than ${totalSeconds} s`);
});

test('computeLungMask flips back what it flips', async () => {
  const volume = phantomVolume(6, 30, 40);
  const upright = await computeLungMask(volume, IDENTITY, thresholdUnet);
  const mirrored = await computeLungMask(flip(volume, [0, 2]), [-1, 0, 0, 0, 1, 0, 0, 0, -1], thresholdUnet);
  assert.equal(Array.from(mirrored.inputSlices.data), Array.from(upright.inputSlices.data));
  assert.equal(Array.from(mirrored.boxes.data), Array.from(upright.boxes.data));
  assert.is(countMismatches(mirrored.labels.data, flip(upright.labels, [0, 2]).data), 0);
});

// --- reference cases -------------------------------------------------------------------------

async function readReference(caseName: string, file: string): Promise<NdArray> {
  return readNpy(path.join(SHARED_DIR, 'reference', caseName, `${file}.npy.gz`));
}

for (const caseName of REFERENCE_CASES) {
  test(`lung mask matches reference ${caseName}`, async () => {
    const image = await readImageNode(path.join(SHARED_DIR, 'reference', caseName, 'resampled.mha'));
    // ITK stores x fastest, which is the C order of the (z, y, x) array.
    const volume: NdArray<TypedArray> = { data: image.data as TypedArray, shape: [image.size[2], image.size[1], image.size[0]] };
    const expectedSlices = await readReference(caseName, 'lungmask_input_slices');
    const expectedBoxes = await readReference(caseName, 'lungmask_boxes');
    const unetLabels = await readReference(caseName, 'lungmask_unet_labels');
    const expectedPostprocessed = await readReference(caseName, 'lungmask_postprocessed');
    const expectedLabels = await readReference(caseName, 'lungmask_labels');

    // The reference network labels stand in for the U-Net; its input is checked on the way.
    let inputMismatches = 0;
    let served = 0;
    const referenceUnet: UnetRunner = async (input, count) => {
      for (let i = 0; i < input.length; i++) {
        const expected = Math.fround((expectedSlices.data[served * PLANE + i] + 1024) / 1624);
        if (input[i] !== expected) inputMismatches++;
      }
      const output = Uint8Array.from(unetLabels.data.subarray(served * PLANE, (served + count) * PLANE));
      served += count;
      return output;
    };
    const result = await computeLungMask(volume, Array.from(image.direction as ArrayLike<number>), referenceUnet);

    assert.ok(result.inputSlices.data instanceof Int16Array, 'input slices keep the int16 type');
    assert.equal(result.inputSlices.shape, expectedSlices.shape);
    assert.is(countMismatches(result.inputSlices.data, expectedSlices.data), 0, 'input slices differ');
    assert.equal(result.boxes.shape, expectedBoxes.shape);
    assert.equal(Array.from(result.boxes.data), Array.from(expectedBoxes.data), 'boxes differ');
    assert.is(inputMismatches, 0, 'network input differs from the scaled reference slices');
    assert.is(served, expectedSlices.shape[0]);
    assert.is(countMismatches(result.postprocessed.data, expectedPostprocessed.data), 0, 'postprocessed labels differ');
    const hwz = toHwz(result.labels);
    assert.equal(hwz.shape, expectedLabels.shape);
    assert.is(countMismatches(hwz.data, expectedLabels.data), 0, 'labels on the resampled grid differ');
  });
}

test.run();
