/**
 * The output files of `balaitous predict` for checking a result by eye: the preview and
 * explanation figures (PNG) and the lung mask on the scan's own grid.
 */
import path from 'node:path';

import fs from 'fs-extra';

import { renderExplanation } from '../figure/explain.js';
import { renderPreview } from '../figure/preview.js';
import type { FigureContext } from '../figure/common.js';
import type { Raster } from '../figure/raster.js';
import { writeRgbPng, writeVolume } from '../io/image.js';
import { cleanedLungLabels, labelsOnScanGrid } from '../lung-labels.js';
import type { PipelineResult } from '../pipeline.js';
import { UsageError } from './options.js';

export const FIGURE_OPTIONS = {
  preview: { type: 'string' },
  explain: { type: 'string' },
  'save-mask': { type: 'string' },
} as const;

export const FIGURE_HELP = `  --preview FILE.png   write axial slices of the crop the networks see, with the lung mask and both probabilities
  --explain FILE.png   write each head's share of the logit per slice beside a coronal view of the scan
  --save-mask FILE     write the cleaned lung mask (0 background, 1 right lung, 2 left lung, uint8) on the
                       scan's own grid, to overlay on it in a viewer (.mha, .nii, .nii.gz or .nrrd)`;

type FigureOption = keyof typeof FIGURE_OPTIONS;

/** Endings that `--save-mask` accepts: image formats that itk-wasm writes as one file. */
const MASK_EXTENSIONS = ['.mha', '.nii.gz', '.nii', '.nrrd'] as const;

/** Output files requested on the command line, checked and resolved. */
export interface FigureOutputs {
  preview?: string;
  explain?: string;
  'save-mask'?: string;
}

function extensionOf(option: FigureOption, file: string): string {
  const lower = file.toLowerCase();
  if (option !== 'save-mask') {
    if (!lower.endsWith('.png')) {
      throw new UsageError(`invalid --${option} ${JSON.stringify(file)}: the file name must end with .png`);
    }
    return '.png';
  }
  const extension = MASK_EXTENSIONS.find((ending) => lower.endsWith(ending));
  if (extension === undefined) {
    throw new UsageError(`invalid --save-mask ${JSON.stringify(file)}: the file name must end with ${MASK_EXTENSIONS.join(', ')}`);
  }
  return extension;
}

/**
 * Creates and removes an empty file in `folder`; returns the error code on failure. This catches
 * what a permission check misses when running as root, such as a read-only or kernel file system.
 */
async function probeWrite(folder: string): Promise<string | undefined> {
  const probe = path.join(folder, `.balaitous-write-test.${process.pid}`);
  try {
    await fs.writeFile(probe, '', { flag: 'wx' });
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
  await fs.remove(probe);
  return undefined;
}

/**
 * Checks the output options before any work: the file name's ending, that no two options name the
 * same file, that the folder exists and is writable, and that the path is not a folder. Throws a
 * UsageError naming the option and the fix.
 */
export async function checkFigureOutputs(values: Partial<Record<FigureOption, string>>): Promise<FigureOutputs> {
  const outputs: FigureOutputs = {};
  const seen = new Map<string, FigureOption>();
  for (const option of Object.keys(FIGURE_OPTIONS) as FigureOption[]) {
    const file = values[option];
    if (file === undefined) continue;
    extensionOf(option, file);
    const resolved = path.resolve(file);
    const earlier = seen.get(resolved);
    if (earlier !== undefined) {
      throw new UsageError(`--${earlier} and --${option} name the same file ${file}: give each its own file`);
    }
    seen.set(resolved, option);

    const folder = path.dirname(resolved);
    const folderStat = await fs.stat(folder).catch(() => undefined);
    if (folderStat === undefined || !folderStat.isDirectory()) {
      throw new UsageError(`invalid --${option} ${file}: folder ${folder} not found (create it first)`);
    }
    const failure = await probeWrite(folder);
    if (failure !== undefined) {
      throw new UsageError(`invalid --${option} ${file}: folder ${folder} is not writable (${failure}; choose another folder)`);
    }
    if ((await fs.stat(resolved).catch(() => undefined))?.isDirectory()) {
      throw new UsageError(`invalid --${option} ${file}: it is a folder (give a file name)`);
    }
    outputs[option] = resolved;
  }
  return outputs;
}

export function wantsFigureOutputs(outputs: FigureOutputs): boolean {
  return Object.keys(outputs).length > 0;
}

/** Temporary name beside `file`, with the same ending so that the image writer picks the same format. */
function temporaryName(file: string, extension: string): string {
  const base = path.basename(file);
  const stem = base.slice(0, base.length - extension.length);
  return path.join(path.dirname(file), `.${stem}.${process.pid}.partial${extension}`);
}

async function writePng(file: string, figure: Raster): Promise<void> {
  await writeRgbPng(file, figure.width, figure.height, figure.data);
}

async function writeOutput(option: FigureOption, file: string, result: PipelineResult, context: FigureContext): Promise<void> {
  const steps = result.intermediates!;
  if (option === 'preview') {
    await writePng(file, renderPreview(result, context));
  } else if (option === 'explain') {
    await writePng(file, renderExplanation(result, context));
  } else {
    const labels = cleanedLungLabels(steps.lungmaskLabels, steps.maskClean);
    await writeVolume(file, labelsOnScanGrid(labels, steps.resampled, steps.scan));
  }
}

/**
 * Renders and writes the requested outputs of a result computed with `intermediates: true`.
 * Every file is first written under a temporary name in its folder, then all are renamed, so a
 * failure leaves none of them. Returns the files written.
 */
export async function writeFigureOutputs(outputs: FigureOutputs, result: PipelineResult, context: FigureContext): Promise<string[]> {
  if (result.intermediates === undefined) {
    throw new Error('writeFigureOutputs needs a result computed with intermediates: true');
  }
  const written: [string, string][] = [];
  try {
    for (const option of Object.keys(FIGURE_OPTIONS) as FigureOption[]) {
      const file = outputs[option];
      if (file === undefined) continue;
      const temporary = temporaryName(file, extensionOf(option, file));
      written.push([temporary, file]);
      try {
        await writeOutput(option, temporary, result, context);
      } catch (error) {
        throw new Error(`--${option} ${file}: writing failed (${error instanceof Error ? error.message : String(error)})`);
      }
    }
    for (const [temporary, file] of written) {
      await fs.rename(temporary, file);
    }
  } catch (error) {
    // A temporary file that was never created can fail to be removed too, so wait for every removal.
    await Promise.allSettled(written.map(([temporary]) => fs.remove(temporary)));
    throw error;
  }
  return written.map(([, file]) => file);
}
