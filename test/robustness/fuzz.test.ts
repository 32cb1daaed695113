import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import type { FuzzResult } from './fuzz-runner.js';
import { temporaryDir } from './fixtures.js';

const RUNNER = fileURLToPath(new URL('./fuzz-runner.js', import.meta.url));
const CASES = 200;
/** Fixed, so that a failure can be replayed: `node dist/test/robustness/fuzz-runner.js DIR 200 20211`. */
const SEED = 20211;
const TIME_LIMIT_S = 60;

test('mutated MetaImage files fail cleanly', async () => {
  const dir = await temporaryDir();
  const start = performance.now();
  const child = spawnSync(process.execPath, [RUNNER, dir, String(CASES), String(SEED)], { encoding: 'utf8', timeout: 2 * TIME_LIMIT_S * 1000 });
  const seconds = (performance.now() - start) / 1000;
  const results: FuzzResult[] = await fs.readJson(path.join(dir, 'results.json')).catch(() => []);
  const last = results.at(-1);

  assert.is(child.signal, null, `the runner was stopped (${child.signal}) after ${results.length} cases; last: ${last?.file} ${last?.mutations.join(', ')}`);
  assert.is(child.status, 0, `the runner crashed after ${results.length} cases:\n${child.stderr}`);
  assert.is(child.stdout, '', 'something was printed on stdout');
  assert.is(results.length, CASES);
  assert.ok(seconds < TIME_LIMIT_S, `${CASES} cases took ${seconds.toFixed(1)} s`);

  for (const result of results) {
    const label = `${path.basename(result.file)} (${result.mutations.join(', ')})`;
    assert.ok(result.seconds < 10, `${label} took ${result.seconds.toFixed(1)} s`);
    if (result.ok) continue;
    assert.ok(['Error', 'RangeError', 'TypeError'].includes(result.errorClass!), `${label}: ${result.errorClass}`);
    assert.ok(result.message!.startsWith(`${result.file}: `), `${label}: ${result.message}`);
    assert.not.match(result.message!, /Exception while running pipeline|Build module in Debug mode|\(\d+\)$/, `${label}: ${result.message}`);
  }
  const rejected = results.filter((result) => !result.ok).length;
  console.log(`fuzz: ${CASES} cases in ${seconds.toFixed(1)} s, ${CASES - rejected} read and checked, ${rejected} rejected with an error naming the file`);
});

test.run();
