/**
 * Small hand-made cases that pin each algorithm to the library behaviour it reproduces.
 * Expected values marked "scipy 1.10.1", "scikit-image 0.19.3" or "numpy 1.24.2" were computed
 * with those versions; "fill_voids 2.1.2" with that release's C++ core (binary_fill_holes3d).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  binaryAreaClosing,
  binaryClosing,
  binaryDilation,
  binaryErosion,
  binaryFillHoles,
  fillVoids,
  flip,
  keepLargestComponent,
  label,
  percentile,
  regionProperties,
  roundHalfToEven,
  zoom,
} from '../src/ndimage.js';
import { type NdArray, type TypedArray } from '../src/volume.js';

function array<T extends TypedArray>(data: T, shape: number[]): NdArray<T> {
  return { data, shape };
}

function mask(values: number[], shape: number[]): NdArray<Uint8Array> {
  return array(Uint8Array.from(values), shape);
}

function valuesOf(result: NdArray): number[] {
  return Array.from(result.data);
}

// --- roundHalfToEven -----------------------------------------------------------------------

test('roundHalfToEven rounds halves to even', () => {
  assert.is(roundHalfToEven(0.5), 0);
  assert.is(roundHalfToEven(1.5), 2);
  assert.is(roundHalfToEven(2.5), 2);
  assert.is(roundHalfToEven(3.5000000001), 4);
  assert.is(roundHalfToEven(255.99999999999997), 256);
});

// --- zoom ----------------------------------------------------------------------------------

test('zoom rounds integers half away from zero', () => {
  // scipy 1.10.1: zoom([0, 3], 1.5, order=1) and zoom([0, -3], 1.5, order=1) on int16.
  assert.equal(valuesOf(zoom(array(Int16Array.of(0, 3), [2]), 1.5, 1)), [0, 2, 3]);
  assert.equal(valuesOf(zoom(array(Int16Array.of(0, -3), [2]), 1.5, 1)), [0, -2, -3]);
});

test('zoom output shape uses round half to even', () => {
  // scipy 1.10.1: 5 * 0.5 = 2.5 gives 2 samples, 7 * 0.5 = 3.5 gives 4.
  const five = zoom(array(Int16Array.of(0, 1, 2, 3, 4), [5]), 0.5, 0);
  assert.equal(five.shape, [2]);
  assert.equal(valuesOf(five), [0, 4]);
  const seven = zoom(array(Int16Array.of(0, 1, 2, 3, 4, 5, 6), [7]), 0.5, 0);
  assert.equal(seven.shape, [4]);
  assert.equal(valuesOf(seven), [0, 2, 4, 6]);
});

test('zoom order 0 takes the upper sample at halves', () => {
  // scipy 1.10.1: coordinates 0, 0.5, 1, 1.5, 2 take samples 0, 1, 1, 2, 2.
  assert.equal(valuesOf(zoom(array(Int16Array.of(10, 20, 30), [3]), 5 / 3, 0)), [10, 20, 20, 30, 30]);
});

test('zoom sets a last sample past the input to 0', () => {
  // scipy 1.10.1: 25 * (7 / 25) = 7.000000000000001 > 7, outside the input for mode 'constant'.
  const expected = [...new Array(25).fill(7), 0];
  const input = array(new Int16Array(8).fill(7), [8]);
  assert.equal(valuesOf(zoom(input, 26 / 8, 1)), expected);
  assert.equal(valuesOf(zoom(input, 26 / 8, 0)), expected);
});

test('zoom bilinear int16 matches scipy', () => {
  const input = array(
    Int16Array.of(510, -9, 87, 433, -85, 235, 329, -659, -934, -537, -562, 394, 458, -1016, -213, 309, -811, 270, -831, -265),
    [4, 5],
  );
  const result = zoom(input, [7 / 4, 3 / 5], 1);
  assert.ok(result.data instanceof Int16Array);
  assert.equal(result.shape, [7, 3]);
  // scipy 1.10.1
  assert.equal(valuesOf(result), [
    510, 87, -85, 373, -286, -311, 235, -659, -537, -164, -101, -375, -562, 458, -213, -127, 364, -239, 309, 270, -265,
  ]);
});

test('zoom bilinear float32 matches scipy bit for bit', () => {
  const input = array(
    Float32Array.of(
      0.4898420572280884, 0.35688701272010803, 0.1054142490029335, -0.9304680228233337, -0.02925182320177555,
      0.695303201675415, -1.3442145586013794, -0.45761576294898987, -1.9012227058410645, -1.289537787437439,
      -1.8417350053787231, -0.23509113490581512,
    ),
    [3, 4],
  );
  const result = zoom(input, [5 / 3, 6 / 4], 1);
  assert.ok(result.data instanceof Float32Array);
  // scipy 1.10.1
  assert.equal(valuesOf(result), [
    0.4898420572280884, 0.4100690186023712, 0.3065924644470215, 0.15570880472660065, -0.3089386522769928,
    -0.9304680228233337, 0.2302951216697693, 0.4077751040458679, 0.2969960570335388, -0.3903011083602905,
    -0.6492568254470825, -0.694041907787323, -0.02925182320177555, 0.4054811894893646, 0.28739964962005615,
    -0.9363110065460205, -0.9895750284194946, -0.45761576294898987, -0.9652372598648071, -0.5643652677536011,
    -0.5562887787818909, -1.3338032960891724, -1.0943262577056885, -0.3463534414768219, -1.9012227058410645,
    -1.5342117547988892, -1.399977207183838, -1.7312955856323242, -1.1990774869918823, -0.23509113490581512,
  ]);
});

test('zoom bilinear float64 matches scipy bit for bit', () => {
  const input = array(
    Float64Array.of(
      -1.2674464814437032, 0.2712643588217015, 0.15675108662422516, -0.18693094462995438, -2.516759710820513,
      -0.5386928958466366, -0.048500945401071985, 0.11330898600330756, -1.5301357655053935,
    ),
    [3, 3],
  );
  // scipy 1.10.1; these digits only come out with the second weight taken as 1 - (1 - frac).
  assert.equal(valuesOf(zoom(input, [4 / 3, 7 / 3], 1)), [
    -1.2674464814437032, -0.7545428680219017, -0.2416392546001001, 0.2712643588217015, 0.23309326808920938,
    0.1949221773567173, 0.15675108662422516, -0.5471027902345373, -0.8938746449140609, -1.2406464995935844,
    -1.5874183542731082, -1.1605716478564108, -0.7337249414397136, -0.306878235023016, -0.14078761155366026,
    -0.640548456106631, -1.1403093006596021, -1.640070145212573, -1.3831047142749007, -1.1261392833372281,
    -0.8691738523995556, -0.048500945401071985, 0.005435698400387851, 0.0593723422018477, 0.11330898600330756,
    -0.4345059311662594, -0.9823208483358263, -1.5301357655053935,
  ]);
});

test('zoom nearest uint8 matches scipy', () => {
  const input = mask([1, 0, 2, 0, 0, 0, 2, 2, 2, 0, 2, 1, 1, 0, 1, 2], [4, 4]);
  const result = zoom(input, [3 / 4, 6 / 4], 0);
  assert.ok(result.data instanceof Uint8Array);
  // scipy 1.10.1
  assert.equal(valuesOf(result), [1, 0, 0, 2, 2, 0, 2, 0, 0, 2, 2, 1, 1, 0, 0, 1, 1, 2]);
});

test('zoom trilinear 3D matches scipy', () => {
  const input = array(
    Int16Array.of(1, -4, 0, -3, 4, 3, -4, 0, 4, 3, 2, 1, -5, 2, -1, -5, -3, 0, 2, 0, 1, 3, 1, -2),
    [2, 3, 4],
  );
  const result = zoom(input, [3 / 2, 4 / 3, 5 / 4], 1);
  assert.equal(result.shape, [3, 4, 5]);
  // scipy 1.10.1
  assert.equal(valuesOf(result), [
    1, -3, -2, -1, -3, 3, 1, -1, -2, -1, 4, 3, 0, -1, 0, 4, 3, 3, 2, 1, -2, -1, -1, -1, -4, 0, 0, 0, -1, -1, 1, 2, 1, 0,
    0, 3, 3, 2, 1, -1, -5, 0, 1, -2, -5, -4, 0, 1, 0, -2, -2, 0, 1, 1, -1, 1, 3, 2, 0, -2,
  ]);
});

test('zoom rounds other integer types', () => {
  // scipy 1.10.1: the midpoints 127.5 and -0.5 round away from zero.
  assert.equal(valuesOf(zoom(array(Uint8Array.of(0, 255), [2]), 1.5, 1)), [0, 128, 255]);
  assert.equal(valuesOf(zoom(array(Int8Array.of(-128, 127), [2]), 1.5, 1)), [-128, -1, 127]);
});

test('zoom rejects bad calls', () => {
  const input = array(new Int16Array(4), [2, 2]);
  assert.throws(() => zoom(input, 2, 2 as 0), (error: Error) => error instanceof RangeError && /order must be 0 or 1/.test(error.message));
  assert.throws(() => zoom(input, [2], 1), (error: Error) => error instanceof RangeError && /expected 2 factors/.test(error.message));
  assert.throws(() => zoom(input, [2, -1], 1), (error: Error) => error instanceof RangeError && /finite and positive/.test(error.message));
  assert.throws(() => zoom(array(new Int16Array(0), [0, 3]), 2, 1), (error: Error) => error instanceof RangeError && /empty/.test(error.message));
  assert.throws(() => zoom(array(new Int16Array(16), [2, 2, 2, 2]), 2, 1), (error: Error) => error instanceof RangeError && /1 to 3 axes/.test(error.message));
});

// --- flip ------------------------------------------------------------------------------------

test('flip reverses the given axes', () => {
  const input = array(Int16Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), [2, 2, 3]);
  assert.equal(valuesOf(flip(input, [2])), [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
  assert.equal(valuesOf(flip(input, [0, 1])), [10, 11, 12, 7, 8, 9, 4, 5, 6, 1, 2, 3]);
  assert.equal(valuesOf(flip(input, [])), valuesOf(input));
  assert.throws(() => flip(input, [3]), (error: Error) => error instanceof RangeError && /axis 3/.test(error.message));
});

// --- binary morphology ---------------------------------------------------------------------

test('binaryErosion erodes the border', () => {
  // scipy 1.10.1: border_value=0, so the outer ring of an all-true array goes.
  const ones = mask(new Array(25).fill(1), [5, 5]);
  assert.equal(valuesOf(binaryErosion(ones)), [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
  assert.equal(valuesOf(binaryErosion(ones, 2)), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  // A length-1 axis is a real axis with a border: scipy erodes a (1, 3, 3) array to nothing.
  assert.equal(valuesOf(binaryErosion(mask(new Array(9).fill(1), [1, 3, 3]))), new Array(9).fill(0));
});

test('binaryErosion matches scipy', () => {
  const input = mask(
    [
      1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0,
      1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1,
    ],
    [7, 8],
  );
  // scipy 1.10.1
  assert.equal(valuesOf(binaryErosion(input)), [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  ]);
  const volume = mask(new Array(75).fill(1), [3, 5, 5]);
  volume.data[(1 * 5 + 2) * 5 + 3] = 0;
  const expected = new Array(75).fill(0);
  for (const [y, x] of [[1, 1], [1, 2], [2, 1], [3, 1], [3, 2]]) expected[(1 * 5 + y) * 5 + x] = 1;
  // scipy 1.10.1
  assert.equal(valuesOf(binaryErosion(volume)), expected);
});

test('binaryDilation matches scipy', () => {
  const input = mask(
    [
      0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
    ],
    [7, 8],
  );
  // scipy 1.10.1
  assert.equal(valuesOf(binaryDilation(input)), [
    0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0,
  ]);
  assert.equal(valuesOf(binaryDilation(input, 2)), [
    1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1,
    1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0,
  ]);
});

test('binaryClosing matches scipy', () => {
  const input = mask(
    [
      1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 1,
      1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0,
    ],
    [7, 8],
  );
  // scipy 1.10.1: the final erosion clears the whole border.
  assert.equal(valuesOf(binaryClosing(input)), [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  ]);
});

test('binary morphology rejects bad iterations', () => {
  const input = mask([1, 1, 1, 1], [2, 2]);
  assert.throws(() => binaryErosion(input, 0), (error: Error) => error instanceof RangeError && /iterations/.test(error.message));
  assert.throws(() => binaryDilation(input, 1.5), (error: Error) => error instanceof RangeError && /iterations/.test(error.message));
});

// --- hole filling --------------------------------------------------------------------------

test('binaryFillHoles follows the structure', () => {
  const input = mask(
    [
      0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1,
      1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    [7, 7],
  );
  // scipy 1.10.1: the hole at (2, 2) is closed either way. The one at (3, 4) reaches the
  // outside only diagonally, through (4, 5) and (5, 6), so the cross structure fills it and
  // the 3 × 3 structure of ones does not.
  assert.equal(valuesOf(binaryFillHoles(input, 1)), [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
  ]);
  assert.equal(valuesOf(binaryFillHoles(input, 2)), [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1,
    1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
  ]);
  assert.throws(() => binaryFillHoles(input, 3), (error: Error) => error instanceof RangeError && /connectivity/.test(error.message));
});

test('fillVoids fills a cavity but not a tunnel', () => {
  const shell = new Array(125).fill(0);
  for (let z = 1; z <= 3; z++) for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) shell[(z * 5 + y) * 5 + x] = 1;
  shell[(2 * 5 + 2) * 5 + 2] = 0;
  const filled = fillVoids(mask(shell, [5, 5, 5]));
  assert.is(filled.data[(2 * 5 + 2) * 5 + 2], 1);

  const tunnel = [...shell];
  tunnel[(2 * 5 + 2) * 5 + 3] = 0;
  const open = fillVoids(mask(tunnel, [5, 5, 5]));
  assert.is(open.data[(2 * 5 + 2) * 5 + 2], 0);
  assert.is(open.data[(2 * 5 + 2) * 5 + 3], 0);
});

test('fillVoids reproduces the fill_voids seeding', () => {
  const input = mask(
    [1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0],
    [2, 4, 5],
  );
  // fill_voids 2.1.2: the zero at (0, 0, 1) lies on the border, but the face scans seed no
  // zero connected to it, so it is filled. scipy's binary_fill_holes leaves it empty.
  assert.equal(valuesOf(fillVoids(input)), [
    1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0,
  ]);
  assert.is(binaryFillHoles(input, 1).data[1], 0);
});

test('fillVoids fills nothing in 2D border pockets', () => {
  const input = mask([1, 0, 1, 1, 1, 0, 1, 1, 1], [3, 3]);
  assert.equal(valuesOf(fillVoids(input)), [1, 0, 1, 1, 1, 0, 1, 1, 1]);
  assert.throws(() => fillVoids(mask([0, 1], [2])), (error: Error) => error instanceof RangeError && /2D or 3D/.test(error.message));
});

test('binaryAreaClosing matches skimage area_closing', () => {
  const rows = 12;
  const columns = 22;
  const input = new Array(rows * columns).fill(1);
  const clear = (r0: number, r1: number, c0: number, c1: number): void => {
    for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) input[r * columns + c] = 0;
  };
  clear(0, 8, 0, 8); // 64 pixels on the border: kept
  clear(2, 9, 10, 19); // 63 pixels: closed
  clear(10, 11, 20, 21); // two pixels touching only diagonally: each closed on its own
  clear(11, 12, 21, 22);
  clear(11, 12, 0, 3); // 3 pixels on the border: closed
  const expected = new Array(rows * columns).fill(1);
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) expected[r * columns + c] = 0;
  // scikit-image 0.19.3: area_closing(image, area_threshold=64) == 1
  assert.equal(valuesOf(binaryAreaClosing(mask(input, [rows, columns]), 64)), expected);
  assert.equal(valuesOf(binaryAreaClosing(mask(new Array(9).fill(0), [3, 3]), 64)), new Array(9).fill(0));
});

// --- labelling -----------------------------------------------------------------------------

const MULTI_VALUED = [1, 1, 2, 0, 0, 2, 2, 0, 1, 0, 1, 1, 0, 1, 0, 2];

test('label connects equal values only', () => {
  const image = array(Int16Array.from(MULTI_VALUED), [4, 4]);
  // scikit-image 0.19.3
  assert.equal(valuesOf(label(image, 1).labels), [1, 1, 2, 0, 0, 2, 2, 0, 3, 0, 4, 4, 0, 5, 0, 6]);
  assert.equal(valuesOf(label(image, 2).labels), [1, 1, 2, 0, 0, 2, 2, 0, 3, 0, 3, 3, 0, 3, 0, 4]);
  assert.is(label(image, 2).count, 4);
});

test('label numbers a mask in raster order', () => {
  const binary = mask(MULTI_VALUED.map((value) => Number(value > 0)), [4, 4]);
  // scikit-image 0.19.3 (bool input)
  assert.equal(valuesOf(label(binary, 1).labels), [1, 1, 1, 0, 0, 1, 1, 0, 2, 0, 1, 1, 0, 3, 0, 1]);
  assert.equal(valuesOf(label(binary, 2).labels), [1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1]);
  // Two provisional regions joined on the last row become region 1; numbers follow first elements.
  assert.equal(valuesOf(label(mask([1, 0, 1, 1, 0, 1, 1, 1, 1], [3, 3]), 1).labels), [1, 0, 1, 1, 0, 1, 1, 1, 1]);
  assert.equal(valuesOf(label(mask([0, 1, 1, 1, 0, 1, 1, 0, 1], [3, 3]), 1).labels), [0, 1, 1, 2, 0, 1, 2, 0, 1]);
});

test('label in 3D matches skimage', () => {
  const image = array(
    Uint8Array.of(2, 1, 1, 0, 1, 2, 0, 0, 2, 1, 2, 0, 2, 0, 1, 2, 0, 1, 2, 1, 0, 1, 1, 2, 2, 1, 0, 1, 0, 2, 2, 1, 2, 1, 1, 2),
    [3, 3, 4],
  );
  // scikit-image 0.19.3
  assert.equal(valuesOf(label(image, 1).labels), [
    1, 2, 2, 0, 3, 4, 0, 0, 5, 6, 7, 0, 1, 0, 2, 8, 0, 6, 9, 10, 0, 6, 6, 11, 1, 12, 0, 10, 0, 9, 9, 10, 13, 6, 6, 11,
  ]);
  const full = label(image);
  assert.equal(valuesOf(full.labels), [
    1, 2, 2, 0, 2, 1, 0, 0, 1, 2, 1, 0, 1, 0, 2, 1, 0, 2, 1, 2, 0, 2, 2, 1, 1, 2, 0, 2, 0, 1, 1, 2, 1, 2, 2, 1,
  ]);
  const properties = regionProperties(full, image);
  assert.equal(Array.from(properties.area), [13, 14]);
  assert.equal(Array.from(properties.bbox), [0, 0, 0, 3, 3, 4, 0, 0, 0, 3, 3, 4]);
  assert.equal(Array.from(properties.maxIntensity ?? []), [2, 1]);
});

test('label rejects a bad connectivity', () => {
  const image = mask([1, 0, 1, 0], [2, 2]);
  assert.throws(() => label(image, 3), (error: Error) => error instanceof RangeError && /connectivity must be an integer from 1 to 2/.test(error.message));
  assert.throws(() => label(image, 0), (error: Error) => error instanceof RangeError && /connectivity/.test(error.message));
});

test('regionProperties matches skimage', () => {
  const image = array(Int16Array.from(MULTI_VALUED), [4, 4]);
  const properties = regionProperties(label(image, 1), image);
  // scikit-image 0.19.3: area, bbox and max_intensity of each region
  assert.equal(Array.from(properties.area), [2, 3, 1, 2, 1, 1]);
  assert.equal(Array.from(properties.bbox), [0, 0, 1, 2, 0, 1, 2, 3, 2, 0, 3, 1, 2, 2, 3, 4, 3, 1, 4, 2, 3, 3, 4, 4]);
  assert.equal(Array.from(properties.maxIntensity ?? []), [1, 2, 1, 1, 1, 2]);
  assert.is(regionProperties(label(image, 1)).maxIntensity, undefined);
  assert.throws(() => regionProperties(label(image, 1), array(new Int16Array(4), [2, 2])), (error: Error) => error instanceof RangeError && /intensity shape/.test(error.message));
});

test('keepLargestComponent keeps the last of equal regions', () => {
  const input = mask([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1], [3, 7]);
  // lungmask's rule with scikit-image 0.19.3 and numpy 1.24.2: np.argsort(areas)[-1] + 1
  assert.equal(valuesOf(keepLargestComponent(input)), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  assert.equal(valuesOf(keepLargestComponent(mask([0, 0, 0, 0], [2, 2]))), [0, 0, 0, 0]);
});

// --- percentile ----------------------------------------------------------------------------

test('percentile interpolates as numpy linear', () => {
  // numpy 1.24.2
  assert.is(percentile([1, 2, 3, 4], 5), 1.15);
  assert.is(percentile([1, 2, 3, 4], 50), 2.5);
  assert.is(percentile([0, 10], 75), 7.5);
  assert.is(percentile(Int16Array.of(-1000, -50, 20, 300, 7), 5), -810);
  assert.is(percentile([0.1, 0.7, 0.2], 33), 0.166);
  assert.is(percentile([5, 1, 3], 100), 5);
  assert.is(percentile([5, 1, 3], 0), 1);
  assert.is(percentile(Float32Array.of(0.1, 0.3, 0.7), 40), 0.26000000834465026);
  assert.ok(Number.isNaN(percentile([1, NaN, 3], 50)));
});

test('percentile rejects bad calls', () => {
  assert.throws(() => percentile([], 5), (error: Error) => error instanceof RangeError && /no values/.test(error.message));
  assert.throws(() => percentile([1], 101), (error: Error) => error instanceof RangeError && /between 0 and 100/.test(error.message));
  assert.throws(() => percentile([1], NaN), (error: Error) => error instanceof RangeError && /between 0 and 100/.test(error.message));
});

test.run();
