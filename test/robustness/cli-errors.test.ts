import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { writeVolume } from '../../src/io/image.js';
import { FIXTURE_MODELS_DIR } from '../helpers.js';
import { foreignLines, int16Bytes, makePhantom, metaImageHeader, runCli, temporaryDir, writeMetaImage } from './fixtures.js';

const SHAPE = { NDims: '3', DimSize: '8 8 4', ElementType: 'MET_SHORT' };
const RAMP = Int16Array.from({ length: 256 }, (_, i) => i * 4 - 1000);

/** Each bad input, how to write it, and the error it must end with. */
const CASES: [string, (file: string) => Promise<void>, RegExp][] = [
  ['notes.mha', (file) => fs.writeFile(file, 'not an image\n'), /not a MetaImage file/],
  ['empty.mha', (file) => fs.writeFile(file, ''), /file is empty \(0 bytes\)/],
  ['truncated.mha', (file) => writeMetaImage(file, SHAPE, int16Bytes(RAMP).subarray(0, 100)), /pixel data is truncated/],
  ['corrupt.mha', (file) => writeMetaImage(file, { ...SHAPE, CompressedData: 'True', CompressedDataSize: '64' }, Buffer.alloc(64, 1)), /compressed pixel data is corrupt/],
  ['lonely.mhd', (file) => fs.writeFile(file, metaImageHeader(SHAPE, 'lonely.raw')), /data file .*lonely\.raw .* not found/],
  ['zero-spacing.mha', (file) => writeMetaImage(file, { ...SHAPE, ElementSpacing: '1 0 1' }, int16Bytes(RAMP)), /invalid spacing \[1, 0, 1\] mm/],
  ['raw-values.mha', (file) => writeVolume(file, makePhantom({ componentType: 'uint16', offset: 1024, paddingHu: -1024 })), /not in Hounsfield units.*RescaleIntercept/],
  ['no-lungs.mha', (file) => writeVolume(file, makePhantom({ lungs: 'none' })), /no lung found/],
];

let dir = '';
test.before(async () => {
  dir = await temporaryDir();
});

for (const [name, write, pattern] of CASES) {
  test(`predict ${name} fails with one line`, async () => {
    const file = path.join(dir, name);
    await write(file);
    const { code, stdout, stderr } = runCli(['predict', file, '--models', FIXTURE_MODELS_DIR, '--device', 'cpu', '--json']);
    assert.is(code, 1, stderr);
    assert.is(stdout, '');
    const errors = stderr.split('\n').filter((line) => line.startsWith('balaitous error: '));
    assert.is(errors.length, 1, stderr);
    assert.ok(errors[0].startsWith(`balaitous error: ${file}: `), errors[0]);
    assert.match(errors[0], pattern);
    assert.equal(foreignLines(stderr), []);
  });
}

test.run();
