import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { expandGlob, resolveScans, scanOutputNames } from '../../src/cli/inputs.js';
import { setLogLevel } from '../../src/log.js';
import { SHARED_DIR } from '../helpers.js';

const DICOM_FILE = path.join(SHARED_DIR, 'data', 'dicom', 'lung-pet-ct-dx-a0002', '1-01.dcm');

setLogLevel('warn');

/**
 * Builds a tree of empty image files and DICOM copies:
 * a.mha, b.nii.gz, notes.txt, sub/c.nrrd, series/1.dcm, series/2 (DICOM without extension), .hidden/d.mha.
 */
async function makeTree(): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-inputs-'));
  for (const name of ['a.mha', 'b.nii.gz', 'notes.txt', 'sub/c.nrrd', '.hidden/d.mha']) {
    await fs.outputFile(path.join(root, name), '');
  }
  await fs.ensureDir(path.join(root, 'series'));
  await fs.copy(DICOM_FILE, path.join(root, 'series', '1.dcm'));
  await fs.copy(DICOM_FILE, path.join(root, 'series', '2'));
  return root;
}

test('folder lists images, DICOM folders and subfolders', async () => {
  const root = await makeTree();
  const scans = await resolveScans([root]);
  assert.equal(scans, ['a.mha', 'b.nii.gz', 'series', 'sub/c.nrrd'].map((name) => path.join(root, name)));
});

test('DICOM folder is one scan', async () => {
  const root = await makeTree();
  assert.equal(await resolveScans([path.join(root, 'series')]), [path.join(root, 'series')]);
});

test('missing file is kept for the batch to report', async () => {
  assert.equal(await resolveScans(['no-such-scan.mha']), ['no-such-scan.mha']);
});

test('duplicates are removed, order is kept', async () => {
  const root = await makeTree();
  const a = path.join(root, 'a.mha');
  const scans = await resolveScans([a, root, `${root}/./a.mha`]);
  assert.is(scans[0], a);
  assert.is(scans.filter((scan) => path.resolve(scan) === a).length, 1);
});

test('glob patterns are expanded', async () => {
  const root = await makeTree();
  assert.equal(await expandGlob(`${root}/*.mha`), [path.join(root, 'a.mha')]);
  assert.equal(await expandGlob(`${root}/?.n*`), [path.join(root, 'b.nii.gz')]);
  assert.equal(await expandGlob(`${root}/[ab].*`), [path.join(root, 'a.mha'), path.join(root, 'b.nii.gz')]);
  assert.equal(await expandGlob(`${root}/[!a].*`), [path.join(root, 'b.nii.gz')]);
  assert.equal(await expandGlob(`${root}/**/*.nrrd`), [path.join(root, 'sub', 'c.nrrd')]);
  assert.equal(await expandGlob(`${root}/*/d.mha`), [], 'hidden folders are skipped');
  assert.equal(await resolveScans([`${root}/s*`]), [path.join(root, 'series'), path.join(root, 'sub', 'c.nrrd')]);
});

test('glob without match is an error', async () => {
  const root = await makeTree();
  try {
    await resolveScans([`${root}/*.nii`]);
    assert.unreachable('a pattern without match was accepted');
  } catch (error) {
    assert.match((error as Error).message, /\*\.nii: no file or folder matches this pattern/);
  }
});

test('folder without scans is an error', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-inputs-'));
  await fs.outputFile(path.join(root, 'notes.txt'), '');
  try {
    await resolveScans([root]);
    assert.unreachable('a folder without scans was accepted');
  } catch (error) {
    assert.match((error as Error).message, /no scan found in this folder/);
  }
});

test('output names are distinct', () => {
  assert.equal(scanOutputNames(['x/a.mha', 'y/a.nii.gz', 'a-2.nrrd', 'dicom/patient-1/']), ['a', 'a-2', 'a-2-2', 'patient-1']);
});

test.run();
