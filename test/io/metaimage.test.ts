/**
 * The JavaScript MetaImage reader against itk-wasm's: the same voxels, geometry and metadata on
 * the shared scans, on files written by itk-wasm with flipped, permuted and oblique axes, and on
 * hand-written raw, big-endian and .mhd/.raw files.
 */
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { plainMetaImageHeader, readVolume, readVolumeWithItk, writeVolume } from '../../src/io/image.js';
import type { Volume } from '../../src/volume.js';
import { SHARED_DIR } from '../helpers.js';
import { makePhantom, metaImageHeader, multiply, rotationZ, storeWithDirection, temporaryDir, writeMetaImage } from '../robustness/fixtures.js';

function bytesOf(volume: Volume): Buffer {
  return Buffer.from(volume.data.buffer, volume.data.byteOffset, volume.data.byteLength);
}

async function assertSameAsItk(file: string): Promise<void> {
  const name = path.basename(file);
  assert.ok((await plainMetaImageHeader(file)) !== undefined, `${name} is not read in JavaScript`);
  const [actual, expected] = [await readVolume(file), await readVolumeWithItk(file)];
  assert.is(actual.componentType, expected.componentType, `${name} component type`);
  assert.is(actual.data.constructor, expected.data.constructor, `${name} array type`);
  assert.equal(actual.size, expected.size, `${name} size`);
  assert.equal(actual.spacing, expected.spacing, `${name} spacing`);
  assert.equal(actual.origin, expected.origin, `${name} origin`);
  assert.equal(actual.direction, expected.direction, `${name} direction`);
  assert.ok(bytesOf(actual).equals(bytesOf(expected)), `${name} voxels`);
  for (const [key, value] of actual.metadata) {
    assert.is(expected.metadata.get(key), value, `${name} metadata ${key}`);
  }
  for (const key of ['PatientAge', 'PatientSex']) {
    assert.is(actual.metadata.get(key), expected.metadata.get(key), `${name} ${key}`);
  }
}

test('shared scans read as itk-wasm reads them', async () => {
  const dir = path.join(SHARED_DIR, 'data', 'ct');
  const files = (await fs.readdir(dir)).filter((name) => name.endsWith('.mha'));
  assert.ok(files.length > 0, 'no .mha file in the shared data');
  for (const name of files) await assertSameAsItk(path.join(dir, name));
});

test('itk-wasm files with any direction read alike', async () => {
  const dir = await temporaryDir();
  const flip = [-1, 0, 0, 0, -1, 0, 0, 0, 1];
  const permuted = [0, 0, 1, 1, 0, 0, 0, 1, 0];
  const oblique = multiply(rotationZ(3), [1, 0, 0, 0, 0, -1, 0, 1, 0]);
  const phantom = makePhantom();
  phantom.metadata.set('PatientAge', '063Y');
  phantom.metadata.set('PatientSex', 'M');
  const cases: [string, Volume][] = [
    ['identity.mha', phantom],
    ['flipped.mha', storeWithDirection(phantom, flip)],
    ['permuted.mha', storeWithDirection(phantom, permuted)],
    ['oblique.mha', { ...phantom, direction: oblique, origin: [-12.5, 40.25, -300.125] }],
    ['float32.mha', { ...phantom, componentType: 'float32', data: Float32Array.from(phantom.data) }],
    ['float64.mha', { ...phantom, componentType: 'float64', data: Float64Array.from(phantom.data, (value) => value + 0.25) }],
    ['uint8.mha', { ...phantom, componentType: 'uint8', data: Uint8Array.from(phantom.data, (value) => (value + 1024) >> 4) }],
  ];
  for (const [name, volume] of cases) {
    const file = path.join(dir, name);
    await writeVolume(file, volume);
    await assertSameAsItk(file);
  }
});

test('raw, big-endian and .mhd files read alike', async () => {
  const dir = await temporaryDir();
  const values = Int16Array.from({ length: 6 * 5 * 4 }, (_, index) => index * 37 - 1024);
  const little = new Uint8Array(values.buffer);
  const big = Uint8Array.from(little, (_, index) => little[index ^ 1]);
  const fields = {
    NDims: '3',
    BinaryData: 'True',
    TransformMatrix: '0 1 0 -1 0 0 0 0 1',
    Offset: '-100.5 20 7.25',
    ElementSpacing: '0.7 0.8 2.5',
    DimSize: '6 5 4',
    PatientAge: '071Y',
    ElementType: 'MET_SHORT',
  };
  await writeMetaImage(path.join(dir, 'raw.mha'), { ...fields, BinaryDataByteOrderMSB: 'False' }, little);
  await writeMetaImage(path.join(dir, 'big-endian.mha'), { ...fields, BinaryDataByteOrderMSB: 'True' }, big);
  await fs.writeFile(path.join(dir, 'pair.mhd'), metaImageHeader(fields, 'pair.raw'));
  await fs.writeFile(path.join(dir, 'pair.raw'), little);
  for (const name of ['raw.mha', 'big-endian.mha', 'pair.mhd']) {
    await assertSameAsItk(path.join(dir, name));
  }
  const read = await readVolume(path.join(dir, 'big-endian.mha'));
  assert.equal(Array.from(read.data.slice(0, 3)), [-1024, -987, -950]);
});

test('other MetaImage layouts go to itk-wasm', async () => {
  const dir = await temporaryDir();
  const data = new Uint8Array(2 * 2 * 2 * 2);
  const base = { NDims: '3', BinaryData: 'True', ElementSpacing: '1 1 1', DimSize: '2 2 2', ElementType: 'MET_SHORT' };
  const cases: [string, Record<string, string>][] = [
    ['two-channels.mha', { ...base, ElementNumberOfChannels: '2' }],
    ['position.mha', { ...base, Position: '0 0 0' }],
    ['no-spacing.mha', { NDims: '3', BinaryData: 'True', DimSize: '2 2 2', ElementType: 'MET_SHORT' }],
    ['two-d.mha', { ...base, NDims: '2', DimSize: '2 2', ElementSpacing: '1 1' }],
    ['long.mha', { ...base, ElementType: 'MET_LONG_LONG' }],
  ];
  for (const [name, fields] of cases) {
    await writeMetaImage(path.join(dir, name), fields, data);
    assert.is(await plainMetaImageHeader(path.join(dir, name)), undefined, name);
  }
});

test.run();
