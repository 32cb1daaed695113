/**
 * Shared pieces of the command line: option parsing, usage errors and the package version.
 */
import { parseArgs } from 'node:util';

import fs from 'fs-extra';

import { checkDevice } from '../backend/onnx.js';
import { setLogLevel } from '../log.js';
import { checkPrecision } from '../models.js';

export const VERSION: string = (await fs.readJson(new URL('../../../package.json', import.meta.url))).version;

/** A mistake in the command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

type OptionsConfig = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;
type ParsedArguments<T extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: typeof COMMON_OPTIONS & T; allowPositionals: true; strict: true }>>;

export function parse<T extends OptionsConfig>(args: string[], options: T, command: string): ParsedArguments<T> {
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)} (see 'balaitous ${command} --help')`);
  }
}

export function parseNumber(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) {
    throw new UsageError(`invalid ${option} ${JSON.stringify(text)}: expected a number`);
  }
  return value;
}

/** Help lines of the options that `sessionOptions` reads besides --models. */
export const SESSION_OPTIONS_HELP = `  --device DEVICE      auto, cpu, cuda or webgpu (default: auto, CUDA when its provider loads and finds a GPU, else the CPU)
  --precision P        fp32 or fp16 networks; fp16 needs the models' fp16 variants (default: fp32)
  --threads N          CPU threads for ONNX Runtime (default: the CPUs available)`;

export function sessionOptions(values: { models?: string; device?: string; precision?: string; threads?: string }) {
  let threads: number | undefined;
  if (values.threads !== undefined) {
    threads = parseNumber(values.threads, '--threads');
    if (!Number.isInteger(threads) || threads! < 1) {
      throw new UsageError(`invalid --threads ${values.threads}: expected a positive integer`);
    }
  }
  let device;
  let precision;
  try {
    device = values.device === undefined ? undefined : checkDevice(values.device, '--device');
    precision = values.precision === undefined ? undefined : checkPrecision(values.precision, '--precision');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return { models: values.models, device, precision, threads };
}

export function applyVerbosity(values: { quiet?: boolean; verbose?: boolean }): void {
  if (values.quiet) setLogLevel('warn');
  if (values.verbose) setLogLevel('debug');
}
