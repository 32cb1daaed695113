import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { findInputImage } from '../../src/cli.js';
import { Balaitous } from '../../src/index.js';
import { readVolume } from '../../src/io/image.js';
import { setLogLevel } from '../../src/log.js';
import type { Volume } from '../../src/volume.js';
import { FIXTURE_MODELS_DIR, SHARED_DIR } from '../helpers.js';

const SERIES_DIR = path.join(SHARED_DIR, 'data', 'dicom', 'lung-pet-ct-dx-a0002');
const TWIN_FILE = path.join(SHARED_DIR, 'data', 'ct', 'lung-pet-ct-dx-a0002.mha');
const REFERENCE_FILE = path.join(SHARED_DIR, 'reference', 'lung-pet-ct-dx-a0002', 'reference.json');
/** SeriesInstanceUID (0020,000E) of every file of SERIES_DIR. */
const SERIES_UID = '1.3.6.1.4.1.14519.5.2.1.6655.2359.207154000096236603057216610983';
/**
 * Geometry in the DICOM header: PixelSpacing 0.646484375\0.646484375, slices 8 mm apart from
 * z = 312 (1-01.dcm) down to z = 80 (1-30.dcm), ImageOrientationPatient 1\0\0\0\1\0.
 */
const HEADER_SPACING = [0.646484375, 0.646484375, 8];
const HEADER_ORIGIN = [-173.1767578125, -294.1767578125, 80];
/** The .mha twin stores spacing and origin with 6 significant digits, so -173.1767578125 becomes -173.177. */
const TWIN_GEOMETRY_TOLERANCE_MM = 5e-4;
/** |Δp| allowed between the DICOM series and the twin or the reference, whose spacing is rounded as above. */
const TWIN_PROBABILITY_TOLERANCE = 1e-5;

setLogLevel('warn');

async function temporaryDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-dicom-'));
}

function countDifferences(a: Volume, b: Volume): number {
  let count = 0;
  for (let i = 0; i < a.data.length; i++) {
    if (a.data[i] !== b.data[i]) count++;
  }
  return count;
}

function maxAbsoluteDifference(a: readonly number[], b: readonly number[]): number {
  return Math.max(...a.map((value, index) => Math.abs(value - b[index])));
}

/** Captures what the logger writes to stderr while `run` runs. */
async function captureStderr(run: () => Promise<unknown>): Promise<string> {
  const write = process.stderr.write;
  let captured = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    captured += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    await run();
  } finally {
    process.stderr.write = write;
  }
  return captured;
}

const series = await readVolume(SERIES_DIR);
const twin = await readVolume(TWIN_FILE);

test('DICOM series has the voxels of its .mha twin', () => {
  assert.is(series.componentType, twin.componentType);
  assert.equal(series.size, twin.size);
  assert.is(countDifferences(series, twin), 0);
});

test('DICOM series geometry comes from the header', () => {
  assert.equal(series.spacing, HEADER_SPACING);
  assert.equal(series.origin, HEADER_ORIGIN);
  assert.equal(series.direction, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  assert.ok(maxAbsoluteDifference(series.spacing, twin.spacing) < TWIN_GEOMETRY_TOLERANCE_MM, `spacing ${series.spacing} vs ${twin.spacing}`);
  assert.ok(maxAbsoluteDifference(series.origin, twin.origin) < TWIN_GEOMETRY_TOLERANCE_MM, `origin ${series.origin} vs ${twin.origin}`);
});

test('DICOM series metadata holds age and sex', () => {
  assert.is(series.metadata.get('PatientAge'), '053Y');
  assert.is(series.metadata.get('PatientSex')?.trim(), 'F');
});

test('DICOM series in reverse file order', async () => {
  // Names sorted alphabetically now run from the bottom slice (1-30.dcm) to the top one.
  const dir = await temporaryDir();
  const names = (await fs.readdir(SERIES_DIR)).sort();
  for (const [index, name] of names.entries()) {
    await fs.copy(path.join(SERIES_DIR, name), path.join(dir, `slice-${String(names.length - index).padStart(3, '0')}.dcm`));
  }
  const reversed = await readVolume(dir);
  assert.equal(reversed.size, series.size);
  assert.equal(reversed.spacing, series.spacing);
  assert.equal(reversed.origin, series.origin);
  assert.equal(reversed.direction, series.direction);
  assert.is(countDifferences(reversed, series), 0);
});

test('DICOM folder with two series reads the larger', async () => {
  const dir = await temporaryDir();
  const names = (await fs.readdir(SERIES_DIR)).sort();
  for (const name of names) await fs.copy(path.join(SERIES_DIR, name), path.join(dir, name));
  // Five slices under another SeriesInstanceUID (same length, last digit changed) form a second series.
  const otherUid = `${SERIES_UID.slice(0, -1)}4`;
  for (const name of names.slice(0, 5)) {
    const bytes = await fs.readFile(path.join(SERIES_DIR, name));
    const at = bytes.indexOf(SERIES_UID, 0, 'latin1');
    assert.ok(at > 0, `${name} holds the series UID`);
    bytes.write(otherUid, at, 'latin1');
    await fs.writeFile(path.join(dir, `other-${name}`), bytes);
  }

  let volume: Volume | undefined;
  setLogLevel('info');
  const messages = await captureStderr(async () => {
    volume = await readVolume(dir);
  });
  setLogLevel('warn');
  assert.match(messages, /2 series found; reading the largest, series 3 "ThoraxRoutine +8\.0\.0 +B40f", 30 slice\(s\) of 512 × 512; skipped: series 3 .*, 5 slice\(s\)/);
  assert.equal(volume!.size, series.size);
  assert.equal(volume!.origin, series.origin);
  assert.is(countDifferences(volume!, series), 0);
});

test('DICOM series with a missing slice is rejected', async () => {
  const dir = await temporaryDir();
  for (const name of await fs.readdir(SERIES_DIR)) {
    if (name !== '1-15.dcm') await fs.copy(path.join(SERIES_DIR, name), path.join(dir, name));
  }
  try {
    await readVolume(dir);
    assert.unreachable('a series with a gap was read');
  } catch (error) {
    assert.match((error as Error).message, /slices are not evenly spaced .*: 1-16\.dcm and 1-14\.dcm are 16\.000 mm apart/);
  }
});

test('DICOM series with a duplicate slice is rejected', async () => {
  const dir = await temporaryDir();
  for (const name of await fs.readdir(SERIES_DIR)) await fs.copy(path.join(SERIES_DIR, name), path.join(dir, name));
  await fs.copy(path.join(SERIES_DIR, '1-10.dcm'), path.join(dir, 'copy-of-1-10.dcm'));
  try {
    await readVolume(dir);
    assert.unreachable('a series with two slices at one position was read');
  } catch (error) {
    assert.match((error as Error).message, /(1-10\.dcm and copy-of-1-10\.dcm|copy-of-1-10\.dcm and 1-10\.dcm) are at the same position/);
  }
});

test('single DICOM file is rejected with a hint', async () => {
  try {
    await readVolume(path.join(SERIES_DIR, '1-01.dcm'));
    assert.unreachable('a single slice was read');
  } catch (error) {
    assert.match((error as Error).message, /1-01\.dcm: a DICOM file contains a single slice\. Pass the folder/);
  }
});

test('folder without DICOM files is rejected', async () => {
  const dir = await temporaryDir();
  await fs.writeFile(path.join(dir, 'notes.txt'), 'no slices here\n');
  try {
    await readVolume(dir);
    assert.unreachable('an empty folder was read');
  } catch (error) {
    assert.match((error as Error).message, /no DICOM file found/);
  }
});

test('gc input folder of DICOM slices', async () => {
  const input = await temporaryDir();
  const folder = path.join(input, 'images', 'ct');
  await fs.copy(SERIES_DIR, folder);
  assert.is(await findInputImage(input), folder);
});

test('DICOM series scores as its .mha twin', async () => {
  const model = await Balaitous.load({ models: FIXTURE_MODELS_DIR, device: 'cpu' });
  try {
    const fromDicom = await model.predict(series, { source: SERIES_DIR });
    // The twin with the header's unrounded geometry must give the very same numbers.
    const twinWithHeaderGeometry = { ...twin, spacing: series.spacing, origin: series.origin };
    const fromTwin = await model.predict(twinWithHeaderGeometry, { source: TWIN_FILE });
    assert.is(fromDicom.covid, fromTwin.covid);
    assert.is(fromDicom.severe, fromTwin.severe);
    assert.is(fromDicom.age, 0.53);
    assert.is(fromDicom.sex, 0);

    // The reference ran on the twin as stored, with its rounded spacing.
    const { prediction } = await fs.readJson(REFERENCE_FILE);
    assert.ok(Math.abs(fromDicom.covid - prediction.covid) < TWIN_PROBABILITY_TOLERANCE, `covid ${fromDicom.covid} vs ${prediction.covid}`);
    assert.ok(Math.abs(fromDicom.severe - prediction.severe) < TWIN_PROBABILITY_TOLERANCE, `severe ${fromDicom.severe} vs ${prediction.severe}`);
  } finally {
    await model.dispose();
  }
});

test.run();
