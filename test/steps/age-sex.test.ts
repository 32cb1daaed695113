import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { readVolume } from '../../src/io/image.js';
import { parseAgeSex, parseAgeYears, parseSex } from '../../src/steps/age-sex.js';
import { REFERENCE_CASES, SHARED_DIR } from '../helpers.js';

test('parseAgeYears reads DICOM age strings', () => {
  assert.is(parseAgeYears('065Y'), 65);
  assert.is(parseAgeYears('42'), 42);
  assert.is(parseAgeYears('030M'), 2.5);
  assert.is(parseAgeYears('002W'), 14 / 365.25);
  assert.is(parseAgeYears('010D'), 10 / 365.25);
  assert.is(parseAgeYears('065Y '), 65);
  assert.is(parseAgeYears('065Y\0'), 65);
});

test('parseAgeYears rejects empty and unreadable values', () => {
  assert.is(parseAgeYears(''), undefined);
  assert.is(parseAgeYears('old'), undefined);
  assert.is(parseAgeYears('65X'), undefined);
});

test('parseSex follows the reference mapping', () => {
  assert.is(parseSex('M'), 1);
  assert.is(parseSex('F'), 0);
  assert.is(parseSex('O'), 0.5);
  assert.is(parseSex('m'), 0.5);
  assert.is(parseSex('M '), 1);
});

test('parseAgeSex prefers caller values, then metadata, then defaults', () => {
  const metadata = new Map([['PatientAge', '085Y'], ['PatientSex', 'F']]);
  assert.equal(
    [parseAgeSex(metadata).age, parseAgeSex(metadata).sex],
    [0.85, 0],
  );
  const fromCaller = parseAgeSex(metadata, { age: 40, sex: 1 });
  assert.is(fromCaller.age, 0.4);
  assert.is(fromCaller.sex, 1);
  const defaults = parseAgeSex(new Map());
  assert.is(defaults.age, 0.65);
  assert.is(defaults.sex, 0.5);
});

test('parseAgeSex clips the age feature', () => {
  assert.is(parseAgeSex(new Map(), { age: 10 }).age, 0.25);
  assert.is(parseAgeSex(new Map(), { age: 99 }).age, 0.95);
  assert.is(parseAgeSex(new Map([['PatientAge', '030M']])).age, 0.25);
});

test('parseAgeSex falls back to the default for an unreadable age', () => {
  assert.is(parseAgeSex(new Map([['PatientAge', '']])).age, 0.65);
});

test('parseAgeSex rejects an invalid sex', () => {
  assert.throws(() => parseAgeSex(new Map(), { sex: 2 }), /invalid sex 2/);
});

for (const name of REFERENCE_CASES) {
  test(`parseAgeSex matches the reference on ${name}`, async () => {
    const scan = await readVolume(path.join(SHARED_DIR, 'data', 'ct', `${name}.mha`));
    const reference = await fs.readJson(path.join(SHARED_DIR, 'reference', name, 'reference.json'));
    const { age, sex } = parseAgeSex(scan.metadata);
    assert.is(age, reference.age);
    assert.is(sex, reference.sex);
  });
}

test.run();
