import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { readVolume } from '../../src/io/image.js';
import { parseAgeSex } from '../../src/steps/age-sex.js';
import { collectStderr, temporaryDir, writeMetaImage } from './fixtures.js';

/** PatientAge as written in the header, the age in years used, and whether it came from the header. */
const AGES: [string, number, 'metadata' | 'default'][] = [
  ['065Y', 65, 'metadata'],
  ['030M', 2.5, 'metadata'],
  ['002W', 14 / 365.25, 'metadata'],
  ['010D', 10 / 365.25, 'metadata'],
  ['42', 42, 'metadata'],
  ['', 65, 'default'],
  ['065Y ', 65, 'metadata'],
  [' 065Y', 65, 'metadata'],
  ['065Y\0', 65, 'metadata'],
  ['sixty', 65, 'default'],
];

/** PatientSex as written (undefined: no field), and the sex feature used. */
const SEXES: [string | undefined, number][] = [
  ['M', 1],
  ['F', 0],
  ['O', 0.5],
  ['M ', 1],
  ['F\0', 0],
  ['m', 0.5],
  ['f', 0.5],
  [undefined, 0.5],
];

for (const [text, years, source] of AGES) {
  test(`PatientAge ${JSON.stringify(text)} gives ${years.toFixed(3)} years`, async () => {
    const { result, stderr } = await collectStderr(async () => parseAgeSex(new Map([['PatientAge', text]])));
    assert.ok(result !== undefined);
    assert.ok(Math.abs(result.ageYears - years) < 1e-12, `${result.ageYears}`);
    assert.is(result.ageSource, source);
    assert.is(result.age, Math.min(Math.max(years / 100, 0.25), 0.95));
    if (source === 'default') assert.match(stderr, /is not a valid age; using the default of 65 years/);
  });
}

for (const [text, sex] of SEXES) {
  test(`PatientSex ${JSON.stringify(text)} gives ${sex}`, () => {
    const metadata = new Map<string, string>(text === undefined ? [] : [['PatientSex', text]]);
    assert.is(parseAgeSex(metadata).sex, sex);
  });
}

test('header padding reaches the parser stripped or intact and parses alike', async () => {
  const dir = await temporaryDir();
  for (const [age, sex, expected] of [
    ['065Y ', 'M ', [0.65, 1]],
    ['065Y\0', 'F\0', [0.65, 0]],
    ['030M', 'm', [0.25, 0.5]],
  ] as const) {
    const file = path.join(dir, 'metadata.mha');
    await writeMetaImage(file, { NDims: '3', DimSize: '2 2 2', ElementType: 'MET_SHORT', PatientAge: age, PatientSex: sex }, new Uint8Array(16));
    const { metadata } = await readVolume(file);
    const { age: ageFeature, sex: sexFeature } = parseAgeSex(metadata);
    assert.equal([ageFeature, sexFeature], expected, `${JSON.stringify([age, sex])} read as ${JSON.stringify([metadata.get('PatientAge'), metadata.get('PatientSex')])}`);
  }
});

test('caller values override the header', () => {
  const result = parseAgeSex(new Map([['PatientAge', '030M'], ['PatientSex', 'F']]), { age: 80, sex: 1 });
  assert.is(result.age, 0.8);
  assert.is(result.sex, 1);
});

test.run();
