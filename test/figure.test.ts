import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { writeFigureOutputs } from '../src/cli/figures.js';
import { LUNG_COLOURS } from '../src/figure/common.js';
import { coronalPlaneWithMostLung, niceStep, renderExplanation } from '../src/figure/explain.js';
import { drawText, hasGlyph, textWidth } from '../src/figure/font.js';
import { PREVIEW_SLICES, PREVIEW_ZOOM, chooseSlices, renderAxialSlice, renderPreview } from '../src/figure/preview.js';
import { Raster } from '../src/figure/raster.js';
import { Balaitous } from '../src/index.js';
import { writeRgbPng } from '../src/io/image.js';
import { cleanedLungLabels, cropLikeNetworkInput } from '../src/lung-labels.js';
import type { PipelineResult } from '../src/pipeline.js';
import { FIXTURE_MODELS_DIR, REPO_ROOT } from './helpers.js';
import { decodeRgbPng } from './helpers/png.js';

const PHANTOM = path.join(REPO_ROOT, 'inputs-example', 'images', 'ct', 'chest-phantom.mha');
const CONTEXT = { scanName: 'chest-phantom.mha', modelsName: 'fixture-tiny', modelsPublished: false };
/** Screen pixels along each panel edge where the orientation letters and the scale bar are drawn. */
const PANEL_LABEL_BORDER = 40;

async function temporaryDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-figure-'));
}

let phantomResult: PipelineResult | undefined;
/** Scores the phantom once with the test models and intermediates, for all the tests below. */
async function scorePhantom(): Promise<PipelineResult> {
  if (phantomResult === undefined) {
    const model = await Balaitous.load({ models: FIXTURE_MODELS_DIR });
    try {
      phantomResult = await model.predict(PHANTOM, { intermediates: true });
    } finally {
      await model.dispose();
    }
  }
  return phantomResult;
}

/** Checks that `run` rejects with an error whose message matches `pattern`. */
async function assertRejects(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await run();
  } catch (error) {
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

function isGrey([red, green, blue]: readonly number[]): boolean {
  return red === green && green === blue;
}

test('font has distinct glyphs for letters, digits and symbols', () => {
  const characters = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;%()[]-+=/_\'<>?!|*\u00d7\u2212\u2190\u2192'];
  const seen = new Map<string, string>();
  for (const character of characters) {
    assert.ok(hasGlyph(character), `glyph for ${JSON.stringify(character)}`);
    const raster = new Raster(12, 20);
    drawText(raster, character, 0, 0, { scale: 1 });
    const ink = Array.from(raster.data).join();
    assert.is(seen.get(ink), undefined, `${JSON.stringify(character)} looks like ${JSON.stringify(seen.get(ink))}`);
    seen.set(ink, character);
  }
});

test('drawText stays within textWidth', () => {
  const raster = new Raster(200, 40);
  const width = drawText(raster, 'P(COVID-19) 42.0 %', 10, 5, { scale: 2 });
  assert.is(width, textWidth('P(COVID-19) 42.0 %', 2));
  let inkLeft = Infinity;
  let inkRight = -Infinity;
  for (let y = 0; y < raster.height; y++) {
    for (let x = 0; x < raster.width; x++) {
      if (raster.getPixel(x, y)[0] === 0) {
        inkLeft = Math.min(inkLeft, x);
        inkRight = Math.max(inkRight, x);
      }
    }
  }
  assert.is(inkLeft, 10);
  assert.ok(inkRight < 10 + width, `ink up to x ${inkRight}, text width ${width}`);
});

test('drawText draws unknown characters as a box', () => {
  const known = new Raster(12, 20);
  const unknown = new Raster(12, 20);
  drawText(known, 'O', 0, 0, { scale: 1 });
  drawText(unknown, '\u00e9', 0, 0, { scale: 1 });
  assert.ok(unknown.data.some((value) => value === 0), 'ink drawn');
  assert.not.equal(Array.from(unknown.data), Array.from(known.data));
});

test('writeRgbPng round-trips pixels', async () => {
  const raster = new Raster(7, 5);
  raster.fillRect(1, 1, 3, 2, [200, 10, 30]);
  raster.drawLine(0, 4, 6, 0, [0, 120, 255]);
  const file = path.join(await temporaryDir(), 'small.png');
  await writeRgbPng(file, raster.width, raster.height, raster.data);
  const decoded = decodeRgbPng(await fs.readFile(file));
  assert.is(decoded.width, 7);
  assert.is(decoded.height, 5);
  assert.equal(Array.from(decoded.rgb), Array.from(raster.data));
});

test('writeRgbPng rejects bad arguments', async () => {
  const folder = await temporaryDir();
  await assertRejects(() => writeRgbPng(path.join(folder, 'a.jpg'), 1, 1, new Uint8Array(3)), /must end with \.png/);
  await assertRejects(() => writeRgbPng(path.join(folder, 'a.png'), 2, 1, new Uint8Array(3)), /3 bytes of pixel data for a 2 × 1 RGB image \(expected 6\)/);
  assert.equal(await fs.readdir(folder), []);
});

test('chooseSlices spreads over the kept slices', () => {
  assert.equal(chooseSlices(42, 6), [3, 10, 17, 24, 31, 38]);
  assert.equal(chooseSlices(6, 6), [0, 1, 2, 3, 4, 5]);
  assert.equal(chooseSlices(4, 6), [0, 1, 2, 3]);
  assert.equal(chooseSlices(1, 6), [0]);
});

test('niceStep returns 1, 2 or 5 times a power of ten', () => {
  assert.is(niceStep(300, 8), 50);
  assert.is(niceStep(0.2, 4), 0.05);
  assert.is(niceStep(7, 7), 1);
  assert.is(niceStep(0, 4), 1);
});

test('renderAxialSlice tints each lung in its colour', async () => {
  const result = await scorePhantom();
  const steps = result.intermediates!;
  const labels = cropLikeNetworkInput(cleanedLungLabels(steps.lungmaskLabels, steps.maskClean), steps.cropOffset, result.sliceRange);
  const [height, width, depth] = labels.shape;
  const slice = Math.floor(depth / 2);
  const panel = renderAxialSlice(steps.croppedImage, labels, slice);
  assert.is(panel.width, width * PREVIEW_ZOOM);
  assert.is(panel.height, height * PREVIEW_ZOOM);

  const counts = { right: 0, rightTinted: 0, left: 0, leftTinted: 0, background: 0, backgroundGrey: 0 };
  for (let y = PANEL_LABEL_BORDER; y < panel.height - PANEL_LABEL_BORDER; y++) {
    for (let x = PANEL_LABEL_BORDER; x < panel.width - PANEL_LABEL_BORDER; x++) {
      // Display row r shows (H, W, Z) row H - 1 - r: anterior at the top.
      const label = labels.data[((height - 1 - Math.floor(y / PREVIEW_ZOOM)) * width + Math.floor(x / PREVIEW_ZOOM)) * depth + slice];
      const [red, green, blue] = panel.getPixel(x, y);
      if (label === 1) {
        counts.right++;
        if (red > green && green > blue) counts.rightTinted++;
      } else if (label === 2) {
        counts.left++;
        if (blue > green && green > red) counts.leftTinted++;
      } else {
        counts.background++;
        if (isGrey([red, green, blue])) counts.backgroundGrey++;
      }
    }
  }
  assert.ok(counts.right > 1000, `right lung pixels: ${counts.right}`);
  assert.ok(counts.left > 1000, `left lung pixels: ${counts.left}`);
  assert.is(counts.rightTinted, counts.right, 'right lung pixels tinted orange');
  assert.is(counts.leftTinted, counts.left, 'left lung pixels tinted blue');
  assert.is(counts.backgroundGrey, counts.background, 'pixels outside the lungs stay grey');
});

test('renderAxialSlice shows the right lung on the left', async () => {
  const result = await scorePhantom();
  const steps = result.intermediates!;
  const labels = cropLikeNetworkInput(cleanedLungLabels(steps.lungmaskLabels, steps.maskClean), steps.cropOffset, result.sliceRange);
  const slice = Math.floor(labels.shape[2] / 2);
  const panel = renderAxialSlice(steps.croppedImage, labels, slice);
  const tintedColumns = (test: (rgb: readonly number[]) => boolean) => {
    let sum = 0;
    let count = 0;
    for (let y = 0; y < panel.height; y++) {
      for (let x = 0; x < panel.width; x++) {
        if (test(panel.getPixel(x, y))) {
          sum += x;
          count++;
        }
      }
    }
    return sum / count;
  };
  const right = tintedColumns(([red, green, blue]) => red > green && green > blue);
  const left = tintedColumns(([red, green, blue]) => blue > green && green > red);
  assert.ok(right < panel.width / 2, `right lung at x ${right}`);
  assert.ok(left > panel.width / 2, `left lung at x ${left}`);
});

test('renderPreview places the slices under the header', async () => {
  const result = await scorePhantom();
  const figure = renderPreview(result, CONTEXT);
  const steps = result.intermediates!;
  const [height, width, depth] = steps.croppedImage.shape;
  assert.ok(depth >= PREVIEW_SLICES, `${depth} kept slices`);
  // Three columns of zoomed 224-pixel panels, 8 pixels apart, within 16-pixel margins.
  assert.is(figure.width, 2 * 16 + 3 * width * PREVIEW_ZOOM + 2 * 8);

  // The most superior shown slice is the top-left panel, at x = 16, somewhere below the header.
  const labels = cropLikeNetworkInput(cleanedLungLabels(steps.lungmaskLabels, steps.maskClean), steps.cropOffset, result.sliceRange);
  const topLeft = renderAxialSlice(steps.croppedImage, labels, chooseSlices(depth, PREVIEW_SLICES).at(-1)!);
  const probeRow = Math.floor(topLeft.height / 2);
  const probe = Array.from(topLeft.data.subarray(3 * probeRow * topLeft.width, 3 * (probeRow + 1) * topLeft.width)).join();
  let found = -1;
  for (let y = 0; y < figure.height && found < 0; y++) {
    const row = Array.from(figure.data.subarray(3 * (y * figure.width + 16), 3 * (y * figure.width + 16 + topLeft.width))).join();
    if (row === probe) found = y - probeRow;
  }
  assert.ok(found > 100, `top-left panel found at y ${found}, below the header`);
  assert.ok(found + height * PREVIEW_ZOOM < figure.height, 'panel inside the figure');
});

test('renderExplanation draws the coronal lungs and both heads', async () => {
  const result = await scorePhantom();
  const figure = renderExplanation(result, CONTEXT);
  const colours = new Set<string>();
  let rightTinted = 0;
  let leftTinted = 0;
  for (let i = 0; i < figure.width * figure.height; i++) {
    const [red, green, blue] = figure.data.subarray(3 * i, 3 * i + 3);
    colours.add(`${red},${green},${blue}`);
    if (!isGrey([red, green, blue]) && red > green && green > blue) rightTinted++;
    if (!isGrey([red, green, blue]) && blue > green && green > red) leftTinted++;
  }
  assert.ok(rightTinted > 5000, `orange-tinted pixels: ${rightTinted}`);
  assert.ok(leftTinted > 5000, `blue-tinted pixels: ${leftTinted}`);
  assert.ok(colours.has(LUNG_COLOURS[1].join()), 'right lung outline colour');
  assert.ok(colours.has(LUNG_COLOURS[2].join()), 'left lung outline colour');
  assert.ok(colours.has('0,114,178'), 'bars of the heads on the whole crop');
  assert.ok(colours.has('213,94,0'), 'bars of the heads on the lungs only');
  assert.ok(colours.has('0,158,115'), 'lines bounding the kept slices');
});

test('coronalPlaneWithMostLung picks the fullest plane', () => {
  // (H, W, Z) = (3, 2, 2): row h = 1 has three lung voxels, the others one each.
  const labels = { data: Uint8Array.from([1, 0, 0, 0, 2, 1, 1, 0, 0, 0, 0, 2]), shape: [3, 2, 2] };
  // Row h is resampled y = H - 1 - h.
  assert.is(coronalPlaneWithMostLung(labels), 1);
  labels.data[0] = 0;
  labels.data[4] = 0;
  labels.data[5] = 0;
  labels.data.set([1, 1, 1, 1], 8);
  assert.is(coronalPlaneWithMostLung(labels), 0);
});

test('writeFigureOutputs writes decodable figures', async () => {
  const result = await scorePhantom();
  const folder = await temporaryDir();
  const outputs = { preview: path.join(folder, 'preview.png'), explain: path.join(folder, 'explain.png') };
  const written = await writeFigureOutputs(outputs, result, CONTEXT);
  assert.equal(written, [outputs.preview, outputs.explain]);
  assert.equal((await fs.readdir(folder)).sort(), ['explain.png', 'preview.png']);

  const expected = { preview: renderPreview(result, CONTEXT), explain: renderExplanation(result, CONTEXT) };
  for (const name of ['preview', 'explain'] as const) {
    const decoded = decodeRgbPng(await fs.readFile(outputs[name]));
    assert.is(decoded.width, expected[name].width, `${name} width`);
    assert.is(decoded.height, expected[name].height, `${name} height`);
    assert.ok(Buffer.from(decoded.rgb).equals(Buffer.from(expected[name].data)), `${name} pixels`);
  }
});

test('writeFigureOutputs leaves no file when one fails', async () => {
  const result = await scorePhantom();
  const folder = await temporaryDir();
  await fs.writeFile(path.join(folder, 'not-a-folder'), '');
  const outputs = { preview: path.join(folder, 'preview.png'), 'save-mask': path.join(folder, 'not-a-folder', 'mask.mha') };
  await assertRejects(() => writeFigureOutputs(outputs, result, CONTEXT), /--save-mask .*not-a-folder.*mask\.mha: writing failed/);
  assert.equal(await fs.readdir(folder), ['not-a-folder']);
});

test.run();
