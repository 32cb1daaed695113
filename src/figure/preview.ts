/**
 * The preview figure: axial slices of the 224 × 224 crop that the networks see, evenly spaced
 * over the kept slices and shown in the lung window. The cleaned lung mask is tinted and outlined,
 * the right and left lungs in two colours, under a header with both probabilities.
 */
import { cleanedLungLabels, cropLikeNetworkInput } from '../lung-labels.js';
import type { PipelineResult } from '../pipeline.js';
import { slicePositions } from '../steps/explain.js';
import { LEFT_LUNG_LABEL, RIGHT_LUNG_LABEL } from '../steps/lung-measures.js';
import { TARGET_SPACING_MM } from '../steps/resample.js';
import type { NdArray } from '../volume.js';
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
  paintLungPixel,
  renderHeader,
} from './common.js';
import { drawText, lineHeight } from './font.js';
import { BLACK, Raster, WHITE, windowGrey } from './raster.js';

/** In-plane size of a crop pixel, in mm: the resampled spacing. */
const CROP_PIXEL_MM = TARGET_SPACING_MM[0];
/** Number of axial slices shown, fewer when fewer slices are kept. */
export const PREVIEW_SLICES = 6;
/** Screen pixels per crop pixel, so one screen pixel is 0.75 mm. */
export const PREVIEW_ZOOM = 2;
const COLUMNS = 3;
const GAP = 8;
/** Length of the scale bar on each slice, in mm. */
const SCALE_BAR_MM = 50;

/**
 * Chooses `count` of `total` kept slices, the middle one of each of `count` equal runs, so the
 * choice covers the lungs from top to bottom. Returns indices into the kept slices, ascending.
 */
export function chooseSlices(total: number, count: number): number[] {
  const chosen = Math.min(total, count);
  return Array.from({ length: chosen }, (_, k) => Math.floor(((k + 0.5) * total) / chosen));
}

/**
 * Draws kept slice `slice` of the cropped (H, W, Z) image and labels, zoomed, with anterior at the
 * top and the patient's right on the left.
 */
export function renderAxialSlice(image: NdArray, labels: NdArray<Uint8Array>, slice: number): Raster {
  const [height, width, depth] = image.shape;
  const zoom = PREVIEW_ZOOM;
  const panel = new Raster(width * zoom, height * zoom, BLACK);
  // Row h of the (H, W, Z) layout is y reversed (posterior first), so display row r shows h = H - 1 - r.
  const labelAt = (row: number, column: number) => labels.data[((height - 1 - row) * width + column) * depth + slice];
  const labelOnScreen = (x: number, y: number) =>
    x < 0 || y < 0 || x >= panel.width || y >= panel.height ? 0 : labelAt(Math.floor(y / zoom), Math.floor(x / zoom));

  for (let y = 0; y < panel.height; y++) {
    const row = Math.floor(y / zoom);
    for (let x = 0; x < panel.width; x++) {
      const column = Math.floor(x / zoom);
      const hu = image.data[((height - 1 - row) * width + column) * depth + slice];
      panel.setPixel(x, y, windowGrey(hu, LUNG_WINDOW_HU[0], LUNG_WINDOW_HU[1]));
      const label = labelAt(row, column);
      if (label !== 0) paintLungPixel(panel, x, y, label, labelOnScreen);
    }
  }
  drawOrientationLetters(panel, 'A', 'P');

  const barLength = Math.round((SCALE_BAR_MM / CROP_PIXEL_MM) * zoom);
  const barY = panel.height - 12;
  panel.fillRect(10, barY - 1, barLength + 2, 5, BLACK);
  panel.fillRect(11, barY, barLength, 3, WHITE);
  drawText(panel, `${SCALE_BAR_MM / 10} cm`, 11, barY - 22, { scale: 2, colour: WHITE, outline: BLACK });
  return panel;
}

/** Draws the preview figure of a result computed with `intermediates: true`. */
export function renderPreview(result: PipelineResult, context: FigureContext): Raster {
  const steps = result.intermediates;
  if (steps === undefined) {
    throw new Error('renderPreview needs a result computed with intermediates: true');
  }
  const image = steps.croppedImage;
  const labels = cropLikeNetworkInput(cleanedLungLabels(steps.lungmaskLabels, steps.maskClean), steps.cropOffset, result.sliceRange);
  const positions = slicePositions(steps.resampled, result.sliceRange);
  const total = positions.length;
  // Resampled z grows towards the head, so the reversed order shows the most superior slice first, as viewers page.
  const shownSlices = chooseSlices(total, PREVIEW_SLICES).reverse();

  const panelSize = image.shape[0] * PREVIEW_ZOOM;
  const columns = Math.min(COLUMNS, shownSlices.length);
  const rows = Math.ceil(shownSlices.length / COLUMNS);
  const width = 2 * MARGIN + columns * panelSize + (columns - 1) * GAP;
  const subtitle = `axial slices of the ${image.shape[0]} \u00d7 ${image.shape[1]} crop that the networks see, lung window`;
  const header = renderHeader(Math.max(width, 1100), result, context, subtitle);
  const figureWidth = Math.max(width, header.width);
  const footerHeight = 2 * lineHeight(2) + 16;
  const gridTop = header.height + 8;
  const figure = new Raster(figureWidth, gridTop + rows * (panelSize + GAP) + footerHeight + MARGIN, WHITE);
  figure.drawRaster(header, 0, 0);

  shownSlices.forEach((kept, index) => {
    const x = MARGIN + (index % COLUMNS) * (panelSize + GAP);
    const y = gridTop + Math.floor(index / COLUMNS) * (panelSize + GAP);
    figure.drawRaster(renderAxialSlice(image, labels, kept), x, y);
    drawText(figure, `z ${formatNumber(positions[kept].zMm, 1)} mm`, x + 8, y + 8, { scale: 2, colour: WHITE, outline: BLACK });
  });

  let y = gridTop + rows * (panelSize + GAP) + 4;
  const { rightMl, leftMl } = result.lungMeasures;
  let x = drawSwatch(figure, MARGIN, y, LUNG_COLOURS[RIGHT_LUNG_LABEL], `right lung ${rightMl.toFixed(0)} mL`);
  x = drawSwatch(figure, x, y, LUNG_COLOURS[LEFT_LUNG_LABEL], `left lung ${leftMl.toFixed(0)} mL`);
  const [low, high] = LUNG_WINDOW_HU;
  drawText(figure, `(cleaned lung mask)   window ${formatNumber(low, 0)} to ${high} HU`, x, y, { scale: 2, colour: TEXT_COLOUR });
  y += lineHeight(2);
  const first = formatNumber(positions[0].zMm, 1);
  const last = formatNumber(positions[total - 1].zMm, 1);
  drawText(figure, `${shownSlices.length} of the ${total} kept slices (z ${first} to ${last} mm), evenly spaced. Research use only, not for diagnosis.`, MARGIN, y, {
    scale: 2,
    colour: MUTED_COLOUR,
  });
  return figure;
}
