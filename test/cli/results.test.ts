import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { UsageError } from '../../src/cli/options.js';
import { RESULT_COLUMNS, type ResultRow, ResultsFile, lungMeasureFields, parseCsv } from '../../src/cli/results.js';

const OK_ROW: ResultRow = {
  path: 'a, "quoted".mha', covid: 0.25, severe: 0.125, age: 0.53, sex: 0,
  ...lungMeasureFields({ rightMl: 2250.5, leftMl: 1980.25, totalMl: 4230.75, wellAeratedFraction: 0.8, compromisedFraction: 0.05, note: 'descriptive, not used by the model' }),
  status: 'ok', error: null, seconds: 1.5,
};
const FAILED_ROW: ResultRow = {
  path: 'b.mha', covid: null, severe: null, age: null, sex: null, ...lungMeasureFields(undefined),
  status: 'failed', error: 'line one\nline two, "quoted"', seconds: 0.01,
};

async function temporaryFile(name: string): Promise<string> {
  return path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-results-')), name);
}

test('CSV rows round-trip through quoting', async () => {
  const file = await temporaryFile('results.csv');
  const { results } = await ResultsFile.open(file, { resume: false, scans: [] });
  await results.append(OK_ROW);
  await results.append(FAILED_ROW);
  const [header, ...rows] = parseCsv(await fs.readFile(file, 'utf8'));
  assert.equal(header, [...RESULT_COLUMNS]);
  assert.equal(rows, [
    ['a, "quoted".mha', '0.25', '0.125', '0.53', '0', '2250.5', '1980.25', '4230.75', '0.8', '0.05', 'ok', '', '1.5'],
    ['b.mha', '', '', '', '', '', '', '', '', '', 'failed', 'line one\nline two, "quoted"', '0.01'],
  ]);
});

test('JSONL rows hold every column', async () => {
  const file = await temporaryFile('results.jsonl');
  const { results } = await ResultsFile.open(file, { resume: false, scans: [] });
  await results.append(OK_ROW);
  await results.append(FAILED_ROW);
  const rows = (await fs.readFile(file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(rows, [OK_ROW, FAILED_ROW]);
  assert.equal(Object.keys(rows[0]), [...RESULT_COLUMNS]);
});

for (const name of ['results.csv', 'results.jsonl']) {
  test(`resume of ${path.extname(name)} keeps done rows, drops rerun failures`, async () => {
    const file = await temporaryFile(name);
    const first = await ResultsFile.open(file, { resume: false, scans: [] });
    const otherFailure = { ...FAILED_ROW, path: 'c.mha' };
    for (const row of [OK_ROW, FAILED_ROW, otherFailure]) await first.results.append(row);

    // b.mha runs again; c.mha is not part of this batch, so its row stays.
    const { done } = await ResultsFile.open(file, { resume: true, scans: [OK_ROW.path, 'b.mha'] });
    assert.equal([...done], [path.resolve(OK_ROW.path)]);
    const text = await fs.readFile(file, 'utf8');
    assert.ok(text.includes('c.mha'), text);
    assert.not.ok(text.includes('b.mha'), text);
    assert.ok(text.includes('quoted'), text);
  });
}

test('existing file without --resume is a usage error', async () => {
  const file = await temporaryFile('results.csv');
  await fs.writeFile(file, `${RESULT_COLUMNS.join(',')}\n`);
  try {
    await ResultsFile.open(file, { resume: false, scans: [] });
    assert.unreachable('an existing results file was overwritten');
  } catch (error) {
    assert.instance(error, UsageError);
    assert.match((error as Error).message, /already exists: add --resume/);
  }
});

test('file of another program is rejected on resume', async () => {
  const file = await temporaryFile('results.csv');
  await fs.writeFile(file, 'id,value\n1,2\n');
  try {
    await ResultsFile.open(file, { resume: true, scans: [] });
    assert.unreachable('a foreign CSV was accepted');
  } catch (error) {
    assert.match((error as Error).message, /not a results file of balaitous predict \(its header is "id,value"/);
  }
});

test('unknown extension is a usage error', async () => {
  try {
    await ResultsFile.open(await temporaryFile('results.txt'), { resume: false, scans: [] });
    assert.unreachable('a .txt results file was accepted');
  } catch (error) {
    assert.instance(error, UsageError);
    assert.match((error as Error).message, /invalid --out .*results\.txt: expected a file name ending in \.csv or \.jsonl/);
  }
});

test.run();
