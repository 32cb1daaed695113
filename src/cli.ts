/**
 * Command line: `balaitous predict`, `balaitous gc` (the container entrypoint) and `balaitous models`.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';

import fs from 'fs-extra';

import { checkDevice } from './backend/onnx.js';
import { writeDebugDir } from './debug-dir.js';
import { Balaitous } from './index.js';
import { hasImageExtension } from './io/image.js';
import { log, setLogLevel } from './log.js';
import { findModelsDir, modelsSearchPath, readManifest, verifyModelsDir } from './models.js';
import { OUTPUT_FILES, writeOutputs } from './outputs.js';
import { checkAgeYears, checkSex } from './steps/age-sex.js';

const VERSION: string = (await fs.readJson(new URL('../../package.json', import.meta.url))).version;

/** A mistake in the command line: printed with a pointer to --help, exit code 2. */
class UsageError extends Error {}

const HELP: Record<string, string> = {
  main: `balaitous ${VERSION}: P(COVID-19) and P(severe outcome) from a chest CT, with the Balaitous model.

Usage:
  balaitous predict SCAN [options]     score one scan (.mha, .mhd, .nii, .nii.gz, .nrrd)
  balaitous gc [options]               container entrypoint: /input/images/ct/ to /output/*.json
  balaitous models verify [DIR]        check a models directory against its manifest
  balaitous models info                show where models are looked up and what is installed

Options for every command: --help, --version, --quiet, --verbose.
Run 'balaitous COMMAND --help' for the options of a command.`,
  predict: `Usage: balaitous predict SCAN [options]

Scores one chest CT and prints both probabilities.

Options:
  --age YEARS          patient age in years (default: PatientAge of the header, else 65)
  --sex 0|0.5|1        patient sex: 0 female, 1 male, 0.5 unknown (default: PatientSex of the header, else 0.5)
  --models DIR         models directory (default: $BALAITOUS_MODELS, then models/ in the package, then ~/.cache/balaitous/models)
  --device DEVICE      auto, cpu, cuda or webgpu (default: auto, CUDA when it loads, else the CPU)
  --threads N          CPU threads for ONNX Runtime (default: the CPUs available)
  --json               print one JSON object on stdout (covid, severe, age, sex, providers, timings)
  --debug-dir DIR      write every intermediate result, named as the reference implementation's dumps
  --quiet, --verbose   fewer or more log lines on stderr

Examples:
  balaitous predict scan.mha
  balaitous predict scan.mha --age 72 --sex 1 --json
  balaitous predict scan.mha --models test/fixtures/models --debug-dir debug/`,
  gc: `Usage: balaitous gc [--input DIR] [--output DIR] [--models DIR] [--device DEVICE] [--threads N]

Runs as a grand-challenge algorithm: reads the one image in INPUT/images/ct/ and writes
OUTPUT/${OUTPUT_FILES.covid} and OUTPUT/${OUTPUT_FILES.severe}, each a bare JSON number in [0, 1].
Both files are written, or neither.

Options:
  --input DIR          input folder (default: /input)
  --output DIR         output folder (default: /output)
  --models DIR         models directory (default: as for predict)
  --device DEVICE      auto, cpu, cuda or webgpu (default: auto)
  --threads N          CPU threads for ONNX Runtime (default: the CPUs available)

Example:
  balaitous gc --input inputs-example --output /tmp/out --models test/fixtures/models`,
  models: `Usage: balaitous models verify [DIR] | balaitous models info

  verify [DIR]   check each file of a models directory (default: the one in use) against its manifest
  info           list the places searched for models, in order, and what each holds`,
};

const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

function parse<T extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(args: string[], options: T, command: string) {
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)} (see 'balaitous ${command} --help')`);
  }
}

function parseNumber(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) {
    throw new UsageError(`invalid ${option} ${JSON.stringify(text)}: expected a number`);
  }
  return value;
}

function sessionOptions(values: { models?: string; device?: string; threads?: string }) {
  let threads: number | undefined;
  if (values.threads !== undefined) {
    threads = parseNumber(values.threads, '--threads');
    if (!Number.isInteger(threads) || threads! < 1) {
      throw new UsageError(`invalid --threads ${values.threads}: expected a positive integer`);
    }
  }
  let device;
  try {
    device = values.device === undefined ? undefined : checkDevice(values.device, '--device');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return { models: values.models, device, threads };
}

function applyVerbosity(values: { quiet?: boolean; verbose?: boolean }): void {
  if (values.quiet) setLogLevel('warn');
  if (values.verbose) setLogLevel('debug');
}

async function predictCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    age: { type: 'string' },
    sex: { type: 'string' },
    models: { type: 'string' },
    device: { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'boolean' },
    'debug-dir': { type: 'string' },
  }, 'predict');
  if (values.help) {
    process.stdout.write(`${HELP.predict}\n`);
    return 0;
  }
  applyVerbosity(values);
  if (positionals.length !== 1) {
    throw new UsageError(`predict takes one scan, got ${positionals.length} (see 'balaitous predict --help')`);
  }
  const age = parseNumber(values.age, '--age');
  const sex = parseNumber(values.sex, '--sex');
  try {
    if (age !== undefined) checkAgeYears(age, '--age');
    if (sex !== undefined) checkSex(sex, '--sex');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const options = sessionOptions(values);

  const [scan] = positionals;
  const debugDir = values['debug-dir'];
  const model = await Balaitous.load(options);
  try {
    const start = performance.now();
    const result = await model.predict(scan, { age, sex, intermediates: debugDir !== undefined });
    const seconds = (performance.now() - start) / 1000;
    log.info(`${scan}: scored in ${seconds.toFixed(2)} s`);
    if (debugDir !== undefined) {
      await writeDebugDir(debugDir, result);
      log.info(`intermediates written to ${debugDir}`);
    }

    if (values.json) {
      const output = {
        scan,
        covid: result.covid,
        severe: result.severe,
        age: result.age,
        sex: result.sex,
        heads: result.heads,
        providers: result.providers,
        models: model.modelsName,
        timings: result.timings,
      };
      process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    } else {
      process.stdout.write(`${scan}\n  P(COVID-19)       ${(100 * result.covid).toFixed(1)} %\n  P(severe outcome) ${(100 * result.severe).toFixed(1)} %\n`);
    }
  } finally {
    await model.dispose();
  }
  return 0;
}

/** Finds the single image of a grand-challenge input folder; a `.mhd` and its data file count as one. */
export async function findInputImage(inputDir: string): Promise<string> {
  const folder = path.join(inputDir, 'images', 'ct');
  if (!(await fs.pathExists(folder))) {
    throw new Error(`${folder}: input folder not found (expected the scan in INPUT/images/ct/)`);
  }
  const names = (await fs.readdir(folder)).filter((name) => !name.startsWith('.')).sort();
  const images = names.filter(hasImageExtension);
  if (images.length === 0) {
    const found = names.length === 0 ? 'it is empty' : `it holds ${names.join(', ')}`;
    throw new Error(`${folder}: no image found (.mha, .mhd, .nii, .nii.gz, .nrrd); ${found}`);
  }
  if (images.length > 1) {
    throw new Error(`${folder}: ${images.length} images found (${images.join(', ')}); a job scores exactly one`);
  }
  return path.join(folder, images[0]);
}

async function gcCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    input: { type: 'string' },
    output: { type: 'string' },
    models: { type: 'string' },
    device: { type: 'string' },
    threads: { type: 'string' },
  }, 'gc');
  if (values.help) {
    process.stdout.write(`${HELP.gc}\n`);
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

async function modelsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { models: { type: 'string' } }, 'models');
  const [action, dirArgument] = positionals;
  if (values.help || action === undefined) {
    process.stdout.write(`${HELP.models}\n`);
    return values.help ? 0 : 2;
  }
  applyVerbosity(values);

  if (action === 'info') {
    for (const { dir, source } of modelsSearchPath(values.models)) {
      let state = 'no manifest.json';
      if (await fs.pathExists(path.join(dir, 'manifest.json'))) {
        const manifest = await readManifest(dir);
        state = `${manifest.name}${manifest.published ? '' : ' (test models)'}`;
      }
      process.stdout.write(`${source.padEnd(16)} ${dir}: ${state}\n`);
    }
    return 0;
  }
  if (action === 'verify') {
    const dir = await findModelsDir(dirArgument ?? values.models);
    const problems = await verifyModelsDir(dir);
    if (problems.length > 0) {
      process.stdout.write(`${dir}: INVALID\n  ${problems.join('\n  ')}\n`);
      return 1;
    }
    const manifest = await readManifest(dir);
    process.stdout.write(`${dir}: OK (${manifest.name}, every file matches its sha256)\n`);
    return 0;
  }
  throw new UsageError(`unknown models action ${JSON.stringify(action)}: expected verify or info`);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'predict':
        return await predictCommand(rest);
      case 'gc':
        return await gcCommand(rest);
      case 'models':
        return await modelsCommand(rest);
      case '--version':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${HELP.main}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}: expected predict, gc or models (see 'balaitous --help')`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`balaitous error: ${message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}
