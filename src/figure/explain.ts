/**
 * The explanation figure: a coronal view of the resampled scan with the lung mask tinted and the
 * kept slices marked, beside one plot per outcome of each head's share of the logit per kept
 * slice. The plots share the coronal view's vertical axis, the body axis z in mm.
 */
import { cleanedLungLabels } from '../lung-labels.js';
import type { PipelineResult } from '../pipeline.js';
import type { HeadExplanation } from '../steps/explain.js';
import type { HeadName } from '../steps/heads.js';
import { LEFT_LUNG_LABEL, RIGHT_LUNG_LABEL } from '../steps/lung-measures.js';
import type { NdArray, Volume } from '../volume.js';
import {
  type FigureContext,
  LUNG_COLOURS,
  LUNG_WINDOW_HU,
  MARGIN,
  MUTED_COLOUR,
  TEXT_COLOUR,
  drawOrientationLetters,
  drawSwatch,
  formatNumber,
  formatPercent,
  formatSigned,
  paintLungPixel,
  renderHeader,
} from './common.js';
import { drawText, lineHeight, textWidth } from './font.js';
import { BLACK, Raster, type Rgb, WHITE, windowGrey } from './raster.js';

/** Largest size of the coronal view, in pixels; it is drawn at up to `MAX_PIXELS_PER_MM`. */
const CORONAL_MAX_HEIGHT = 640;
const CORONAL_MAX_WIDTH = 720;
const MAX_PIXELS_PER_MM = 2.5;
const PLOT_WIDTH = 380;
const AXIS_WIDTH = 90;
const GAP = 28;

/** Bar colours of the head on the whole crop and of the head on the lungs only (Okabe–Ito blue and vermillion). */
const WHOLE_CROP_COLOUR: Rgb = [0, 114, 178];
const LUNGS_ONLY_COLOUR: Rgb = [213, 94, 0];
/** Colour of the lines that bound the kept slices (Okabe–Ito bluish green). */
const KEPT_COLOUR: Rgb = [0, 158, 115];
const GRID_COLOUR: Rgb = [225, 225, 225];

/** The heads of one outcome: on the whole crop, then on the lungs only. */
const OUTCOMES: { title: string; heads: [HeadName, HeadName] }[] = [
  { title: 'COVID-19 heads', heads: ['full_covid', 'lung_covid'] },
  { title: 'severity heads', heads: ['full_severe', 'lung_severe'] },
];

/** Returns 1, 2 or 5 times a power of ten, so that `range` spans about `count` steps. */
export function niceStep(range: number, count: number): number {
  const rough = range / count;
  if (!(rough > 0) || !Number.isFinite(rough)) return 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  for (const factor of [1, 2, 5]) {
    if (fraction <= factor) return factor * power;
  }
  return 10 * power;
}

/** Returns the resampled y index whose coronal plane contains the most lung voxels. */
export function coronalPlaneWithMostLung(labels: NdArray<Uint8Array>): number {
  const [height, width, depth] = labels.shape;
  let best = 0;
  let bestCount = -1;
  for (let h = 0; h < height; h++) {
    let count = 0;
    const plane = labels.data.subarray(h * width * depth, (h + 1) * width * depth);
    for (const value of plane) if (value !== 0) count++;
    if (count > bestCount) {
      bestCount = count;
      best = h;
    }
  }
  // Row h of the (H, W, Z) layout is resampled y = H - 1 - h.
  return height - 1 - best;
}

/** Maps body-axis positions in mm to figure rows: the coronal view and the plots share it. */
interface ZAxis {
  /** Row of the top edge of the highest slice. */
  top: number;
  /** z of that edge, in mm. */
  topMm: number;
  pixelsPerMm: number;
  /** Height in pixels of the whole resampled z range. */
  height: number;
}

function rowOf(axis: ZAxis, zMm: number): number {
  return Math.round(axis.top + (axis.topMm - zMm) * axis.pixelsPerMm);
}

/**
 * Draws the coronal plane `y` of the resampled volume, with the patient's right on the left and
 * the head at the top, in the lung window with each lung tinted and outlined.
 */
function renderCoronal(resampled: Volume, labels: NdArray<Uint8Array>, y: number, pixelsPerMm: number): Raster {
  const [sizeX, sizeY, sizeZ] = resampled.size;
  const [spacingX, , spacingZ] = resampled.spacing;
  const [height, width, depth] = labels.shape;
  const view = new Raster(Math.round(sizeX * spacingX * pixelsPerMm), Math.round(sizeZ * spacingZ * pixelsPerMm), BLACK);
  const h = height - 1 - y;
  const voxelAt = (row: number, column: number) => ({
    x: Math.min(sizeX - 1, Math.floor(column / (spacingX * pixelsPerMm))),
    z: sizeZ - 1 - Math.min(sizeZ - 1, Math.floor(row / (spacingZ * pixelsPerMm))),
  });
  const labelAt = (row: number, column: number) => {
    if (row < 0 || column < 0 || row >= view.height || column >= view.width) return 0;
    const { x, z } = voxelAt(row, column);
    return labels.data[(h * width + x) * depth + z];
  };

  for (let row = 0; row < view.height; row++) {
    for (let column = 0; column < view.width; column++) {
      const { x, z } = voxelAt(row, column);
      const hu = resampled.data[x + sizeX * (y + sizeY * z)];
      view.setPixel(column, row, windowGrey(hu, LUNG_WINDOW_HU[0], LUNG_WINDOW_HU[1]));
      const label = labelAt(row, column);
      if (label !== 0) paintLungPixel(view, column, row, label, (x, y) => labelAt(y, x));
    }
  }
  drawOrientationLetters(view, 'S', 'I');
  return view;
}

/** Draws one outcome's plot: per kept slice, one bar per head from zero to its share of the logit. */
function drawPlot(
  figure: Raster,
  left: number,
  axis: ZAxis,
  title: string,
  heads: [HeadExplanation, HeadExplanation],
  limit: number,
  sliceMm: number,
): void {
  const right = left + PLOT_WIDTH;
  const top = axis.top;
  const bottom = axis.top + axis.height;
  const xOf = (value: number) => Math.round(left + ((value + limit) / (2 * limit)) * PLOT_WIDTH);

  drawText(figure, title, left + PLOT_WIDTH / 2, top - 2 * lineHeight(2) - 4, { scale: 2, colour: TEXT_COLOUR, align: 'center' });
  // Grid lines at each step; labels at both ends and at zero only, so that neighbouring plots' labels do not meet.
  const step = niceStep(2 * limit, 4);
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  for (let value = -Math.floor(limit / step) * step; value <= limit + 1e-12; value += step) {
    const x = xOf(value);
    figure.drawLine(x, top, x, bottom, GRID_COLOUR);
    figure.drawLine(x, bottom, x, bottom + 5, TEXT_COLOUR);
  }
  const tick = { scale: 2, colour: TEXT_COLOUR };
  drawText(figure, formatSigned(-limit, decimals), left, bottom + 10, { ...tick, align: 'left' });
  drawText(figure, '0', xOf(0), bottom + 10, { ...tick, align: 'center' });
  drawText(figure, formatSigned(limit, decimals), right, bottom + 10, { ...tick, align: 'right' });

  const band = sliceMm * axis.pixelsPerMm;
  heads.forEach((head, index) => {
    const colour = index === 0 ? WHOLE_CROP_COLOUR : LUNGS_ONLY_COLOUR;
    for (const { zMm, contribution } of head.slices) {
      const bandTop = axis.top + (axis.topMm - zMm - sliceMm / 2) * axis.pixelsPerMm;
      const barTop = Math.round(bandTop + 1 + (index * (band - 2)) / 2);
      const barHeight = Math.max(1, Math.round((band - 2) / 2) - 1);
      const from = xOf(0);
      const to = xOf(Math.max(-limit, Math.min(limit, contribution)));
      figure.fillRect(Math.min(from, to), barTop, Math.max(1, Math.abs(to - from)), barHeight, colour);
    }
  });

  figure.drawLine(xOf(0), top, xOf(0), bottom, TEXT_COLOUR);
  figure.strokeRect(left, top, right - left, bottom - top, TEXT_COLOUR);
  drawText(figure, 'logit share per slice', left + PLOT_WIDTH / 2, bottom + 10 + lineHeight(2), { scale: 2, colour: TEXT_COLOUR, align: 'center' });
  drawText(figure, '\u2190 against   for \u2192', left + PLOT_WIDTH / 2, top - lineHeight(2) - 2, { scale: 2, colour: MUTED_COLOUR, align: 'center' });
}

/** Draws the explanation figure of a result computed with `intermediates: true`. */
export function renderExplanation(result: PipelineResult, context: FigureContext): Raster {
  const steps = result.intermediates;
  if (steps === undefined) {
    throw new Error('renderExplanation needs a result computed with intermediates: true');
  }
  const resampled = steps.resampled;
  const labels = cleanedLungLabels(steps.lungmaskLabels, steps.maskClean);
  const y = coronalPlaneWithMostLung(labels);
  const [sizeX, , sizeZ] = resampled.size;
  const [spacingX, spacingY, spacingZ] = resampled.spacing;
  const widthMm = sizeX * spacingX;
  const heightMm = sizeZ * spacingZ;
  const pixelsPerMm = Math.min(MAX_PIXELS_PER_MM, CORONAL_MAX_HEIGHT / heightMm, CORONAL_MAX_WIDTH / widthMm);
  const coronal = renderCoronal(resampled, labels, y, pixelsPerMm);

  const subtitle = 'where along the body axis each head finds its evidence: share of the logit per kept slice';
  // The caption goes under the coronal view, which a tall scan makes narrower than the caption.
  const caption = ['coronal plane with most lung', `y ${formatNumber(resampled.origin[1] + y * spacingY, 1)} mm`];
  const coronalAreaWidth = Math.max(coronal.width, ...caption.map((line) => textWidth(line, 2)));
  const plotsLeft = MARGIN + AXIS_WIDTH + coronalAreaWidth + GAP + 16;
  const width = plotsLeft + OUTCOMES.length * PLOT_WIDTH + (OUTCOMES.length - 1) * GAP + MARGIN;
  const header = renderHeader(width, result, context, subtitle);

  const plotTitleSpace = 2 * lineHeight(2) + 12;
  const axis: ZAxis = {
    top: header.height + plotTitleSpace + 8,
    topMm: resampled.origin[2] + (sizeZ - 0.5) * spacingZ,
    pixelsPerMm,
    height: coronal.height,
  };
  const legendTop = axis.top + axis.height + 2 * lineHeight(2) + 20;
  const figure = new Raster(width, legendTop + 6 * lineHeight(2) + MARGIN, WHITE);
  figure.drawRaster(header, 0, 0);

  const coronalLeft = MARGIN + AXIS_WIDTH;
  figure.drawRaster(coronal, coronalLeft, axis.top);
  caption.forEach((line, index) => {
    drawText(figure, line, coronalLeft, axis.top + axis.height + 10 + index * lineHeight(2), { scale: 2, colour: TEXT_COLOUR });
  });

  // Body axis: ticks on the left of the coronal view, grid lines across the plots.
  const zStep = niceStep(heightMm, 8);
  const zBottomMm = axis.topMm - heightMm;
  drawText(figure, 'z (mm)', MARGIN, axis.top - lineHeight(2) - 2, { scale: 2, colour: TEXT_COLOUR });
  for (let zMm = Math.ceil(zBottomMm / zStep) * zStep; zMm <= axis.topMm; zMm += zStep) {
    const row = rowOf(axis, zMm);
    figure.drawLine(coronalLeft - 6, row, coronalLeft - 1, row, TEXT_COLOUR);
    drawText(figure, formatNumber(zMm, 0), coronalLeft - 10, row - 7, { scale: 2, colour: TEXT_COLOUR, align: 'right' });
  }

  const limit = Math.max(
    1e-6,
    ...OUTCOMES.flatMap(({ heads }) => heads.flatMap((name) => result.explanation[name].slices.map(({ contribution }) => Math.abs(contribution)))),
  );
  const plotLimit = Math.ceil(limit / niceStep(limit, 2)) * niceStep(limit, 2);
  OUTCOMES.forEach(({ title, heads }, index) => {
    const left = plotsLeft + index * (PLOT_WIDTH + GAP);
    drawPlot(figure, left, axis, title, [result.explanation[heads[0]], result.explanation[heads[1]]], plotLimit, spacingZ);
  });

  // Kept slices: dashed lines at their outer edges, across the coronal view and the plots.
  const keptSlices = result.explanation.full_covid.slices;
  const keptTop = rowOf(axis, keptSlices[keptSlices.length - 1].zMm + spacingZ / 2);
  const keptBottom = rowOf(axis, keptSlices[0].zMm - spacingZ / 2);
  for (const row of [keptTop, keptBottom]) {
    figure.drawLine(coronalLeft, row, width - MARGIN, row, KEPT_COLOUR, { width: 2, dash: [8, 5] });
  }

  let legendY = legendTop;
  let x = drawSwatch(figure, MARGIN, legendY, LUNG_COLOURS[RIGHT_LUNG_LABEL], 'right lung');
  x = drawSwatch(figure, x, legendY, LUNG_COLOURS[LEFT_LUNG_LABEL], 'left lung');
  figure.drawLine(x, legendY + 7, x + 30, legendY + 7, KEPT_COLOUR, { width: 2, dash: [8, 5] });
  drawText(figure, `kept slices (${keptSlices.length}, z ${formatNumber(keptSlices[0].zMm, 1)} to ${formatNumber(keptSlices[keptSlices.length - 1].zMm, 1)} mm)`, x + 40, legendY, {
    scale: 2,
    colour: TEXT_COLOUR,
  });
  legendY += lineHeight(2) + 4;
  for (const [index, description] of ['head on the whole crop', 'head on the lungs only'].entries()) {
    const colour = index === 0 ? WHOLE_CROP_COLOUR : LUNGS_ONLY_COLOUR;
    const parts = OUTCOMES.map(({ heads }) => {
      const name = heads[index];
      const { offset, logit } = result.explanation[name];
      return `${name} offset ${formatSigned(offset, 2)}, logit ${formatSigned(logit, 2)}, p ${formatPercent(result.heads[name])}`;
    });
    drawSwatch(figure, MARGIN, legendY, colour, `${description}: ${parts.join('; ')}`);
    legendY += lineHeight(2) + 4;
  }
  const notes = [
    'Each head is a logistic regression on the mean of the slice features, so logit = offset + sum of the slice shares.',
    `A bar to the right pushes that head towards the outcome. Resampled voxels: ${spacingX} mm across, ${spacingZ} mm along z.`,
    'Research use only, not for diagnosis.',
  ];
  for (const note of notes) {
    drawText(figure, note, MARGIN, legendY, { scale: 2, colour: MUTED_COLOUR });
    legendY += lineHeight(2);
  }
  return figure;
}
