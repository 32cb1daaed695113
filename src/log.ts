/**
 * The one logger: level-gated lines on stderr, so that stdout carries only results and `--json`.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

let threshold: LogLevel = (process.env.BALAITOUS_LOG_LEVEL as LogLevel | undefined) ?? 'info';

export function setLogLevel(level: LogLevel): void {
  if (!(level in RANK)) {
    throw new RangeError(`invalid log level ${JSON.stringify(level)}: expected one of ${Object.keys(RANK).join(', ')}`);
  }
  threshold = level;
}

export function getLogLevel(): LogLevel {
  return threshold;
}

/** Carriage return, then ANSI "erase in line" (CSI K): clears the terminal line for a redraw. */
const CLEAR_LINE = '\r\x1b[K';

/** Level of the per-step duration lines that `timed` writes. */
let stepLevel: Exclude<LogLevel, 'silent'> = 'info';
/** Renders the status line kept below the log lines on a terminal, if one is set. */
let renderStatusLine: (() => string) | undefined;

/** Sets the level of the per-step duration lines; a progress display lowers them to debug. */
export function setStepLogLevel(level: Exclude<LogLevel, 'silent'>): void {
  stepLevel = level;
}

/**
 * Keeps a one-line status, such as a progress bar, at the bottom of the terminal: every log line
 * and `writeResult` text goes above it, and the line is redrawn after them. `undefined` erases
 * it. Only for a terminal, because the line is redrawn with a carriage return.
 */
export function setStatusLine(render: (() => string) | undefined): void {
  if (renderStatusLine !== undefined) {
    process.stderr.write(CLEAR_LINE);
  }
  renderStatusLine = render;
  redrawStatusLine();
}

/** Redraws the status line, for example after its content changed. */
export function redrawStatusLine(): void {
  if (renderStatusLine !== undefined) {
    process.stderr.write(`${CLEAR_LINE}${renderStatusLine()}`);
  }
}

/** Writes result text to stdout, above the status line when one is shown. */
export function writeResult(text: string): void {
  if (renderStatusLine !== undefined) {
    process.stderr.write(CLEAR_LINE);
  }
  process.stdout.write(text);
  redrawStatusLine();
}

function write(level: Exclude<LogLevel, 'silent'>, message: string): void {
  if (RANK[level] < RANK[threshold]) {
    return;
  }
  if (renderStatusLine === undefined) {
    process.stderr.write(`balaitous ${level}: ${message}\n`);
    return;
  }
  process.stderr.write(`${CLEAR_LINE}balaitous ${level}: ${message}\n`);
  redrawStatusLine();
}

export const log = {
  debug: (message: string) => write('debug', message),
  info: (message: string) => write('info', message),
  warn: (message: string) => write('warn', message),
  error: (message: string) => write('error', message),
};

/** Runs one pipeline stage, logs its name and duration, and records the duration in seconds. */
export async function timed<T>(stage: string, timings: Record<string, number>, run: () => T | Promise<T>): Promise<T> {
  log.debug(`${stage}: started`);
  const start = performance.now();
  const result = await run();
  const seconds = (performance.now() - start) / 1000;
  timings[stage] = seconds;
  write(stepLevel, `${stage}: ${seconds.toFixed(3)} s`);
  return result;
}
