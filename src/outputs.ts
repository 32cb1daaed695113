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
 * Writes both outputs or neither: both values are validated first, each file is written under a
 * temporary name and renamed, so a killed run never leaves a half-written file.
 */
export async function writeOutputs(outputDir: string, values: { covid: number; severe: number }): Promise<string[]> {
  await checkProbability('covid', values.covid);
  await checkProbability('severe', values.severe);
  await fs.ensureDir(outputDir);

  const staged: [string, string][] = [];
  try {
    for (const key of ['covid', 'severe'] as const) {
      const file = path.join(outputDir, OUTPUT_FILES[key]);
      const temporary = path.join(outputDir, `.${OUTPUT_FILES[key]}.${process.pid}.tmp`);
      await fs.writeFile(temporary, `${JSON.stringify(values[key])}\n`);
      staged.push([temporary, file]);
    }
    for (const [temporary, file] of staged) {
      await fs.rename(temporary, file);
    }
  } catch (error) {
    await Promise.all(staged.map(([temporary]) => fs.remove(temporary)));
    throw new Error(`cannot write outputs to ${outputDir} (${error instanceof Error ? error.message : String(error)})`);
  }
  return staged.map(([, file]) => file);
}
