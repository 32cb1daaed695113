/**
 * `balaitous predict`: scores one scan or a batch, and prints both probabilities of each scan.
 */
import path from 'node:path';

import { writeDebugDir } from '../debug-dir.js';
import { Balaitous, type PipelineResult, type StepListener } from '../index.js';
import { getLogLevel, log, writeResult } from '../log.js';
import { checkAgeYears, checkSex } from '../steps/age-sex.js';
import { FIGURE_HELP, FIGURE_OPTIONS, checkFigureOutputs, wantsFigureOutputs, writeFigureOutputs } from './figures.js';
import { resolveScans, scanOutputNames } from './inputs.js';
import { SESSION_OPTIONS_HELP, UsageError, applyVerbosity, parse, parseNumber, sessionOptions } from './options.js';
import { BatchProgress, formatDuration } from './progress.js';
import { type ResultRow, ResultsFile, lungMeasureFields } from './results.js';

export const PREDICT_HELP = `Usage: balaitous predict SCAN... [options]

Scores chest CT scans and prints both probabilities of each. A SCAN is an image file (.mha, .mhd,
.nii, .nii.gz, .nrrd), a folder of DICOM slices (one scan; with several series, the largest), a
folder of image files (each a scan, subfolders included) or a quoted glob pattern. The models are
loaded once, and a scan that fails is reported without stopping the others.

Options:
  --age YEARS          patient age in years (default: PatientAge of the header, else 65)
  --sex 0|0.5|1        patient sex: 0 female, 1 male, 0.5 unknown (default: PatientSex of the header, else 0.5)
  --models DIR         models directory (default: $BALAITOUS_MODELS, then models/ in the package, then ~/.cache/balaitous/models)
${SESSION_OPTIONS_HELP}
  --json               print one JSON object on stdout (covid, severe, age, sex, heads, explanation,
                       lungMeasures, providers, timings); with several scans, one object per line
                       with a status, and {scan, status: "failed", error} for a scan that failed
  --out FILE           also write one row per scan to FILE, .csv or .jsonl, as each scan ends:
                       path, covid, severe, age, sex (the heads' features), status, error, seconds
  --resume             with --out: skip the scans that FILE lists as ok, run the others
  --debug-dir DIR      write every intermediate result, named as the reference implementation's dumps
                       (with several scans, in one subfolder per scan)
${FIGURE_HELP}
  --quiet, --verbose   fewer or more log lines on stderr

On a terminal, a status line shows the scan, the step, and the elapsed and remaining time; in a
pipe, in CI or with --json, plain log lines on stderr report each scan and step instead.
Exit status: 0 if every scan was scored, 1 if a scan failed or an input is invalid, 2 for an
invalid command line.

Examples:
  balaitous predict scan.mha
  balaitous predict scan.mha --age 72 --sex 1 --json
  balaitous predict dicom/patient-001/                      # a folder of DICOM slices
  balaitous predict 'scans/*.mha' dicom/ --out results.csv  # a batch, one CSV row per scan
  balaitous predict scans/ --out results.csv --resume       # go on after an interruption
  balaitous predict scan.mha --models test/fixtures/models --debug-dir debug/
  balaitous predict scan.mha --preview preview.png --explain explain.png --save-mask lungs.mha`;

export async function predictCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    age: { type: 'string' },
    sex: { type: 'string' },
    models: { type: 'string' },
    device: { type: 'string' },
    precision: { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'boolean' },
    out: { type: 'string' },
    resume: { type: 'boolean' },
    'debug-dir': { type: 'string' },
    ...FIGURE_OPTIONS,
  }, 'predict');
  if (values.help) {
    process.stdout.write(`${PREDICT_HELP}\n`);
    return 0;
  }
  applyVerbosity(values);
  if (positionals.length === 0) {
    throw new UsageError(`predict needs at least one scan (see 'balaitous predict --help')`);
  }
  if (values.resume && values.out === undefined) {
    throw new UsageError('--resume needs --out FILE, the results file that lists the scans already done');
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
  const figureOutputs = await checkFigureOutputs(values);

  const scans = await resolveScans(positionals);
  let pending = scans;
  let results: ResultsFile | undefined;
  if (values.out !== undefined) {
    const opened = await ResultsFile.open(values.out, { resume: values.resume === true, scans });
    results = opened.results;
    pending = scans.filter((scan) => !opened.done.has(path.resolve(scan)));
    if (pending.length < scans.length) {
      log.info(`${scans.length - pending.length} of ${scans.length} scan(s) skipped because ${values.out} lists them as done`);
    }
  }
  if (pending.length === 0) {
    log.info(`nothing to do: ${values.out} lists every scan as done`);
    return 0;
  }
  if (pending.length > 1 && (age !== undefined || sex !== undefined)) {
    log.warn(`--age and --sex apply to each of the ${pending.length} scans`);
  }

  const debugDir = values['debug-dir'];
  const outputNames = scanOutputNames(pending);
  const several = pending.length > 1;
  if (several && wantsFigureOutputs(figureOutputs)) {
    const given = Object.keys(figureOutputs).map((option) => `--${option}`).join(', ');
    throw new UsageError(`${given} can be used with one scan only, got ${pending.length} scans (run predict once per scan)`);
  }
  const model = await Balaitous.load(options);
  const progress = new BatchProgress({ total: pending.length, live: showsStatusLine(values) });
  const failed: string[] = [];
  try {
    for (const [index, scan] of pending.entries()) {
      progress.startScan(index + 1, scan);
      const start = performance.now();
      const scanDebugDir = debugDir !== undefined && several ? path.join(debugDir, outputNames[index]) : debugDir;
      let row: ResultRow;
      try {
        const result = await scoreScan(scan, {
          model, age, sex, debugDir: scanDebugDir, json: values.json === true, several, onStep: progress.onStep, figureOutputs,
        });
        const seconds = (performance.now() - start) / 1000;
        progress.finishScan({ ok: true, seconds, timings: result.timings });
        row = {
          path: scan, covid: result.covid, severe: result.severe, age: result.age, sex: result.sex,
          ...lungMeasureFields(result.lungMeasures), status: 'ok', error: null, seconds: roundSeconds(seconds),
        };
      } catch (error) {
        const seconds = (performance.now() - start) / 1000;
        const message = error instanceof Error ? error.message : String(error);
        const reason = message.startsWith(`${scan}: `) ? message.slice(scan.length + 2) : message;
        progress.finishScan({ ok: false, seconds, message: `${scan}: ${reason}` });
        failed.push(scan);
        if (several && values.json) {
          writeResult(`${JSON.stringify({ scan, status: 'failed', error: reason })}\n`);
        } else if (several) {
          writeResult(`${scan}\n  failed: ${reason}\n`);
        }
        row = {
          path: scan, covid: null, severe: null, age: null, sex: null,
          ...lungMeasureFields(undefined), status: 'failed', error: reason, seconds: roundSeconds(seconds),
        };
      }
      await results?.append(row);
    }
  } finally {
    progress.close();
    await model.dispose();
  }

  if (several || results !== undefined) {
    const summary = `${pending.length - failed.length} of ${pending.length} scan(s) scored in ${formatDuration(progress.elapsedSeconds())}${results ? `; results in ${results.file}` : ''}`;
    if (failed.length === 0) {
      log.info(summary);
    } else {
      log.warn(`${summary}; ${failed.length} failed: ${failed.join(', ')}`);
    }
  }
  return failed.length > 0 ? 1 : 0;
}

interface ScanOptions {
  model: Balaitous;
  age: number | undefined;
  sex: number | undefined;
  debugDir: string | undefined;
  json: boolean;
  /** Part of a batch of several scans: --json then prints one line per scan. */
  several: boolean;
  onStep: StepListener;
  figureOutputs: Awaited<ReturnType<typeof checkFigureOutputs>>;
}

/** Scores one scan, writes its requested files and prints its result on stdout. */
async function scoreScan(scan: string, options: ScanOptions): Promise<PipelineResult> {
  const { model, age, sex, debugDir, figureOutputs } = options;
  const intermediates = debugDir !== undefined || wantsFigureOutputs(figureOutputs);
  const result = await model.predict(scan, { age, sex, intermediates, onStep: options.onStep });
  if (debugDir !== undefined) {
    await writeDebugDir(debugDir, result);
    log.info(`intermediates written to ${debugDir}`);
  }
  if (wantsFigureOutputs(figureOutputs)) {
    const context = { scanName: path.basename(scan), modelsName: model.modelsName, modelsPublished: model.modelsPublished };
    const files = await writeFigureOutputs(figureOutputs, result, context);
    log.info(`wrote ${files.join(', ')}`);
  }

  if (options.json) {
    const output = {
      scan,
      covid: result.covid,
      severe: result.severe,
      age: result.age,
      sex: result.sex,
      heads: result.heads,
      explanation: result.explanation,
      lungMeasures: result.lungMeasures,
      providers: result.providers,
      models: model.modelsName,
      timings: result.timings,
    };
    writeResult(options.several ? `${JSON.stringify({ ...output, status: 'ok' })}\n` : `${JSON.stringify(output, null, 2)}\n`);
  } else {
    writeResult(`${scan}\n  P(COVID-19)       ${(100 * result.covid).toFixed(1)} %\n  P(severe outcome) ${(100 * result.severe).toFixed(1)} %\n`);
  }
  return result;
}

/** Decides whether to draw the status line: on a terminal only, and not with --json, --quiet, in CI or on a dumb terminal. */
function showsStatusLine(values: { json?: boolean }): boolean {
  const level = getLogLevel();
  return process.stderr.isTTY === true && !values.json && (level === 'info' || level === 'debug')
    && !process.env.CI && process.env.TERM !== 'dumb';
}

function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
