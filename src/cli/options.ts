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
  const allOptions = { ...COMMON_OPTIONS, ...options };
  try {
    return parseArgs({ args, options: allOptions, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(describeParseError(error, Object.keys(allOptions), command));
  }
}

/** Rewrites util.parseArgs errors in the words of this command line, with a hint for a misspelled option. */
function describeParseError(error: unknown, optionNames: string[], command: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined) {
    const name = option.replace(/^-+/, '').replace(/=.*$/, '');
    const closest = optionNames
      .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
      .sort((a, b) => a.distance - b.distance)[0];
    const isLongOption = option.startsWith('--') && name.length >= 2;
    const hint = isLongOption && closest !== undefined && closest.distance <= 2 ? ` (did you mean --${closest.candidate}?)` : '';
    return `unknown option ${option} for 'balaitous ${command}'${hint}; run 'balaitous ${command} --help' for its options`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined && /argument missing/.test(message)) {
    return `missing value for ${option}; run 'balaitous ${command} --help' for what it expects`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined && /does not take an argument/.test(message)) {
    return `${option} takes no value; run 'balaitous ${command} --help' for its usage`;
  }
  return `${message} (see 'balaitous ${command} --help')`;
}

/** Levenshtein distance: the fewest single-character insertions, deletions and substitutions from `a` to `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
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
  --precision P        fp32, fp16 or int8 networks; fp16 and int8 need the models' variants of that
                       name; int8 (8-bit ViT weights) is for CPUs (default: fp32)
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
