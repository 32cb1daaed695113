import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { readVolume, writeVolume } from '../src/io/image.js';
import type { Vec3, Volume } from '../src/volume.js';
import { FIXTURE_MODELS_DIR, REPO_ROOT } from './helpers.js';
import { decodeRgbPng } from './helpers/png.js';
import { labelCentroid } from './helpers/centroid.js';
import { restoreWithDirection } from './helpers/restore.js';

const CLI = path.join(REPO_ROOT, 'bin', 'balaitous.js');
const PHANTOM = path.join(REPO_ROOT, 'inputs-example', 'images', 'ct', 'chest-phantom.mha');
/** Width of the preview: three 448-pixel panels 8 pixels apart, within 16-pixel margins. */
const PREVIEW_WIDTH = 2 * 16 + 3 * 448 + 2 * 8;

function run(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function temporaryDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-cli-figures-'));
}

/** The phantom's lung mask as `--save-mask` writes it, kept for the flipped-copy test. */
let phantomMask: Volume | undefined;

test('predict writes preview, explanation and mask', async () => {
  const folder = await temporaryDir();
  const files = { preview: path.join(folder, 'preview.png'), explain: path.join(folder, 'explain.png'), mask: path.join(folder, 'lungs.mha') };
  const { code, stderr } = run([
    'predict', PHANTOM, '--models', FIXTURE_MODELS_DIR,
    '--preview', files.preview, '--explain', files.explain, '--save-mask', files.mask,
  ]);
  assert.is(code, 0, stderr);
  assert.equal((await fs.readdir(folder)).sort(), ['explain.png', 'lungs.mha', 'preview.png']);

  const preview = decodeRgbPng(await fs.readFile(files.preview));
  assert.is(preview.width, PREVIEW_WIDTH);
  assert.ok(preview.height > 2 * 448, `preview height ${preview.height}`);
  const explain = decodeRgbPng(await fs.readFile(files.explain));
  assert.ok(explain.width > 1000, `explanation width ${explain.width}`);
  assert.ok(explain.height > 600, `explanation height ${explain.height}`);

  const scan = await readVolume(PHANTOM);
  const mask = await readVolume(files.mask);
  assert.is(mask.componentType, 'uint8');
  assert.equal(mask.size, scan.size);
  assert.equal(mask.spacing, scan.spacing);
  assert.equal(mask.origin, scan.origin);
  assert.equal(mask.direction, scan.direction);
  assert.equal([...new Set(mask.data)].sort(), [0, 1, 2]);
  // The phantom's right lung is at negative x (patient's right in LPS), its left lung at positive x.
  assert.ok(labelCentroid(mask, 1).centroid[0] < 0, 'right lung centroid at negative x');
  assert.ok(labelCentroid(mask, 2).centroid[0] > 0, 'left lung centroid at positive x');
  phantomMask = mask;
});

test('save-mask follows a flipped copy of the phantom', async () => {
  assert.ok(phantomMask !== undefined, 'mask of the phantom written by the previous test');
  const folder = await temporaryDir();
  // y and z reversed, x and y swapped: every voxel keeps its physical point.
  const axisOf: Vec3 = [1, 0, 2];
  const flipped = [false, true, true];
  const copy = path.join(folder, 'phantom-flipped.mha');
  await writeVolume(copy, restoreWithDirection(await readVolume(PHANTOM), axisOf, flipped));

  const maskFile = path.join(folder, 'lungs.nii.gz');
  const { code, stderr } = run(['predict', copy, '--models', FIXTURE_MODELS_DIR, '--save-mask', maskFile]);
  assert.is(code, 0, stderr);

  const mask = await readVolume(maskFile);
  const stored = await readVolume(copy);
  assert.equal(mask.size, stored.size);
  assert.equal(mask.direction, stored.direction);
  for (let axis = 0; axis < 3; axis++) assert.ok(Math.abs(mask.origin[axis] - stored.origin[axis]) < 1e-4, `origin ${axis}`);
  const expected = restoreWithDirection(phantomMask!, axisOf, flipped);
  let mismatches = 0;
  for (let i = 0; i < expected.data.length; i++) if (mask.data[i] !== expected.data[i]) mismatches++;
  assert.is(mismatches, 0, 'voxels whose label differs from the unflipped run at the same point');
  for (const label of [1, 2]) {
    const before = labelCentroid(phantomMask!, label).centroid;
    const shift = labelCentroid(mask, label).centroid.map((value, axis) => value - before[axis]);
    assert.ok(shift.every((value) => Math.abs(value) < 1e-3), `label ${label} centroid moved by ${shift.join(', ')} mm`);
  }
});

/** Returns a folder that the product cannot write to: permission bits do not stop root, but the kernel's /sys does. */
async function unwritableFolder(): Promise<string> {
  if (process.getuid?.() === 0) return '/sys';
  const folder = await temporaryDir();
  await fs.chmod(folder, 0o555);
  return folder;
}

test('predict rejects bad output options', async () => {
  const folder = await temporaryDir();
  await fs.ensureDir(path.join(folder, 'folder.png'));
  const unwritable = await unwritableFolder();
  const cases: [string[], RegExp][] = [
    [['--preview', path.join(folder, 'preview.jpg')], /invalid --preview .*preview\.jpg.*: the file name must end with \.png/],
    [['--explain', path.join(folder, 'explain')], /invalid --explain .*: the file name must end with \.png/],
    [['--save-mask', path.join(folder, 'lungs.mhd')], /invalid --save-mask .*lungs\.mhd.*: the file name must end with \.mha, \.nii\.gz, \.nii, \.nrrd/],
    [['--preview', path.join(folder, 'absent', 'preview.png')], /invalid --preview .*preview\.png: folder .*absent not found \(create it first\)/],
    [['--preview', path.join(unwritable, 'preview.png')], /invalid --preview .*preview\.png: folder .* is not writable \(.*; choose another folder\)/],
    [['--preview', path.join(folder, 'folder.png')], /invalid --preview .*folder\.png: it is a folder/],
    [['--preview', path.join(folder, 'a.png'), '--explain', path.join(folder, 'a.png')], /--preview and --explain name the same file/],
  ];
  for (const [options, message] of cases) {
    const { code, stderr } = run(['predict', PHANTOM, '--models', FIXTURE_MODELS_DIR, ...options]);
    assert.is(code, 2, `${options.join(' ')}: ${stderr}`);
    assert.match(stderr, message);
    assert.not.match(stderr, /scored in/, 'rejected before scoring');
  }
  assert.equal(await fs.readdir(folder), ['folder.png']);
  assert.equal(await fs.readdir(path.join(folder, 'folder.png')), []);
});

test('predict rejects output options with several scans', async () => {
  const folder = await temporaryDir();
  for (const name of ['a.mha', 'b.mha']) await fs.copy(PHANTOM, path.join(folder, name));
  const preview = path.join(folder, 'preview.png');
  const { code, stderr } = run(['predict', folder, '--models', FIXTURE_MODELS_DIR, '--preview', preview]);
  assert.is(code, 2, stderr);
  assert.match(stderr, /--preview can be used with one scan only, got 2 scans \(run predict once per scan\)/);
  assert.equal((await fs.readdir(folder)).sort(), ['a.mha', 'b.mha']);
});

test.run();
