/**
 * `balaitous gc`: the grand-challenge container entrypoint.
 */
import path from 'node:path';

import fs from 'fs-extra';

import { Balaitous } from '../index.js';
import { listDicomFiles } from '../io/dicom.js';
import { hasImageExtension } from '../io/image.js';
import { log } from '../log.js';
import { OUTPUT_FILES, prepareOutputDir, writeOutputs } from '../outputs.js';
import { SESSION_OPTIONS_HELP, UsageError, applyVerbosity, parse, sessionOptions } from './options.js';

export const GC_HELP = `Usage: balaitous gc [--input DIR] [--output DIR] [--models DIR] [--device DEVICE] [--precision P] [--threads N]

Runs as a grand-challenge algorithm: reads the one image (or DICOM series) in INPUT/images/ct/ and writes
OUTPUT/${OUTPUT_FILES.covid} and OUTPUT/${OUTPUT_FILES.severe}, each a bare JSON number in [0, 1].
Both files are written, or neither.

Options:
  --input DIR          input folder (default: /input)
  --output DIR         output folder (default: /output)
  --models DIR         models directory (default: as for predict)
${SESSION_OPTIONS_HELP}

Example:
  balaitous gc --input inputs-example --output /tmp/out --models test/fixtures/models`;

/**
 * Finds the single image of a grand-challenge input folder; a `.mhd` and its data file count as
 * one. A folder of DICOM slices without image files is returned as the scan itself.
 */
export async function findInputImage(inputDir: string): Promise<string> {
  const folder = path.join(inputDir, 'images', 'ct');
  if (!(await fs.pathExists(folder))) {
    throw new Error(`${folder}: input folder not found (expected the scan in INPUT/images/ct/)`);
  }
  const names = (await fs.readdir(folder)).filter((name) => !name.startsWith('.')).sort();
  const images = names.filter(hasImageExtension);
  if (images.length === 0 && (await listDicomFiles(folder)).length > 0) {
    return folder;
  }
  if (images.length === 0) {
    const found = names.length === 0 ? 'it is empty' : `it holds ${names.join(', ')}`;
    throw new Error(`${folder}: no image found (.mha, .mhd, .nii, .nii.gz, .nrrd, or DICOM slices); ${found}`);
  }
  if (images.length > 1) {
    throw new Error(`${folder}: ${images.length} images found (${images.join(', ')}); a job scores exactly one`);
  }
  return path.join(folder, images[0]);
}

export async function gcCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    input: { type: 'string' },
    output: { type: 'string' },
    models: { type: 'string' },
    device: { type: 'string' },
    precision: { type: 'string' },
    threads: { type: 'string' },
  }, 'gc');
  if (values.help) {
    process.stdout.write(`${GC_HELP}\n`);
    return 0;
  }
  applyVerbosity(values);
  if (positionals.length > 0) {
    throw new UsageError(`gc takes no positional argument, got ${positionals.join(' ')} (see 'balaitous gc --help')`);
  }
  const inputDir = values.input ?? '/input';
  const outputDir = values.output ?? '/output';
  const options = sessionOptions(values);

  const scan = await findInputImage(inputDir);
  // Before the models load, so that an unwritable output folder fails in seconds, not after a scan.
  await prepareOutputDir(outputDir);
  const model = await Balaitous.load(options);
  try {
    const result = await model.predict(scan);
    const files = await writeOutputs(outputDir, result);
    log.info(`wrote ${files.join(' and ')}: covid ${result.covid}, severe ${result.severe}`);
  } finally {
    await model.dispose();
  }
  return 0;
}
