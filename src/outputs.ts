/**
 * Grand-challenge outputs: one JSON file per probability, validated, then written atomically.
 */
import path from 'node:path';

import { Ajv } from 'ajv';
import fs from 'fs-extra';

import { PACKAGE_ROOT } from './models.js';

/** Output file name of each probability, as the STOIC 2021 algorithm interface names them. */
export const OUTPUT_FILES = {
  covid: 'probability-covid-19.json',
  severe: 'probability-severe-covid-19.json',
} as const;

let validateProbability: ((value: unknown) => boolean) | undefined;

async function probabilityValidator() {
  if (validateProbability === undefined) {
    const schema = await fs.readJson(path.join(PACKAGE_ROOT, 'schemas', 'probability.schema.json'));
    validateProbability = new Ajv({ strict: true }).compile(schema);
  }
  return validateProbability;
}

/** Checks one output value against the schema; NaN and infinities are never valid. */
export async function checkProbability(name: string, value: number): Promise<void> {
  const validate = await probabilityValidator();
  if (!Number.isFinite(value) || !validate(value)) {
    throw new RangeError(`output ${name} = ${value} is not a probability in [0, 1]; nothing was written`);
  }
}

/**
 * Creates the output folder when missing and checks that files can be created in it, so that a
 * job fails before the networks run rather than after. Throws an error naming the folder.
 */
export async function prepareOutputDir(outputDir: string): Promise<void> {
  try {
    await fs.ensureDir(outputDir);
  } catch (error) {
    throw new Error(`${outputDir}: output folder cannot be created (${describe(error)}); pass a writable folder with --output`);
  }
  // A test file rather than access(W_OK), which is also true on a read-only mount for root.
  const probe = path.join(outputDir, `.balaitous-write-test.${process.pid}`);
  try {
    await fs.writeFile(probe, '');
  } catch (error) {
    throw new Error(`${outputDir}: output folder is not writable (${describe(error)}); pass a writable folder with --output`);
  }
  await fs.remove(probe);
}

/** Writes `text` to `file` and flushes it to disk before returning. */
async function writeSynced(file: string, text: string): Promise<void> {
  const handle = await fs.promises.open(file, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes both outputs or neither: both values are validated first, each file is written under a
 * temporary name, flushed and renamed, so a killed run never leaves a half-written file. When the
 * second rename fails, the first output is removed again.
 */
export async function writeOutputs(outputDir: string, values: { covid: number; severe: number }): Promise<string[]> {
  await checkProbability('covid', values.covid);
  await checkProbability('severe', values.severe);
  await prepareOutputDir(outputDir);

  const staged: [string, string][] = [];
  const renamed: string[] = [];
  try {
    for (const key of ['covid', 'severe'] as const) {
      const file = path.join(outputDir, OUTPUT_FILES[key]);
      const temporary = path.join(outputDir, `.${OUTPUT_FILES[key]}.${process.pid}.tmp`);
      staged.push([temporary, file]);
      await writeSynced(temporary, `${JSON.stringify(values[key])}\n`);
    }
    // NOTE: a kill between the two renames leaves the covid output alone. No order of two renames
    // in one folder closes that window, which lasts one rename call.
    for (const [temporary, file] of staged) {
      await fs.rename(temporary, file);
      renamed.push(file);
    }
  } catch (error) {
    await Promise.all([...staged.map(([temporary]) => fs.remove(temporary)), ...renamed.map((file) => fs.remove(file))]);
    throw new Error(`cannot write outputs to ${outputDir} (${describe(error)}); nothing was written`);
  }
  return staged.map(([, file]) => file);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
