/**
 * Progress of `balaitous predict` over its scans. On a terminal, a status line is redrawn in place
 * with the scan, the step, a progress bar, and the elapsed and remaining time. Elsewhere (pipes, CI,
 * --json), plain log lines report when each scan starts and ends.
 */
import path from 'node:path';

import { log, redrawStatusLine, setStatusLine, setStepLogLevel } from '../log.js';
import { PIPELINE_STEPS, type PipelineStep } from '../pipeline.js';

/** Seconds between redraws of the status line, so that the elapsed time keeps moving. */
const REDRAW_INTERVAL_S = 1;
const BAR_WIDTH = 20;

export interface ProgressOptions {
  /** Number of scans in the batch. */
  total: number;
  /** Redraw a status line in place (a terminal) rather than write log lines. */
  live: boolean;
  /** Width of the terminal in characters, read at each redraw. Default: stderr's columns, else 100. */
  columns?: () => number;
  /** Clock in milliseconds. Default: `performance.now`. */
  now?: () => number;
}

export class BatchProgress {
  private readonly total: number;
  private readonly live: boolean;
  private readonly columns: () => number;
  private readonly now: () => number;
  private readonly batchStart: number;
  private timer: NodeJS.Timeout | undefined;

  private scanNumber = 0;
  private scanName = '';
  private scanStart = 0;
  private step: PipelineStep | undefined;
  private stepStart = 0;
  /** Scans finished in this run, failed ones included. */
  private finished = 0;
  /** Seconds of each scan scored so far, and of each of its steps. */
  private readonly scanSeconds: number[] = [];
  private readonly stepSeconds = new Map<PipelineStep, number[]>();

  constructor(options: ProgressOptions) {
    this.total = options.total;
    this.live = options.live;
    this.columns = options.columns ?? (() => process.stderr.columns || 100);
    this.now = options.now ?? (() => performance.now());
    this.batchStart = this.now();
    if (this.live) {
      setStepLogLevel('debug');
      setStatusLine(() => this.statusText());
      this.timer = setInterval(redrawStatusLine, REDRAW_INTERVAL_S * 1000);
      this.timer.unref();
    }
  }

  /** Marks the start of scan `number` (from 1). */
  startScan(number: number, scan: string): void {
    this.scanNumber = number;
    this.scanName = scan;
    this.scanStart = this.now();
    this.step = undefined;
    if (this.live) {
      redrawStatusLine();
    } else if (this.total > 1) {
      log.info(`${this.prefix()}${scan}: started`);
    }
  }

  /** Step listener for `PredictOptions.onStep`. */
  readonly onStep = (step: PipelineStep): void => {
    this.step = step;
    this.stepStart = this.now();
    if (this.live) redrawStatusLine();
  };

  /**
   * Marks the end of the current scan. `timings` are the seconds per step of a scored scan; they
   * refine the estimate of the time left.
   */
  finishScan(outcome: { ok: boolean; seconds: number; timings?: Record<string, number>; message?: string }): void {
    this.finished++;
    if (outcome.ok) {
      this.scanSeconds.push(outcome.seconds);
      if (outcome.timings !== undefined) {
        const pipelineSeconds = Object.values(outcome.timings).reduce((sum, seconds) => sum + seconds, 0);
        this.recordStep('read_image', Math.max(0, outcome.seconds - pipelineSeconds));
        for (const [step, seconds] of Object.entries(outcome.timings)) this.recordStep(step as PipelineStep, seconds);
      }
    }
    this.step = undefined;

    if (!outcome.ok) {
      log.error(`${this.prefix()}${outcome.message ?? `${this.scanName}: failed`}`);
    }
    const what = outcome.ok ? `scored in ${outcome.seconds.toFixed(2)} s` : `failed after ${outcome.seconds.toFixed(2)} s`;
    if (outcome.ok || this.total > 1) {
      log.info(`${this.prefix()}${this.scanName}: ${what}${this.live ? '' : this.batchTiming()}`);
    }
  }

  /** Elapsed and remaining time of the batch, for the log line of a finished scan. */
  private batchTiming(): string {
    if (this.total === 1) return '';
    const elapsed = `; ${formatDuration(this.elapsedSeconds())} elapsed`;
    if (this.finished === this.total) return elapsed;
    const left = this.remainingSeconds();
    return `${elapsed}, ${left === undefined ? 'time left unknown until a scan is scored' : `about ${formatDuration(left)} left`}`;
  }

  /** Removes the status line; call once when the batch is over. */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.live) {
      setStatusLine(undefined);
      setStepLogLevel('info');
    }
  }

  /** Seconds since the batch started. */
  elapsedSeconds(): number {
    return (this.now() - this.batchStart) / 1000;
  }

  /**
   * Estimates the seconds left in the batch from the mean time of the scans scored so far, and
   * the fraction of the current scan done from their per-step times. Undefined until one scan is scored.
   */
  remainingSeconds(): number | undefined {
    if (this.scanSeconds.length === 0) return undefined;
    const meanScan = mean(this.scanSeconds);
    const inProgress = this.scanNumber > this.finished;
    const scansAfterCurrent = this.total - this.finished - (inProgress ? 1 : 0);
    const current = inProgress ? (1 - this.scanFraction()) * meanScan : 0;
    return current + scansAfterCurrent * meanScan;
  }

  /** Fraction of the current scan done: by the mean step times once known, else by step count. */
  scanFraction(): number {
    if (this.step === undefined) return 0;
    const index = PIPELINE_STEPS.indexOf(this.step);
    const expected = PIPELINE_STEPS.map((step) => mean(this.stepSeconds.get(step) ?? []));
    const expectedTotal = expected.reduce((sum, seconds) => sum + seconds, 0);
    if (expectedTotal === 0) return index / PIPELINE_STEPS.length;
    const inStep = Math.min((this.now() - this.stepStart) / 1000, expected[index]);
    const before = expected.slice(0, index).reduce((sum, seconds) => sum + seconds, 0);
    return (before + inStep) / expectedTotal;
  }

  /** Text of the status line, cut to the terminal width so that it never wraps. */
  statusText(): string {
    const batchFraction = Math.min(1, (this.finished + (this.scanNumber > this.finished ? this.scanFraction() : 0)) / this.total);
    const filled = Math.round(batchFraction * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(batchFraction * 100)).padStart(3)}%`;
    const stepText = this.step === undefined ? 'starting' : `${this.step} (step ${PIPELINE_STEPS.indexOf(this.step) + 1}/${PIPELINE_STEPS.length})`;
    const scanSeconds = this.scanNumber > this.finished ? (this.now() - this.scanStart) / 1000 : 0;
    const left = this.remainingSeconds();
    const leftText = left === undefined ? 'time left: estimated after the first scan' : `about ${formatDuration(left)} left`;
    const parts = [
      `${this.prefix() || 'scan '}${path.basename(this.scanName)}`,
      stepText,
      bar,
      `scan ${formatDuration(scanSeconds)}`,
      `total ${formatDuration(this.elapsedSeconds())}`,
      leftText,
    ];
    const text = parts.join(' | ');
    const width = Math.max(10, this.columns() - 1);
    return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
  }

  private prefix(): string {
    return this.total > 1 ? `[${this.scanNumber}/${this.total}] ` : '';
  }

  private recordStep(step: PipelineStep, seconds: number): void {
    const list = this.stepSeconds.get(step) ?? [];
    list.push(seconds);
    this.stepSeconds.set(step, list);
  }
}

/** Formats seconds as m:ss, or h:mm:ss from one hour. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = String(whole % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}
