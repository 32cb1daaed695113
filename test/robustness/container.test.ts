import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';

import { Ajv } from 'ajv';
import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { writeVolume } from '../../src/io/image.js';
import { OUTPUT_FILES } from '../../src/outputs.js';
import { FIXTURE_MODELS_DIR, REPO_ROOT } from '../helpers.js';
import { CLI, foreignLines, makePhantom, runCli, temporaryDir } from './fixtures.js';

const OUTPUT_NAMES = [OUTPUT_FILES.covid, OUTPUT_FILES.severe].sort();

/** Creates INPUT/images/ct/ holding the phantom as `name` (.mha, or .mhd with its .zraw); returns INPUT. */
async function inputWithPhantom(name = 'chest.mha'): Promise<string> {
  const input = await temporaryDir();
  await writeVolume(path.join(input, 'images', 'ct', name), makePhantom());
  return input;
}

function gc(input: string, output: string, options: Parameters<typeof runCli>[1] = {}) {
  return runCli(['gc', '--input', input, '--output', output, '--models', FIXTURE_MODELS_DIR, '--device', 'cpu'], options);
}

async function assertValidOutputs(output: string): Promise<void> {
  assert.equal((await fs.readdir(output)).sort(), OUTPUT_NAMES);
  const validate = new Ajv().compile(await fs.readJson(path.join(REPO_ROOT, 'schemas', 'probability.schema.json')));
  for (const name of OUTPUT_NAMES) {
    const text = await fs.readFile(path.join(output, name), 'utf8');
    assert.match(text, /^[0-9.e-]+\n$/, `${name}: ${JSON.stringify(text)}`);
    assert.ok(validate(JSON.parse(text)), `${name}: ${text}`);
  }
}

/** Returns whether this process may run commands as another user: root, with setpriv installed. */
function canSwitchUser(): boolean {
  return process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
}

/** Returns whether `unshare -n` can start a process without network interfaces here. */
function canUnshareNetwork(): boolean {
  return spawnSync('unshare', ['-n', 'true']).status === 0;
}

test('a missing input folder is rejected', async () => {
  const input = path.join(await temporaryDir(), 'absent');
  const output = await temporaryDir();
  const { code, stderr } = gc(input, output);
  assert.is(code, 1);
  assert.match(stderr, /absent\/images\/ct: input folder not found \(expected the scan in INPUT\/images\/ct\/\)/);
  assert.equal(await fs.readdir(output), []);
});

test('an input folder with two images is rejected', async () => {
  const input = await inputWithPhantom('a.mha');
  await fs.copy(path.join(input, 'images', 'ct', 'a.mha'), path.join(input, 'images', 'ct', 'b.mha'));
  const output = await temporaryDir();
  const { code, stderr } = gc(input, output);
  assert.is(code, 1);
  assert.match(stderr, /2 images found \(a\.mha, b\.mha\); a job scores exactly one/);
  assert.equal(await fs.readdir(output), []);
});

test('an .mhd and its .zraw count as one image', async () => {
  const input = await inputWithPhantom('chest.mhd');
  assert.equal((await fs.readdir(path.join(input, 'images', 'ct'))).sort(), ['chest.mhd', 'chest.zraw']);
  // A missing output folder is created.
  const output = path.join(await temporaryDir(), 'new', 'output');
  const { code, stderr } = gc(input, output);
  assert.is(code, 0, stderr);
  await assertValidOutputs(output);
});

test('an output path under a file is rejected before scoring', async () => {
  const input = await inputWithPhantom();
  const blocker = path.join(await temporaryDir(), 'a-file');
  await fs.writeFile(blocker, '');
  const { code, stderr } = gc(input, path.join(blocker, 'output'));
  assert.is(code, 1);
  assert.match(stderr, /a-file\/output: output folder cannot be created \(.*\); pass a writable folder with --output/);
  assert.not.match(stderr, /lung_mask/);
});

if (canSwitchUser()) {
  test('a non-root user scores a read-only input', async () => {
    const input = await inputWithPhantom();
    const output = await temporaryDir();
    await fs.chmod(input, 0o555);
    await fs.chmod(path.join(input, 'images'), 0o555);
    await fs.chmod(path.join(input, 'images', 'ct'), 0o555);
    await fs.chmod(path.join(input, 'images', 'ct', 'chest.mha'), 0o444);
    await fs.chmod(output, 0o777);
    const { code, stderr } = gc(input, output, { wrapper: ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--'] });
    assert.is(code, 0, stderr);
    await assertValidOutputs(output);
  });

  test('an output folder the user cannot write is rejected', async () => {
    const input = await inputWithPhantom();
    await fs.chmod(input, 0o755);
    const output = await temporaryDir();
    await fs.chmod(output, 0o555);
    const { code, stderr } = gc(input, output, { wrapper: ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--'] });
    assert.is(code, 1);
    assert.match(stderr, /output folder is not writable \(EACCES: permission denied/);
    assert.not.match(stderr, /lung_mask/);
  });
} else {
  console.log('container.test: not root or no setpriv, so the non-root runs are not tested here');
}

test('gc makes no network call', async () => {
  const dir = await temporaryDir();
  const preload = path.join(dir, 'no-network.mjs');
  const attempts = path.join(dir, 'attempts.log');
  // Every JavaScript way out of the process records the attempt and throws.
  await fs.writeFile(preload, `
import fs from 'node:fs';
import dgram from 'node:dgram';
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
const block = (name) => () => {
  fs.appendFileSync(${JSON.stringify(attempts)}, name + '\\n');
  throw new Error('network access attempted: ' + name);
};
net.Socket.prototype.connect = block('net.Socket.connect');
net.connect = net.createConnection = block('net.connect');
tls.connect = block('tls.connect');
http.request = http.get = block('http.request');
https.request = https.get = block('https.request');
dns.lookup = block('dns.lookup');
dns.resolve = block('dns.resolve');
dns.promises.lookup = block('dns.promises.lookup');
dgram.createSocket = block('dgram.createSocket');
// itk-wasm fetches its zstd decoder from a data: URL, which stays in the process.
const fetchInProcess = globalThis.fetch;
globalThis.fetch = (resource, ...rest) => {
  const url = String(resource?.url ?? resource);
  return url.startsWith('data:') ? fetchInProcess(resource, ...rest) : block('fetch ' + url)();
};
`);
  const input = await inputWithPhantom();
  const output = await temporaryDir();
  const { code, stderr } = gc(input, output, { nodeArguments: ['--import', preload] });
  assert.is(code, 0, stderr);
  assert.not.ok(await fs.pathExists(attempts), 'a network call was attempted');
  await assertValidOutputs(output);
});

if (canUnshareNetwork()) {
  test('gc scores without network interfaces', async () => {
    const input = await inputWithPhantom();
    const output = await temporaryDir();
    const { code, stderr } = gc(input, output, { wrapper: ['unshare', '-n'] });
    assert.is(code, 0, stderr);
    await assertValidOutputs(output);
  });
} else {
  console.log('container.test: unshare -n is not permitted here, so the run without network interfaces is not tested');
}

test('a run killed while scoring leaves no output', async () => {
  const input = await inputWithPhantom();
  const output = await temporaryDir();
  const child = spawn(process.execPath, [CLI, 'gc', '--input', input, '--output', output, '--models', FIXTURE_MODELS_DIR, '--device', 'cpu'], { cwd: REPO_ROOT });
  let stderr = '';
  const killed = new Promise<string>((resolve) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      // The lung mask is done and the feature extractors run next, the outputs after them.
      if (stderr.includes('clean_mask:')) child.kill('SIGKILL');
    });
    child.on('exit', (_code, signal) => resolve(String(signal)));
  });
  assert.is(await killed, 'SIGKILL', stderr);
  assert.equal(await fs.readdir(output), []);
});

for (const [kind, fault] of [
  ['exception', `throw new Error('simulated fault')`],
  ['rejection', `Promise.reject(new Error('simulated rejection'))`],
  ['WebAssembly abort', `throw new WebAssembly.RuntimeError('Aborted(OOM)')`],
] as const) {
  test(`an uncaught ${kind} ends with one line`, async () => {
    const dir = await temporaryDir();
    const preload = path.join(dir, 'fault.mjs');
    // Raises the fault outside any call stack once the pipeline has started.
    await fs.writeFile(preload, `
const write = process.stderr.write.bind(process.stderr);
let raised = false;
process.stderr.write = (chunk, ...rest) => {
  if (!raised && String(chunk).includes('reorient:')) {
    raised = true;
    setImmediate(() => { ${fault}; });
  }
  return write(chunk, ...rest);
};
`);
    const input = await inputWithPhantom();
    const scan = path.join(input, 'images', 'ct', 'chest.mha');
    const output = await temporaryDir();
    const quiet = gc(input, output, { nodeArguments: ['--import', preload] });
    assert.is(quiet.code, 1, quiet.stderr);
    const errors = quiet.stderr.split('\n').filter((line) => line.startsWith('balaitous error: '));
    assert.equal(errors.length, 1, quiet.stderr);
    assert.ok(errors[0].startsWith(`balaitous error: ${scan}: `), errors[0]);
    assert.match(errors[0], /simulated|Aborted\(OOM\)/);
    assert.equal(foreignLines(quiet.stderr), []);
    assert.equal(await fs.readdir(output), []);

    const verbose = runCli(['gc', '--input', input, '--output', output, '--models', FIXTURE_MODELS_DIR, '--device', 'cpu', '--verbose'], { nodeArguments: ['--import', preload] });
    assert.is(verbose.code, 1);
    assert.match(verbose.stderr, /balaitous debug: \w*Error: .*\n\s+at /);
  });
}

test.run();
