/**
 * The results file of `balaitous predict --out`: one row per scan, as CSV or JSON Lines, appended
 * as each scan finishes so that an interrupted batch keeps what it has done.
 */
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { LungMeasures } from '../steps/lung-measures.js';
import { UsageError } from './options.js';

export const RESULT_COLUMNS = [
  'path', 'covid', 'severe', 'age', 'sex',
  'rightLungMl', 'leftLungMl', 'totalLungMl', 'wellAeratedFraction', 'compromisedFraction',
  'status', 'error', 'seconds',
] as const;

/** One scored or failed scan. */
export interface ResultRow {
  /** The scan as given on the command line or found in a folder. */
  path: string;
  covid: number | null;
  severe: number | null;
  /** Age feature that the heads used: years / 100, clipped to [0.25, 0.95]. */
  age: number | null;
  /** Sex feature that the heads used: 0 female, 0.5 unknown, 1 male. */
  sex: number | null;
  /** Lung volumes in mL and HU-range fractions: descriptive, not used by the model. */
  rightLungMl: number | null;
  leftLungMl: number | null;
  totalLungMl: number | null;
  wellAeratedFraction: number | null;
  compromisedFraction: number | null;
  status: 'ok' | 'failed';
  /** Error message of a failed scan. */
  error: string | null;
  /** Wall-clock time spent on the scan, reading included. */
  seconds: number;
}

export type ResultsFormat = 'csv' | 'jsonl';

/** Returns the lung measure columns of a row, all null for a scan without measures. */
export function lungMeasureFields(measures: LungMeasures | undefined): Pick<ResultRow, 'rightLungMl' | 'leftLungMl' | 'totalLungMl' | 'wellAeratedFraction' | 'compromisedFraction'> {
  return {
    rightLungMl: measures?.rightMl ?? null,
    leftLungMl: measures?.leftMl ?? null,
    totalLungMl: measures?.totalMl ?? null,
    wellAeratedFraction: measures?.wellAeratedFraction ?? null,
    compromisedFraction: measures?.compromisedFraction ?? null,
  };
}

/** A row already in the file: its scan, its status and its text, kept as written. */
interface StoredRow {
  path: string;
  status: string;
  text: string;
}

/** Returns the results format of a file name, from its extension. */
export function resultsFormatOf(file: string): ResultsFormat | undefined {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
  return undefined;
}

export class ResultsFile {
  private constructor(
    readonly file: string,
    readonly format: ResultsFormat,
  ) {}

  /**
   * Opens the results file for a batch of `scans`. A new file starts with the CSV header. An
   * existing file is an error unless `resume` is set: then its `ok` rows are returned as done,
   * and its `failed` rows for scans of this batch are removed, since those scans run again.
   */
  static async open(file: string, options: { resume: boolean; scans: string[] }): Promise<{ results: ResultsFile; done: Set<string> }> {
    const format = resultsFormatOf(file);
    if (format === undefined) {
      throw new UsageError(`invalid --out ${file}: expected a file name ending in .csv or .jsonl`);
    }
    const results = new ResultsFile(file, format);
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw new Error(`${file}: cannot be read (${error.message})`);
    });
    if (text === undefined) {
      await writeFile(file, format === 'csv' ? `${RESULT_COLUMNS.join(',')}\n` : '');
      return { results, done: new Set() };
    }
    if (!options.resume) {
      throw new UsageError(`${file} already exists: add --resume to skip the scans it lists as done, or remove the file to start over`);
    }

    const rows = format === 'csv' ? parseCsvRows(text, file) : parseJsonlRows(text, file);
    const done = new Set(rows.filter((row) => row.status === 'ok').map((row) => path.resolve(row.path)));
    const rerun = new Set(options.scans.map((scan) => path.resolve(scan)));
    const kept = rows.filter((row) => row.status === 'ok' || !rerun.has(path.resolve(row.path)));
    if (kept.length < rows.length || (format === 'csv' && text === '')) {
      const header = format === 'csv' ? `${RESULT_COLUMNS.join(',')}\n` : '';
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, header + kept.map((row) => `${row.text}\n`).join(''));
      await rename(temporary, file);
    }
    return { results, done };
  }

  /** Appends one row and returns once it is written. */
  async append(row: ResultRow): Promise<void> {
    await appendFile(this.file, `${this.format === 'csv' ? csvLine(row) : JSON.stringify(row)}\n`);
  }
}

function csvLine(row: ResultRow): string {
  return RESULT_COLUMNS.map((column) => csvField(row[column] === null ? '' : String(row[column]))).join(',');
}

/** Quotes a CSV field as RFC 4180 does: when it contains a comma, a quote or a line break. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Splits CSV text into records of fields (RFC 4180: quoted fields may hold commas, quotes and line breaks). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const character = text[i];
    if (quoted) {
      if (character === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (character === '"') {
        quoted = false;
      } else {
        field += character;
      }
    } else if (character === '"') {
      quoted = true;
    } else if (character === ',') {
      record.push(field);
      field = '';
    } else if (character === '\n' || character === '\r') {
      if (character === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else {
      field += character;
    }
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

function parseCsvRows(text: string, file: string): StoredRow[] {
  const [header, ...records] = parseCsv(text);
  if (header === undefined) {
    return [];
  }
  if (header.join(',') !== RESULT_COLUMNS.join(',')) {
    throw new Error(`${file}: not a results file of balaitous predict (its header is "${header.join(',')}", expected "${RESULT_COLUMNS.join(',')}"); choose another --out`);
  }
  const pathColumn = RESULT_COLUMNS.indexOf('path');
  const statusColumn = RESULT_COLUMNS.indexOf('status');
  return records
    .filter((fields) => fields.some((field) => field !== ''))
    .map((fields, index) => {
      if (fields.length !== RESULT_COLUMNS.length) {
        throw new Error(`${file}: row ${index + 2} has ${fields.length} fields, expected ${RESULT_COLUMNS.length}; fix or remove that row`);
      }
      return { path: fields[pathColumn], status: fields[statusColumn], text: fields.map(csvField).join(',') };
    });
}

function parseJsonlRows(text: string, file: string): StoredRow[] {
  const rows: StoredRow[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new Error(`${file}: line ${index + 1} is not valid JSON; fix or remove that line`);
    }
    const { path: scan, status } = (row ?? {}) as { path?: unknown; status?: unknown };
    if (typeof scan !== 'string' || typeof status !== 'string') {
      throw new Error(`${file}: line ${index + 1} has no "path" and "status" strings; it was not written by balaitous predict --out`);
    }
    rows.push({ path: scan, status, text: line });
  }
  return rows;
}
