#!/usr/bin/env node
// Runs the pipeline on every GPU provider that loads here (CUDA, WebGPU) and on the CPU, at fp32
// and fp16, and prints per-step times and the differences from the CPU fp32 run: |Δp| of both
// probabilities, the max feature difference and the lung mask voxels that differ.
//
// Usage: npm run check:gpu -- [--scan FILE]... [--models DIR] [--devices LIST] [--precisions LIST]
//                             [--runs N] [--cpu-runs N] [--threads N] [--json FILE]
// Defaults: the RICORD scan of ../shared/data/ct; the models of $BALAITOUS_MODELS (as in the
// container), else full-size stand-in models with fp16 variants in
// ${XDG_CACHE_HOME:-~/.cache}/balaitous/check-gpu-models, made with tools/export-models on first
// use (needs Python with torch and onnx); devices cuda,webgpu,cpu, keeping those that load;
// precisions fp32,fp16; 3 runs on a GPU and 1 on the CPU, the fastest one reported.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import fs from 'fs-extra';

import { Balaitous, setLogLevel } from '../dist/src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'balaitous');
/** End-to-end seconds per scan that a GPU run should stay under, model loading excluded. */
const GPU_TARGET_SECONDS = 1;
const GPU_DEVICES = ['cuda', 'webgpu'];

const { values } = parseArgs({
  options: {
    scan: { type: 'string', multiple: true, default: [path.join(root, '..', 'shared', 'data', 'ct', 'ricord1a-419639-000082.mha')] },
    models: { type: 'string' },
    devices: { type: 'string', default: 'cuda,webgpu,cpu' },
    precisions: { type: 'string', default: 'fp32,fp16' },
    runs: { type: 'string', default: '3' },
    'cpu-runs': { type: 'string', default: '1' },
    threads: { type: 'string' },
    json: { type: 'string' },
  },
});

function positiveInteger(text, option) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`invalid ${option} ${JSON.stringify(text)}: expected a positive integer`);
  return value;
}

/** Makes the full-size stand-in models once: random weights of the published shapes, with fp16 variants. */
function ensureFullSizeModels() {
  const models = path.join(cache, 'check-gpu-models');
  if (existsSync(path.join(models, 'manifest.json'))) return models;
  const source = path.join(cache, 'check-gpu-source');
  const exporter = path.join(root, 'tools', 'export-models');
  const heads = path.join(root, '..', 'shared', 'weights', 'balaitous.npz');
  const randomArgs = existsSync(heads) ? ['--make-random', '--heads', heads, source] : ['--make-random', source];
  process.stderr.write(`check-gpu: making full-size stand-in models in ${models} (a few minutes, 7 GB of memory)\n`);
  for (const args of [randomArgs, [source, models, '--fp16', '--name', 'full-size-random']]) {
    const result = spawnSync(exporter, args, { stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`tools/export-models ${args.join(' ')} failed; pass --models DIR to use exported models`);
  }
  return models;
}

const runs = positiveInteger(values.runs, '--runs');
const cpuRuns = positiveInteger(values['cpu-runs'], '--cpu-runs');
const threads = values.threads === undefined ? undefined : positiveInteger(values.threads, '--threads');
const devices = values.devices.split(',');
const precisions = values.precisions.split(',');
for (const scan of values.scan) {
  if (!existsSync(scan)) throw new Error(`${scan}: scan not found; pass --scan FILE`);
}
const models = values.models ?? process.env.BALAITOUS_MODELS ?? ensureFullSizeModels();
setLogLevel('warn');

/** Loads the models on one device and precision, runs every scan, and returns the fastest run of each. */
async function runConfiguration(device, precision) {
  const loadStart = performance.now();
  const model = await Balaitous.load({ models, device, precision, threads });
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const repeats = device === 'cpu' ? cpuRuns : runs;
  const scans = [];
  try {
    for (const scan of values.scan) {
      let best;
      for (let run = 0; run < repeats; run++) {
        const start = performance.now();
        const result = await model.predict(scan, { intermediates: true });
        const total = (performance.now() - start) / 1000;
        process.stderr.write(`check-gpu: ${device} ${precision} ${path.basename(scan)} run ${run + 1}/${repeats}: ${total.toFixed(2)} s\n`);
        if (best === undefined || total < best.total) best = { total, result };
      }
      scans.push({ scan, total: best.total, timings: best.result.timings, providers: best.result.providers, result: best.result });
    }
  } finally {
    await model.dispose();
  }
  return { device, precision, loadSeconds, scans };
}

function maxDifference(a, b) {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function countDifferent(a, b) {
  if (a.length !== b.length) return `shapes differ (${a.length} vs ${b.length} voxels)`;
  let count = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) count++;
  return count;
}

function compare(reference, candidate) {
  const expected = reference.result;
  const actual = candidate.result;
  return {
    covid: Math.abs(actual.covid - expected.covid),
    severe: Math.abs(actual.severe - expected.severe),
    featuresFull: maxDifference(actual.features.full, expected.features.full),
    featuresLung: maxDifference(actual.features.lung, expected.features.lung),
    featureScale: Math.max(...expected.features.full.map(Math.abs), ...expected.features.lung.map(Math.abs)),
    maskVoxels: countDifferent(actual.intermediates.lungmaskLabels.data, expected.intermediates.lungmaskLabels.data),
    slicesKept: `${actual.sliceRange.join('-')} vs ${expected.sliceRange.join('-')}`,
  };
}

// The CPU fp32 run is the reference, so it goes first, and the slow CPU fp16 run last. A GPU is
// probed by loading the models on it: when it cannot run fp32, its other precisions are skipped.
const plan = [['cpu', 'fp32']];
for (const device of devices.filter((name) => name !== 'cpu')) {
  for (const precision of precisions) plan.push([device, precision]);
}
if (devices.includes('cpu')) {
  for (const precision of precisions.filter((name) => name !== 'fp32')) plan.push(['cpu', precision]);
}

const configurations = [];
const unavailable = [];
for (const [device, precision] of plan) {
  if (unavailable.some((entry) => entry.device === device && entry.precision === 'fp32')) continue;
  try {
    configurations.push(await runConfiguration(device, precision));
  } catch (error) {
    if (device === 'cpu' && precision === 'fp32') throw error;
    const reason = error instanceof Error ? error.message : String(error);
    unavailable.push({ device, precision, reason });
    process.stderr.write(`check-gpu: ${device} ${precision} not run: ${reason}\n`);
  }
}

const reference = configurations[0];
const label = (configuration) => `${configuration.device} ${configuration.precision}`;
const column = (text, width = 14) => String(text).padStart(width);
const out = (line = '') => process.stdout.write(`${line}\n`);

out(`models    ${models}`);
out(`cpu       ${os.cpus()[0]?.model} (${threads ?? os.availableParallelism()} threads)`);
for (const { device, precision, reason } of unavailable) out(`not run   ${device} ${precision}: ${reason.split('\n')[0]}`);
for (const [index, scan] of values.scan.entries()) {
  out();
  out(`scan ${scan}`);
  out(`${'step (s)'.padEnd(22)}${configurations.map((configuration) => column(label(configuration))).join('')}`);
  for (const step of Object.keys(reference.scans[index].timings)) {
    out(`${step.padEnd(22)}${configurations.map((configuration) => column(configuration.scans[index].timings[step]?.toFixed(3) ?? '-')).join('')}`);
  }
  out(`${'end to end'.padEnd(22)}${configurations.map((configuration) => column(configuration.scans[index].total.toFixed(3))).join('')}`);
  out(`${'model loading'.padEnd(22)}${configurations.map((configuration) => column(configuration.loadSeconds.toFixed(3))).join('')}`);
  out(`${'providers'.padEnd(22)}${configurations.map((configuration) => column([...new Set(Object.values(configuration.scans[index].providers))].join('+'))).join('')}`);
  out();
  out(`${'vs cpu fp32'.padEnd(22)}${configurations.slice(1).map((configuration) => column(label(configuration))).join('')}`);
  const differences = configurations.slice(1).map((configuration) => compare(reference.scans[index], configuration.scans[index]));
  const rows = [
    ['|Δ P(COVID-19)|', (d) => d.covid.toExponential(2)],
    ['|Δ P(severe)|', (d) => d.severe.toExponential(2)],
    ['max |Δ feature| full', (d) => d.featuresFull.toExponential(2)],
    ['max |Δ feature| lung', (d) => d.featuresLung.toExponential(2)],
    ['max |feature| (ref.)', (d) => d.featureScale.toFixed(3)],
    ['mask voxels differing', (d) => d.maskVoxels],
  ];
  for (const [name, format] of rows) out(`${name.padEnd(22)}${differences.map((d) => column(format(d))).join('')}`);
}

out();
for (const configuration of configurations.filter(({ device }) => GPU_DEVICES.includes(device))) {
  const slowest = Math.max(...configuration.scans.map((scan) => scan.total));
  out(`${label(configuration)}: ${slowest.toFixed(3)} s per scan end to end, model loading excluded (target ≤ ${GPU_TARGET_SECONDS} s: ${slowest <= GPU_TARGET_SECONDS ? 'met' : 'NOT met'})`);
}
if (!configurations.some(({ device }) => GPU_DEVICES.includes(device))) out('no GPU provider ran here: only the CPU figures above were measured');

if (values.json) {
  const summary = {
    models,
    cpu: os.cpus()[0]?.model,
    threads: threads ?? os.availableParallelism(),
    unavailable,
    configurations: configurations.map((configuration) => ({
      device: configuration.device,
      precision: configuration.precision,
      loadSeconds: configuration.loadSeconds,
      scans: configuration.scans.map((scan, index) => ({
        scan: scan.scan,
        seconds: scan.total,
        timings: scan.timings,
        providers: scan.providers,
        covid: scan.result.covid,
        severe: scan.result.severe,
        differences: configuration === reference ? undefined : compare(reference.scans[index], scan),
      })),
    })),
  };
  await fs.outputJson(values.json, summary, { spaces: 2 });
}
