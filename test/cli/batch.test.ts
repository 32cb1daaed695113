import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { RESULT_COLUMNS, parseCsv } from '../../src/cli/results.js';
import { FIXTURE_MODELS_DIR, REPO_ROOT, SHARED_DIR } from '../helpers.js';

const CLI = path.join(REPO_ROOT, 'bin', 'balaitous.js');
const CT_DIR = path.join(SHARED_DIR, 'data', 'ct');
const SMALL_CT = path.join(CT_DIR, 'cip-copdgene-ct64.mha');
const THICK_CT = path.join(CT_DIR, 'lung-pet-ct-dx-a0002.mha');

/** Runs the CLI with stderr and stdout as pipes, as in CI. */
function run(args: string[]) {
  const environment = { ...process.env };
  delete environment.BALAITOUS_LOG_LEVEL;
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO_ROOT, env: environment });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Creates a temporary folder with `broken.mha`, a file that is not an image. */
async function folderWithBrokenScan(): Promise<{ dir: string; broken: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-batch-'));
  const broken = path.join(dir, 'broken.mha');
  await fs.writeFile(broken, 'not an image\n');
  return { dir, broken };
}

async function readCsvRows(file: string): Promise<Record<string, string>[]> {
  const [header, ...records] = parseCsv(await fs.readFile(file, 'utf8'));
  assert.equal(header, [...RESULT_COLUMNS]);
  return records.map((fields) => Object.fromEntries(header.map((column, index) => [column, fields[index]])));
}

test('CSV batch with a broken scan, then --resume', async () => {
  const { dir, broken } = await folderWithBrokenScan();
  const out = path.join(dir, 'results.csv');
  const first = run(['predict', SMALL_CT, broken, THICK_CT, '--models', FIXTURE_MODELS_DIR, '--out', out]);
  assert.is(first.code, 1, first.stderr);

  const rows = await readCsvRows(out);
  assert.equal(rows.map((row) => row.path), [SMALL_CT, broken, THICK_CT]);
  assert.equal(rows.map((row) => row.status), ['ok', 'failed', 'ok']);
  for (const row of [rows[0], rows[2]]) {
    for (const column of ['covid', 'severe']) {
      const value = Number(row[column]);
      assert.is.not(row[column], '', `${row.path} ${column}`);
      assert.ok(value >= 0, `${row.path} ${column} ${row[column]}`);
      assert.ok(value <= 1, `${row.path} ${column} ${row[column]}`);
    }
    assert.is(row.error, '');
    assert.ok(Number(row.seconds) > 0, row.seconds);
    assert.ok(Number(row.totalLungMl) > 0, `${row.path} totalLungMl ${row.totalLungMl}`);
    assert.ok(Math.abs(Number(row.rightLungMl) + Number(row.leftLungMl) - Number(row.totalLungMl)) < 1e-6, `${row.path} lung volumes`);
  }
  assert.is(rows[0].age, '0.65', 'default age of a scan without PatientAge');
  assert.is(rows[2].age, '0.53', 'PatientAge 053Y');
  assert.is(rows[2].sex, '0', 'PatientSex F');
  assert.match(rows[1].error, /cannot be read as an image|not a MetaImage file/);
  assert.is(rows[1].covid, '');
  assert.is(rows[1].totalLungMl, '');

  // stdout: each scan's result; stderr, a pipe here: plain progress lines, nothing redrawn.
  assert.match(first.stdout, /cip-copdgene-ct64\.mha\n {2}P\(COVID-19\) +\d+\.\d %/);
  assert.match(first.stdout, /broken\.mha\n {2}failed: /);
  assert.match(first.stderr, /\[1\/3\] .*cip-copdgene-ct64\.mha: started/);
  assert.match(first.stderr, /\[1\/3\] .*cip-copdgene-ct64\.mha: scored in [\d.]+ s; \d+:\d\d elapsed, about \d+:\d\d left/);
  assert.match(first.stderr, /balaitous error: \[2\/3\] .*broken\.mha: /);
  assert.match(first.stderr, /balaitous info: lung_mask: [\d.]+ s/);
  assert.match(first.stderr, /2 of 3 scan\(s\) scored in \d+:\d\d; results in .*results\.csv; 1 failed: .*broken\.mha/);
  assert.not.match(first.stderr, /[\r\x1b]/);

  // The scored rows stay as they are, the broken scan runs again and replaces its row.
  const second = run(['predict', SMALL_CT, broken, THICK_CT, '--models', FIXTURE_MODELS_DIR, '--out', out, '--resume']);
  assert.is(second.code, 1, second.stderr);
  assert.match(second.stderr, /2 of 3 scan\(s\) skipped because .*results\.csv lists them as done/);
  assert.not.match(second.stderr, /lung_mask/);
  const resumed = await readCsvRows(out);
  assert.equal(resumed.map((row) => row.path), [SMALL_CT, THICK_CT, broken]);
  assert.equal(resumed.slice(0, 2), [rows[0], rows[2]]);
  assert.is(resumed[2].status, 'failed');
});

test('--json batch and JSONL results', async () => {
  const { dir, broken } = await folderWithBrokenScan();
  const out = path.join(dir, 'results.jsonl');
  const { code, stdout, stderr } = run(['predict', SMALL_CT, broken, '--models', FIXTURE_MODELS_DIR, '--json', '--out', out]);
  assert.is(code, 1, stderr);

  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.is(lines.length, 2);
  assert.is(lines[0].scan, SMALL_CT);
  assert.is(lines[0].status, 'ok');
  assert.type(lines[0].covid, 'number');
  assert.type(lines[0].timings.lung_mask, 'number');
  assert.equal(lines[1], { scan: broken, status: 'failed', error: lines[1].error });
  assert.type(lines[1].error, 'string');

  const rows = (await fs.readFile(out, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(rows.map((row) => Object.keys(row)), [[...RESULT_COLUMNS], [...RESULT_COLUMNS]]);
  assert.is(rows[0].covid, lines[0].covid);
  assert.is(rows[0].severe, lines[0].severe);
  assert.is(rows[1].status, 'failed');
  assert.is(rows[1].covid, null);
  assert.is(rows[1].error, lines[1].error);
});

test('--resume without --out is a usage error', () => {
  const { code, stderr } = run(['predict', SMALL_CT, '--resume']);
  assert.is(code, 2);
  assert.match(stderr, /--resume needs --out FILE/);
});

test('existing --out without --resume is a usage error', async () => {
  const { dir } = await folderWithBrokenScan();
  const out = path.join(dir, 'results.csv');
  await fs.writeFile(out, `${RESULT_COLUMNS.join(',')}\n`);
  const { code, stderr } = run(['predict', SMALL_CT, '--out', out, '--models', FIXTURE_MODELS_DIR]);
  assert.is(code, 2);
  assert.match(stderr, /results\.csv already exists: add --resume/);
});

test('predict without a scan is a usage error', () => {
  const { code, stderr } = run(['predict', '--models', FIXTURE_MODELS_DIR]);
  assert.is(code, 2);
  assert.match(stderr, /predict needs at least one scan/);
});

test('predict --help shows batch usage and examples', () => {
  const { code, stdout } = run(['predict', '--help']);
  assert.is(code, 0);
  assert.match(stdout, /Usage: balaitous predict SCAN\.\.\. \[options\]/);
  assert.match(stdout, /--out FILE/);
  assert.match(stdout, /--resume/);
  assert.match(stdout, /Examples:\n {2}balaitous predict scan\.mha/);
});

test.run();
