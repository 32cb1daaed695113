/**
 * Checks around itk-wasm's image reader: the file before it is read, and what the reader prints.
 */
import { stat } from 'node:fs/promises';

import { checkMetaImageData, readMetaImageHeader } from './metaimage-header.js';
import { checkNiftiFile } from './nifti-header.js';

/**
 * Checks an image file before itk-wasm reads it. The file must not be empty, and a MetaImage or
 * NIfTI header must announce no more pixel data than the file contains or the reader can store.
 * Returns warnings about extra data that the reader ignores, and throws an error naming the file
 * for anything that cannot be read as announced.
 */
export async function checkImageFile(file: string): Promise<string[]> {
  const { size } = await stat(file);
  if (size === 0) {
    throw new Error(`${file}: file is empty (0 bytes); copy or export the scan again`);
  }
  const lower = file.toLowerCase();
  if (lower.endsWith('.mha') || lower.endsWith('.mhd')) {
    const header = await readMetaImageHeader(file);
    const warning = await checkMetaImageData(file, header);
    return warning === undefined ? [] : [warning];
  }
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) {
    await checkNiftiFile(file);
  }
  return [];
}

/** Console lines printed while a function ran, with its result or error. */
export interface CapturedRun<T> {
  result?: T;
  error?: unknown;
  /** Console lines, in order. */
  lines: string[];
}

/**
 * Runs `task` with console.log and console.error redirected into `lines`. itk-wasm's pipelines
 * print their diagnostics there, some on stdout, which must carry only results.
 */
export async function captureConsole<T>(task: () => Promise<T>): Promise<CapturedRun<T>> {
  const lines: string[] = [];
  const saved = { log: console.log, error: console.error, warn: console.warn, info: console.info };
  const collect = (...values: unknown[]) => {
    lines.push(...values.map(String).join(' ').split('\n'));
  };
  console.log = console.error = console.warn = console.info = collect;
  try {
    return { result: await task(), lines };
  } catch (error) {
    return { error, lines };
  } finally {
    Object.assign(console, saved);
  }
}

/** Lines that itk-wasm's pipeline runner adds around a failure; they carry no detail about the file. */
const RUNNER_LINES = /^(Exception while running pipeline:|stdout:|stderr:|Build module in Debug mode for exception message information\.)$/;

/** Reduces itk-wasm's console lines to the reader's own messages, each once, without the runner's framing. */
export function readerMessages(lines: string[]): string[] {
  const messages: string[] = [];
  for (const raw of lines) {
    const line = raw.replace(/^(stdout|stderr):\s*/, '').trim();
    if (line === '' || RUNNER_LINES.test(line) || messages.includes(line)) continue;
    messages.push(line);
  }
  return messages;
}

/** Messages of the MetaImage reader that mean the pixel data it returned is wrong, although it did not fail. */
const SILENT_FAILURES = /Uncompress failed|data not read completely/i;

/**
 * Describes why itk-wasm failed, or returns undefined when it succeeded without printing a known
 * failure. A C++ exception reaches JavaScript as a bare number, so the printed lines are the
 * only explanation.
 */
export function describeReaderFailure(run: CapturedRun<unknown>): string | undefined {
  const messages = readerMessages(run.lines);
  if (run.error === undefined) {
    const failure = messages.find((message) => SILENT_FAILURES.test(message));
    return failure === undefined ? undefined : messages.join('; ');
  }
  if (run.error instanceof Error && !/^\d+$/.test(run.error.message)) {
    return [run.error.message, ...messages].join('; ');
  }
  return messages.length > 0 ? messages.join('; ') : 'the reader raised an internal exception without a message';
}
