/**
 * Pieces shared by the figures: colours, number formats, and the header that names the scan,
 * the models and both probabilities.
 */
import type { PipelineResult } from '../pipeline.js';
import { LEFT_LUNG_LABEL, RIGHT_LUNG_LABEL } from '../steps/lung-measures.js';
import { drawText, lineHeight } from './font.js';
import { BLACK, Raster, type Rgb } from './raster.js';

/** Grey-level window for lung parenchyma, in HU: darker is air, brighter is soft tissue. */
export const LUNG_WINDOW_HU: readonly [number, number] = [-1350, 150];

/** Mask colours per lungmask label, from the Okabe–Ito palette, which colour-blind readers can tell apart. */
export const LUNG_COLOURS: Record<number, Rgb> = {
  [RIGHT_LUNG_LABEL]: [230, 159, 0],
  [LEFT_LUNG_LABEL]: [86, 180, 233],
};
/** Weight of the lung colour over the grey CT value inside the mask. */
export const LUNG_TINT_ALPHA = 0.3;

export const TEXT_COLOUR: Rgb = [20, 20, 20];
export const MUTED_COLOUR: Rgb = [90, 90, 90];
export const WARNING_COLOUR: Rgb = [200, 0, 0];

/** Margin around a figure, in pixels. */
export const MARGIN = 16;

/** Run details that the figures show besides the result itself. */
export interface FigureContext {
  /** Name of the scan in the title, usually its file name. */
  scanName: string;
  /** Name of the models directory's models, from its manifest. */
  modelsName: string;
  /** Whether the models were exported from the published checkpoints. */
  modelsPublished: boolean;
}

/** Formats a number with a true minus sign (U+2212), which reads better than a hyphen in figures. */
export function formatNumber(value: number, digits: number): string {
  const text = value.toFixed(digits);
  return text.startsWith('-') ? `\u2212${text.slice(1)}` : text;
}

/** Formats a number with its sign always shown. */
export function formatSigned(value: number, digits: number): string {
  return value >= 0 ? `+${value.toFixed(digits)}` : formatNumber(value, digits);
}

export function formatPercent(probability: number): string {
  return `${(100 * probability).toFixed(1)} %`;
}

function describeSex(sex: number): string {
  if (sex === 0) return 'female';
  if (sex === 1) return 'male';
  return 'unknown';
}

const SOURCE_NAMES = { caller: 'given', metadata: 'from the header', default: 'default' } as const;

/** Upper bound of the header height, in pixels, before it is cut to what it uses. */
const HEADER_MAX_HEIGHT = 400;

/**
 * Draws the figure header, `width` pixels wide: the scan name, a subtitle, both probabilities, the
 * patient age and sex that the severity heads used, the models, and a warning when the models are
 * not the published ones.
 */
export function renderHeader(width: number, result: PipelineResult, context: FigureContext, subtitle: string): Raster {
  const raster = new Raster(width, HEADER_MAX_HEIGHT);
  let y = MARGIN;
  drawText(raster, context.scanName, MARGIN, y, { scale: 3, colour: TEXT_COLOUR });
  y += lineHeight(3);
  drawText(raster, subtitle, MARGIN, y, { scale: 2, colour: MUTED_COLOUR });
  y += lineHeight(2) + 8;

  const covidText = `P(COVID-19) ${formatPercent(result.covid)}`;
  const covidWidth = drawText(raster, covidText, MARGIN, y, { scale: 4, colour: TEXT_COLOUR });
  drawText(raster, `P(severe outcome) ${formatPercent(result.severe)}`, MARGIN + covidWidth + 64, y, { scale: 4, colour: TEXT_COLOUR });
  y += lineHeight(4);

  const { ageYears, ageSource, sexSource } = result.ageSex;
  const patient =
    `age ${formatNumber(ageYears, 0)} years (${SOURCE_NAMES[ageSource]}), sex ${describeSex(result.ageSex.sex)} (${SOURCE_NAMES[sexSource]})`;
  drawText(raster, `${patient}   models: ${context.modelsName}`, MARGIN, y, { scale: 2, colour: TEXT_COLOUR });
  y += lineHeight(2);
  if (!context.modelsPublished) {
    drawText(raster, 'TEST MODELS: not medically meaningful', MARGIN, y, { scale: 3, colour: WARNING_COLOUR });
    y += lineHeight(3);
  }
  return raster.crop(0, 0, width, y);
}

const ORIENTATION_COLOUR: Rgb = [255, 230, 120];

/**
 * Writes the patient's right (R) and left (L) at the middle of the left and right edges of a view,
 * and the given letters at the middle of its top and bottom edges.
 */
export function drawOrientationLetters(view: Raster, top: string, bottom: string): void {
  const letter = { scale: 2, colour: ORIENTATION_COLOUR, outline: BLACK };
  const middle = view.height / 2 - 7;
  drawText(view, 'R', 6, middle, letter);
  drawText(view, 'L', view.width - 6, middle, { ...letter, align: 'right' });
  drawText(view, top, view.width / 2, 6, { ...letter, align: 'center' });
  drawText(view, bottom, view.width / 2, view.height - 20, { ...letter, align: 'center' });
}

/**
 * Paints screen pixel (x, y) of a lung: in the lung's colour where a 4-neighbour has another
 * label, which outlines the lung one pixel thin, else tinted over the grey already there.
 * `labelAt` returns the label shown at a screen pixel, 0 outside the view.
 */
export function paintLungPixel(view: Raster, x: number, y: number, label: number, labelAt: (x: number, y: number) => number): void {
  const neighbours = [labelAt(x, y - 1), labelAt(x, y + 1), labelAt(x - 1, y), labelAt(x + 1, y)];
  if (neighbours.some((neighbour) => neighbour !== label)) {
    view.setPixel(x, y, LUNG_COLOURS[label]);
  } else {
    view.blendPixel(x, y, LUNG_COLOURS[label], LUNG_TINT_ALPHA);
  }
}

/** Draws a filled colour square and its label; returns the x after them. */
export function drawSwatch(raster: Raster, x: number, y: number, colour: Rgb, label: string): number {
  const size = 14;
  raster.fillRect(x, y, size, size, colour);
  const width = drawText(raster, label, x + size + 8, y, { scale: 2, colour: TEXT_COLOUR });
  return x + size + 8 + width + 32;
}
