import { spawnSync } from 'node:child_process';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { REPO_ROOT } from '../helpers.js';

const CLI = path.join(REPO_ROOT, 'bin', 'balaitous.js');

function run(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

for (const command of ['predict', 'gc', 'models']) {
  test(`${command} --help shows usage and examples`, () => {
    const { code, stdout } = run([command, '--help']);
    assert.is(code, 0);
    assert.match(stdout, new RegExp(`^Usage: balaitous ${command}`));
    assert.match(stdout, /\nExamples?:\n {2}balaitous /);
    assert.is(run(['help', command]).stdout, stdout);
  });
}

test('main help lists commands and examples', () => {
  const { code, stdout } = run(['--help']);
  assert.is(code, 0);
  assert.match(stdout, /balaitous predict SCAN\.\.\. \[options\]/);
  assert.match(stdout, /\nExamples:\n {2}balaitous predict scan\.mha/);
});

test('--version after a command', async () => {
  const { version } = await fs.readJson(path.join(REPO_ROOT, 'package.json'));
  const { code, stdout } = run(['predict', 'scan.mha', '--version']);
  assert.is(code, 0);
  assert.is(stdout.trim(), version);
});

test('misspelled option gets a suggestion', () => {
  const { code, stderr } = run(['predict', 'scan.mha', '--ou', 'results.csv']);
  assert.is(code, 2);
  assert.match(stderr, /unknown option --ou for 'balaitous predict' \(did you mean --out\?\); run 'balaitous predict --help'/);
});

test('option without its value', () => {
  const { code, stderr } = run(['predict', 'scan.mha', '--age']);
  assert.is(code, 2);
  assert.match(stderr, /missing value for --age; run 'balaitous predict --help'/);
});

test('flag given a value', () => {
  const { code, stderr } = run(['predict', 'scan.mha', '--json=yes']);
  assert.is(code, 2);
  assert.match(stderr, /--json takes no value/);
});

test('unknown command', () => {
  for (const args of [['score', 'scan.mha'], ['help', 'score']]) {
    const { code, stderr } = run(args);
    assert.is(code, 2, args.join(' '));
    assert.match(stderr, /unknown command "score": expected predict, gc or models/);
  }
});

test.run();
