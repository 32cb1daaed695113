import path from 'node:path';
import zlib from 'node:zlib';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { readVolume, writeVolume } from '../../src/io/image.js';
import { MAX_PIXEL_BYTES, checkReadMemory } from '../../src/io/pixel-data.js';
import { collectStderr, int16Bytes, metaImageHeader, temporaryDir, writeMetaImage } from './fixtures.js';

const SHAPE = { NDims: '3', DimSize: '8 8 4', ElementType: 'MET_SHORT' };
const VOXELS = 8 * 8 * 4;

function ramp(): Int16Array {
  return Int16Array.from({ length: VOXELS }, (_, i) => (i % 50) * 20 - 1000);
}

/** Reads `file` and returns the error it raises; fails the test when the read succeeds. */
async function readError(file: string): Promise<Error> {
  const { error, stderr } = await collectStderr(() => readVolume(file));
  assert.instance(error, Error, `${file} was read without an error; stderr: ${stderr}`);
  assert.ok((error as Error).message.startsWith(file), `the message does not start with the file: ${(error as Error).message}`);
  return error as Error;
}

let dir = '';
test.before(async () => {
  dir = await temporaryDir();
});

test('a text file is not a MetaImage', async () => {
  const file = path.join(dir, 'notes.mha');
  await fs.writeFile(file, 'patient list\nnot an image\n');
  assert.match((await readError(file)).message, /not a MetaImage file/);
});

test('an empty file is rejected', async () => {
  const file = path.join(dir, 'empty.mha');
  await fs.writeFile(file, '');
  assert.match((await readError(file)).message, /file is empty \(0 bytes\)/);
});

test('a header cut in the middle is rejected', async () => {
  const file = path.join(dir, 'cut-header.mha');
  await fs.writeFile(file, 'ObjectType = Image\nNDims = 3\nDimSi');
  assert.match((await readError(file)).message, /invalid line "DimSi" in the MetaImage header/);
});

test('a header without ElementDataFile is rejected', async () => {
  const file = path.join(dir, 'no-data-line.mha');
  await fs.writeFile(file, 'ObjectType = Image\nNDims = 3\nDimSize = 8 8 4\nElementType = MET_SHORT\n');
  assert.match((await readError(file)).message, /no ElementDataFile line in the file/);
});

test('truncated pixel data is rejected', async () => {
  const file = path.join(dir, 'truncated.mha');
  await writeMetaImage(file, SHAPE, int16Bytes(ramp()).subarray(0, 300));
  const { message } = await readError(file);
  assert.match(message, /pixel data is truncated/);
  assert.match(message, /needs 512 bytes, but the file contains 300 after the header/);
});

test('a header claiming too many voxels', async () => {
  const file = path.join(dir, 'lying.mha');
  await writeMetaImage(file, { ...SHAPE, DimSize: '512 512 300' }, int16Bytes(ramp()));
  assert.match((await readError(file)).message, /DimSize 512 × 512 × 300 of MET_SHORT\) needs 157286400 bytes, but the file contains 512/);
});

test('binary bytes in the header are rejected', async () => {
  const file = path.join(dir, 'binary-header.mha');
  await fs.writeFile(file, Buffer.concat([Buffer.from('ObjectType = Image\nNDims = 3\nDimSize = 8 8 4\nElementType = MET_SHORT\n'), int16Bytes(ramp())]));
  assert.match((await readError(file)).message, /binary byte 0x[0-9a-f]{2} in line 5 of the MetaImage header, before its ElementDataFile line/);
});

test('an empty ElementDataFile is rejected', async () => {
  const file = path.join(dir, 'no-data-file.mhd');
  await fs.writeFile(file, metaImageHeader(SHAPE, ''));
  assert.match((await readError(file)).message, /ElementDataFile is empty in the MetaImage header: expected LOCAL or the name of the data file/);
});

test('extra bytes are read with a warning', async () => {
  const file = path.join(dir, 'extra.mha');
  await writeMetaImage(file, SHAPE, Buffer.concat([int16Bytes(ramp()), Buffer.alloc(100, 7)]));
  const { result, stderr } = await collectStderr(() => readVolume(file));
  assert.equal(Array.from(result!.data), Array.from(ramp()));
  assert.match(stderr, /extra\.mha: 100 bytes after the header follow the 512 bytes of pixel data/);
});

test('CRLF header lines are read', async () => {
  const file = path.join(dir, 'crlf.mha');
  await writeMetaImage(file, { ...SHAPE, ElementSpacing: '0.7 0.7 2.5', PatientAge: '071Y' }, int16Bytes(ramp()), '\r\n');
  const volume = await readVolume(file);
  assert.equal(volume.size, [8, 8, 4]);
  assert.equal(volume.spacing, [0.7, 0.7, 2.5]);
  assert.is(volume.metadata.get('PatientAge'), '071Y');
  assert.equal(Array.from(volume.data), Array.from(ramp()));
});

test('keys with brackets and spaces are read', async () => {
  const file = path.join(dir, 'nrrd-keys.mha');
  await writeMetaImage(file, { ...SHAPE, 'NRRD_kinds[0]': 'domain', 'Study Note': 'a: b' }, int16Bytes(ramp()));
  const volume = await readVolume(file);
  assert.is(volume.metadata.get('NRRD_kinds[0]'), 'domain');
  assert.equal(Array.from(volume.data), Array.from(ramp()));
});

test('.mhd whose data file is missing names the data file', async () => {
  const file = path.join(dir, 'lonely.mhd');
  await fs.writeFile(file, metaImageHeader(SHAPE, 'lonely.raw'));
  const { message } = await readError(file);
  assert.match(message, /data file .*lonely\.raw \(ElementDataFile = lonely\.raw\) not found/);
});

test('.mhd with a compressed .zraw is read', async () => {
  const file = path.join(dir, 'pair.mhd');
  const compressed = zlib.deflateSync(int16Bytes(ramp()));
  await fs.writeFile(path.join(dir, 'pair.zraw'), compressed);
  await fs.writeFile(file, metaImageHeader({ ...SHAPE, CompressedData: 'True', CompressedDataSize: String(compressed.length) }, 'pair.zraw'));
  assert.equal(Array.from((await readVolume(file)).data), Array.from(ramp()));
});

test('compressed data that does not inflate is rejected', async () => {
  const file = path.join(dir, 'garbage.mha');
  const garbage = Buffer.alloc(200, 0x5a);
  await writeMetaImage(file, { ...SHAPE, CompressedData: 'True', CompressedDataSize: '200' }, garbage);
  assert.match((await readError(file)).message, /compressed pixel data is corrupt \(zlib: incorrect header check\)/);
});

test('a flipped bit in compressed data is rejected', async () => {
  const file = path.join(dir, 'bit-flip.mha');
  const compressed = zlib.deflateSync(int16Bytes(ramp()));
  compressed[compressed.length >> 1] ^= 0x10;
  await writeMetaImage(file, { ...SHAPE, CompressedData: 'True', CompressedDataSize: String(compressed.length) }, compressed);
  assert.match((await readError(file)).message, /compressed pixel data is corrupt \(zlib: /);
});

test('truncated compressed data is rejected', async () => {
  const file = path.join(dir, 'short-stream.mha');
  const compressed = zlib.deflateSync(int16Bytes(ramp()));
  await writeMetaImage(file, { ...SHAPE, CompressedData: 'True', CompressedDataSize: String(compressed.length) }, compressed.subarray(0, 40));
  assert.match((await readError(file)).message, /compressed pixel data is truncated: CompressedDataSize is \d+ bytes, but the file contains 40/);
});

test('CompressedDataSize shorter than the stream', async () => {
  const file = path.join(dir, 'short-size.mha');
  const compressed = zlib.deflateSync(int16Bytes(ramp()));
  await writeMetaImage(file, { ...SHAPE, CompressedData: 'True', CompressedDataSize: String(compressed.length - 10) }, compressed);
  assert.match((await readError(file)).message, /compressed pixel data is corrupt \(zlib: unexpected end of file\)/);
});

test('compressed data inflating too short', async () => {
  const file = path.join(dir, 'half-stream.mha');
  const compressed = zlib.deflateSync(int16Bytes(ramp()).subarray(0, 256));
  await writeMetaImage(file, { ...SHAPE, CompressedData: 'True', CompressedDataSize: String(compressed.length) }, compressed);
  assert.match((await readError(file)).message, /inflates to 256 bytes, but the header \(DimSize 8 × 8 × 4 of MET_SHORT\) needs 512/);
});

test('compressed .mha without CompressedDataSize', async () => {
  const file = path.join(dir, 'no-size.mha');
  const compressed = zlib.deflateSync(int16Bytes(ramp()));
  await writeMetaImage(file, { ...SHAPE, CompressedData: 'True' }, compressed);
  assert.match((await readError(file)).message, new RegExp(`Add the line "CompressedDataSize = ${compressed.length}" before ElementDataFile`));
});

test('a directory named like an image is rejected', async () => {
  const folder = path.join(dir, 'folder.mha');
  await fs.ensureDir(folder);
  const { message } = await readError(folder);
  assert.match(message, /no DICOM file found/);
});

test('a missing file is rejected', async () => {
  assert.match((await readError(path.join(dir, 'absent.mha'))).message, /file not found/);
});

test('a huge image is rejected before its data is read', async () => {
  // A sparse file: the size of 512 × 512 × 4096 int16 voxels on disk, without writing them.
  const file = path.join(dir, 'huge.mha');
  const header = metaImageHeader({ NDims: '3', DimSize: '512 512 4096', ElementType: 'MET_SHORT' });
  await fs.writeFile(file, header);
  await fs.truncate(file, header.length + 512 * 512 * 4096 * 2);
  const start = performance.now();
  const { message } = await readError(file);
  assert.ok(performance.now() - start < 1000, 'the check read the pixel data');
  assert.match(message, /image too large: DimSize 512 × 512 × 4096 of MET_SHORT is 2\.00 GiB of pixel data/);
  assert.match(message, /Crop the scan to the chest, or resample it to thicker slices/);
  assert.ok(512 * 512 * 4096 * 2 > MAX_PIXEL_BYTES);
});

test('an image too large for the memory limit is rejected', () => {
  const header = { dimension: 3, size: [512, 512, 1000], components: 1, componentBytes: 2, pixelBytes: 512 * 512 * 1000 * 2 };
  const layout = 'DimSize 512 × 512 × 1000 of MET_SHORT';
  const limit = 1.5 * 2 ** 30;
  const inUse = 0.25 * 2 ** 30;
  assert.throws(
    () => checkReadMemory('big.mha', header, layout, 0, limit, inUse),
    /big\.mha: not enough memory to read this image: DimSize 512 × 512 × 1000 of MET_SHORT needs about 1\.46 GiB while it is read \(3 × 0\.49 GiB of pixel data\), and this process may use 1\.50 GiB, 0\.25 GiB of which are in use/,
  );
  // With a limit of 1.9 GiB, the image fits uncompressed but not with 0.25 GiB of compressed data.
  assert.not.throws(() => checkReadMemory('big.mha', header, layout, 0, 1.9 * 2 ** 30, inUse));
  assert.throws(() => checkReadMemory('big.mha', header, layout, 2 ** 28, 1.9 * 2 ** 30, inUse), /and 0\.25 GiB of compressed data/);
});

test('a truncated .nii.gz is rejected', async () => {
  const file = path.join(dir, 'scan.nii.gz');
  await writeVolume(file, {
    data: ramp(), componentType: 'int16', size: [8, 8, 4], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], metadata: new Map(),
  });
  const bytes = await fs.readFile(file);
  const truncated = path.join(dir, 'truncated.nii.gz');
  await fs.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  assert.match((await readError(truncated)).message, /compressed data is corrupt or truncated \(zlib: unexpected end of file\)/);
});

test('a truncated .nii is rejected', async () => {
  const file = path.join(dir, 'scan.nii');
  await writeVolume(file, {
    data: ramp(), componentType: 'int16', size: [8, 8, 4], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], metadata: new Map(),
  });
  const bytes = await fs.readFile(file);
  const truncated = path.join(dir, 'truncated.nii');
  await fs.writeFile(truncated, bytes.subarray(0, bytes.length - 100));
  assert.match((await readError(truncated)).message, /pixel data is truncated: the NIfTI header \(8 × 8 × 4 voxels of 2 byte\(s\) from byte 352\) needs 864 bytes, the file has 764/);
});

test('a damaged .nrrd is rejected', async () => {
  const file = path.join(dir, 'scan.nrrd');
  await writeVolume(file, {
    data: ramp(), componentType: 'int16', size: [8, 8, 4], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], metadata: new Map(),
  });
  const bytes = await fs.readFile(file);
  const truncated = path.join(dir, 'truncated.nrrd');
  await fs.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  const { message } = await readError(truncated);
  assert.match(message, /cannot be read as an image: /);
  assert.not.match(message, /Exception while running pipeline|Build module/);
});

test.run();
