/**
 * Fuzz cases for image reading, run in a child process by fuzz.test.ts so that a crash or a hang
 * inside itk-wasm cannot take the test runner with it.
 *
 * Usage: node fuzz-runner.js DIR COUNT SEED. Writes DIR/results.json: one entry per case with the
 * file, the mutations applied, and either `ok` or the error's class and message.
 */
import path from 'node:path';
import zlib from 'node:zlib';

import fs from 'fs-extra';

import { readVolume } from '../../src/io/image.js';
import { setLogLevel } from '../../src/log.js';
import { checkScan } from '../../src/steps/check-scan.js';
import { int16Bytes, makePhantom } from './fixtures.js';

export interface FuzzResult {
  file: string;
  mutations: string[];
  ok: boolean;
  errorClass?: string;
  message?: string;
  seconds: number;
}

const TOKENS = ['', '0', '-1', '1', '2', '3', '4', 'nan', 'inf', '-inf', '1e9', '3.5', 'abc', '4 4', '16 16', '999999999', 'True', 'False', 'LOCAL', 'MET_SHORT'];
const ELEMENT_TYPES = ['MET_CHAR', 'MET_UCHAR', 'MET_SHORT', 'MET_USHORT', 'MET_INT', 'MET_UINT', 'MET_LONG', 'MET_LONG_LONG', 'MET_FLOAT', 'MET_DOUBLE', 'MET_FOO', 'MET_STRING'];

/** Park-Miller generator: the same seed gives the same cases. */
function generator(seed: number) {
  let state = seed % 2147483647 || 1;
  const next = () => {
    state = (state * 48271) % 2147483647;
    return state / 2147483647;
  };
  return {
    integer: (below: number) => Math.floor(next() * below),
    pick: <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)],
  };
}

interface Case {
  lines: string[];
  data: Buffer;
  lineEnd: string;
  /** Bytes to keep of the whole file, or undefined for all. */
  keep?: number;
  /** Raw bytes inserted into the header text. */
  junk?: Buffer;
}

type Random = ReturnType<typeof generator>;

function setField(lines: string[], key: string, value: string): void {
  const index = lines.findIndex((line) => line.startsWith(`${key} =`));
  const at = index >= 0 ? index : Math.max(lines.length - 1, 0);
  lines.splice(at, index >= 0 ? 1 : 0, `${key} = ${value}`);
}

/** The mutations, each a name and a change to a case. */
const MUTATIONS: [string, (item: Case, random: Random) => void][] = [
  ['delete a line', (item, random) => void item.lines.splice(random.integer(item.lines.length), 1)],
  ['duplicate a line', (item, random) => {
    const index = random.integer(item.lines.length);
    item.lines.splice(index, 0, item.lines[index]);
  }],
  ['replace a value', (item, random) => {
    const index = random.integer(item.lines.length);
    item.lines[index] = `${item.lines[index].split(' = ')[0]} = ${random.pick(TOKENS)}`;
  }],
  ['set NDims', (item, random) => setField(item.lines, 'NDims', String(random.integer(7)))],
  ['set DimSize', (item, random) => setField(item.lines, 'DimSize', Array.from({ length: 1 + random.integer(4) }, () => random.pick(['0', '-3', '1', '2', '8', '16', '17', '100000'])).join(' '))],
  ['set ElementType', (item, random) => setField(item.lines, 'ElementType', random.pick(ELEMENT_TYPES))],
  ['set ElementNumberOfChannels', (item, random) => setField(item.lines, 'ElementNumberOfChannels', String(random.integer(5)))],
  ['toggle CompressedData', (item, random) => setField(item.lines, 'CompressedData', random.pick(['True', 'False', 'true']))],
  ['shift CompressedDataSize', (item, random) => setField(item.lines, 'CompressedDataSize', String(item.data.length + random.integer(41) - 20))],
  ['set ElementSpacing', (item, random) => setField(item.lines, 'ElementSpacing', `${random.pick(['0', '-1', 'nan', '1', '0.001'])} 1 ${random.pick(['5', '0', '1e-9', '1000'])}`)],
  ['set TransformMatrix', (item, random) => setField(item.lines, 'TransformMatrix', Array.from({ length: 9 }, () => random.pick(['0', '1', '-1', '0.5', 'nan'])).join(' '))],
  ['set Offset', (item, random) => setField(item.lines, 'Offset', `${random.pick(['0', 'nan', '1e308', '-5'])} 0 0`)],
  ['set ElementDataFile', (item, random) => setField(item.lines, 'ElementDataFile', random.pick(['missing.raw', 'LIST', '', 'slice%03d.raw 1 4 1', '.']))],
  ['insert a junk line', (item, random) => void item.lines.splice(random.integer(item.lines.length), 0, random.pick(['junk', '= 3', 'NDims', '# note', 'Key = = value']))],
  ['lower-case a key', (item, random) => {
    const index = random.integer(item.lines.length);
    item.lines[index] = item.lines[index].replace(/^[^=]*/, (key) => key.toLowerCase());
  }],
  ['move ElementDataFile up', (item, random) => {
    const index = item.lines.findIndex((line) => line.startsWith('ElementDataFile'));
    if (index >= 0) item.lines.splice(random.integer(item.lines.length), 0, ...item.lines.splice(index, 1));
  }],
  ['use CRLF', (item) => void (item.lineEnd = '\r\n')],
  ['insert binary bytes in the header', (item, random) => void (item.junk = Buffer.from(Array.from({ length: 1 + random.integer(16) }, () => random.integer(256))))],
  ['truncate the file', (item, random) => void (item.keep = random.integer(400 + item.data.length))],
  ['flip data bytes', (item, random) => {
    for (let i = 0; i < 1 + random.integer(8); i++) item.data[random.integer(item.data.length)] ^= 1 << random.integer(8);
  }],
  ['append bytes', (item, random) => void (item.data = Buffer.concat([item.data, Buffer.alloc(1 + random.integer(300), random.integer(256))]))],
  ['drop data', (item, random) => void (item.data = item.data.subarray(0, random.integer(item.data.length)))],
];

function baseCase(compressed: boolean): Case {
  const phantom = makePhantom({ size: [16, 16, 8], spacing: [20, 20, 5] });
  const raw = Buffer.from(int16Bytes(phantom.data as Int16Array));
  const data = compressed ? zlib.deflateSync(raw) : raw;
  const lines = [
    'ObjectType = Image',
    'NDims = 3',
    'BinaryData = True',
    'BinaryDataByteOrderMSB = False',
    ...(compressed ? ['CompressedData = True', `CompressedDataSize = ${data.length}`] : []),
    'TransformMatrix = 1 0 0 0 1 0 0 0 1',
    'Offset = -150 -150 -17.5',
    'ElementSpacing = 20 20 5',
    'PatientAge = 065Y',
    'PatientSex = F',
    'DimSize = 16 16 8',
    'ElementType = MET_SHORT',
    'ElementDataFile = LOCAL',
  ];
  return { lines, data, lineEnd: '\n' };
}

async function runCase(dir: string, index: number, random: Random): Promise<FuzzResult> {
  const item = baseCase(random.integer(2) === 1);
  const mutations: string[] = [];
  for (let i = 0; i < 1 + random.integer(3); i++) {
    const [name, mutate] = random.pick(MUTATIONS);
    mutate(item, random);
    mutations.push(name);
  }
  const file = path.join(dir, `case-${String(index).padStart(3, '0')}.${random.integer(5) === 0 ? 'mhd' : 'mha'}`);
  const header = Buffer.from(item.lines.join(item.lineEnd) + item.lineEnd, 'latin1');
  const withJunk = item.junk === undefined ? header : Buffer.concat([header.subarray(0, header.length >> 1), item.junk, header.subarray(header.length >> 1)]);
  const bytes = Buffer.concat([withJunk, item.data]);
  await fs.writeFile(file, item.keep === undefined ? bytes : bytes.subarray(0, item.keep));

  const start = performance.now();
  try {
    checkScan(await readVolume(file), file);
    return { file, mutations, ok: true, seconds: (performance.now() - start) / 1000 };
  } catch (error) {
    const errorClass = error instanceof Error ? error.constructor.name : typeof error;
    const message = error instanceof Error ? error.message : String(error);
    return { file, mutations, ok: false, errorClass, message, seconds: (performance.now() - start) / 1000 };
  }
}

const [dir, countText, seedText] = process.argv.slice(2);
setLogLevel('silent');
const random = generator(Number(seedText));
const results: FuzzResult[] = [];
for (let index = 0; index < Number(countText); index++) {
  results.push(await runCase(dir, index, random));
  // Written after each case, so that a crash leaves the cases before it for the report.
  await fs.writeJson(path.join(dir, 'results.json'), results);
}
