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

function write(level: Exclude<LogLevel, 'silent'>, message: string): void {
  if (RANK[level] < RANK[threshold]) {
    return;
  }
  process.stderr.write(`balaitous ${level}: ${message}\n`);
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
  log.info(`${stage}: ${seconds.toFixed(3)} s`);
  return result;
}
