#!/usr/bin/env node
// Benchmarks the pipeline on one scan and prints a table on stdout, then the same as JSON. It
// reports the wall time of each step and of the lung mask step's parts (minimum and median over
// runs), of reading the scan, end-to-end time, model loading, peak RSS, providers, threads, and
// each network's GFLOP/s.
//
// Usage: npm run bench -- [--scan FILE] [--models DIR] [--runs N] [--device D] [--precision P]
//                         [--threads N] [--peak-gflops N] [--json FILE]
// --peak-gflops adds each network's share of that peak, e.g. 224 for two AVX-512 cores at 3.5 GHz.
// Default models: full-size stand-ins (published shapes, random weights) in
// ${XDG_CACHE_HOME:-~/.cache}/balaitous/bench-models, made with tools/export-models on first use.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import fs from 'fs-extra';

import { readImageNode } from '@itk-wasm/image-io';

import { Balaitous, readManifest, setLogLevel } from '../dist/src/index.js';
import { findReorientation } from '../dist/src/steps/reorient.js';
import { resampledSize } from '../dist/src/steps/resample.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'balaitous');

const { values } = parseArgs({
  options: {
    scan: { type: 'string', default: path.join(root, '..', 'shared', 'data', 'ct', 'ricord1a-419639-000082.mha') },
    models: { type: 'string' },
    runs: { type: 'string', default: '3' },
    device: { type: 'string', default: 'auto' },
    precision: { type: 'string', default: 'fp32' },
    threads: { type: 'string' },
    'peak-gflops': { type: 'string' },
    json: { type: 'string' },
  },
});

/** Makes the full-size stand-in models once: random weights of the published shapes, with int8 variants. */
function ensureFullSizeModels() {
  const models = path.join(cache, 'bench-models');
  if (existsSync(path.join(models, 'manifest.json'))) return models;
  const source = path.join(cache, 'bench-source');
  const exporter = path.join(root, 'tools', 'export-models');
  const heads = path.join(root, '..', 'shared', 'weights', 'balaitous.npz');
  process.stderr.write(`bench: making full-size stand-in models in ${models} (about a minute, 7 GB of memory)\n`);
  for (const args of [['--make-random', '--heads', heads, source], [source, models, '--int8', '--name', 'full-size-random']]) {
    const result = spawnSync(exporter, args, { stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`tools/export-models ${args.join(' ')} failed`);
  }
  return models;
}

/**
 * Floating-point operations of lungmask's U-Net on one square slice of `size` pixels, counting a
 * multiply-add as 2 and leaving out biases, normalisation, activations and pooling. `wf` and
 * `depth` are the manifest's: 2^wf filters in the first level, doubling at each of `depth` levels.
 */
function unetFlops({ wf, depth }, size = 256, classes = 3) {
  const width = (level) => 2 ** (wf + level);
  const pixels = (level) => (size / 2 ** level) ** 2;
  let macs = 0;
  for (let level = 0; level < depth; level++) {
    const input = level === 0 ? 1 : width(level - 1);
    macs += pixels(level) * 9 * (input * width(level) + width(level) * width(level));
  }
  for (let level = depth - 2; level >= 0; level--) {
    // Upsampling, a 1 × 1 convolution to width(level), then two 3 × 3 convolutions on the
    // concatenation with the skip connection (2 × width(level) = width(level + 1) channels).
    macs += pixels(level) * width(level + 1) * width(level);
    macs += pixels(level) * 9 * (width(level + 1) * width(level) + width(level) * width(level));
  }
  macs += pixels(0) * width(0) * classes;
  return 2 * macs;
}

/**
 * Floating-point operations of a ViT on one image of `size` pixels with `blocks` blocks: the patch
 * embedding, then per block the QKV, attention, projection and MLP products (MLP ratio 4). With
 * `classTokenOnly`, the last block computes the keys and values of every token but the rest for
 * the class token alone, as tools/export-models writes it (manifest `lastBlockClassTokenOnly`).
 */
function vitFlops({ embed_dim: width, patch_size: patch }, blocks, classTokenOnly, size = 224, channels = 3) {
  const patches = (size / patch) ** 2;
  const tokens = patches + 1;
  const blockMacs = (queries) =>
    queries * width * width + tokens * width * 2 * width + 2 * queries * tokens * width + queries * width * width + 2 * queries * width * 4 * width;
  const lastBlock = classTokenOnly ? blockMacs(1) : blockMacs(tokens);
  return 2 * (patches * channels * patch * patch * width + (blocks - 1) * blockMacs(tokens) + lastBlock);
}

/** Returns the number of slices the U-Net processes: the resampled depth, from the scan's header. */
async function resampledDepth(file) {
  const header = await readImageNode(file, { informationOnly: true });
  const { axisOf } = findReorientation(Array.from(header.direction), file);
  const size = axisOf.map((axis) => header.size[axis]);
  const spacing = axisOf.map((axis) => header.spacing[axis]);
  return resampledSize(size, spacing)[2];
}

const runs = Number(values.runs);
const models = values.models ?? ensureFullSizeModels();
setLogLevel('warn');
const manifest = await readManifest(models);
const unetSlices = await resampledDepth(values.scan);

const loadStart = performance.now();
const model = await Balaitous.load({ models, device: values.device, precision: values.precision, threads: values.threads ? Number(values.threads) : undefined });
const loadSeconds = (performance.now() - loadStart) / 1000;

const results = [];
for (let run = 0; run < runs; run++) {
  const loadAverage = os.loadavg()[0];
  const start = performance.now();
  const result = await model.predict(values.scan);
  const total = (performance.now() - start) / 1000;
  const stepsTotal = Object.values(result.timings).reduce((sum, seconds) => sum + seconds, 0);
  results.push({
    total,
    loadAverage,
    timings: {
      // Reading the scan comes before the first step and has no timing of its own.
      read_image_and_other: total - stepsTotal,
      // The parts of lung_mask come right after it.
      ...Object.fromEntries(Object.entries(result.timings).flatMap(([step, seconds]) => [
        [step, seconds],
        ...Object.entries(result.partTimings ?? {}).filter(([part]) => part.startsWith(`${step}_`)),
      ])),
    },
    providers: result.providers,
    covid: result.covid,
    severe: result.severe,
    keptSlices: result.sliceRange[1] - result.sliceRange[0],
  });
  process.stderr.write(`bench: run ${run + 1}/${runs}: ${results.at(-1).total.toFixed(2)} s (1-minute load average before it: ${loadAverage.toFixed(2)})\n`);
}
await model.dispose();

const median = (numbers) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const steps = Object.keys(results[0].timings);
const rows = steps.map((step) => {
  const times = results.map((result) => result.timings[step]);
  return { step, min: Math.min(...times), median: median(times) };
});
const totals = results.map((result) => result.total);

// Work of each network on this scan: the U-Net on every resampled slice, each ViT on every kept
// slice twice (as stored and flipped).
const config = manifest.config ?? {};
const vitWork = (entry, blocks) => {
  if (!config.vit) return undefined;
  const images = 2 * results[0].keptSlices;
  return { gflop: (images * vitFlops(config.vit, blocks, entry.lastBlockClassTokenOnly === true)) / 1e9, images };
};
const networkWork = {
  lung_mask_unet: config.unet ? { gflop: (unetSlices * unetFlops(config.unet)) / 1e9, images: unetSlices } : undefined,
  features_full: vitWork(manifest.files.vit_full, config.n_blocks_full),
  features_lung: vitWork(manifest.files.vit_lung, config.n_blocks_lung),
};
const peak = values['peak-gflops'] ? Number(values['peak-gflops']) : undefined;
const throughput = Object.entries(networkWork).flatMap(([step, work]) => {
  const row = rows.find((candidate) => candidate.step === step);
  if (work === undefined || row === undefined) return [];
  const gflops = work.gflop / row.min;
  return [{ step, images: work.images, gflop: work.gflop, gflopPerImage: work.gflop / work.images, gflops, ofPeak: peak ? gflops / peak : undefined }];
});
// Steps that are neither a network nor a step containing one.
const networkSteps = new Set(['lung_mask', 'lung_mask_unet', 'features_full', 'features_lung']);
const summary = {
  scan: values.scan,
  models,
  runs,
  precision: values.precision,
  providers: results[0].providers,
  threads: values.threads ? Number(values.threads) : os.availableParallelism(),
  cpu: os.cpus()[0]?.model,
  loadSeconds,
  loadAverages: results.map((result) => result.loadAverage),
  steps: rows,
  endToEnd: { min: Math.min(...totals), median: median(totals) },
  endToEndWithLoading: Math.min(...totals) + loadSeconds,
  // The pipeline's own work, the lung mask's pre- and postprocessing included.
  nonNetworkSeconds: rows.filter((row) => !networkSteps.has(row.step)).reduce((sum, row) => sum + row.min, 0),
  networks: throughput,
  peakGflops: peak,
  peakRssMiB: process.resourceUsage().maxRSS / 1024,
  covid: results[0].covid,
  severe: results[0].severe,
};

const line = (label, min, med) => `${label.padEnd(22)} ${min.toFixed(3).padStart(9)} ${med.toFixed(3).padStart(9)}`;
process.stdout.write(`scan      ${summary.scan}\nmodels    ${models} (${summary.precision})\nproviders ${JSON.stringify(summary.providers)}  threads ${summary.threads}  cpu ${summary.cpu}\n\n`);
process.stdout.write(`${'step'.padEnd(22)} ${'min (s)'.padStart(9)} ${'median (s)'.padStart(9)}\n`);
for (const row of rows) process.stdout.write(`${line(row.step, row.min, row.median)}\n`);
process.stdout.write(`${line('end to end', summary.endToEnd.min, summary.endToEnd.median)}\n`);
process.stdout.write(`${'model loading'.padEnd(22)} ${loadSeconds.toFixed(3).padStart(9)}\n`);
process.stdout.write(`${'with loading'.padEnd(22)} ${summary.endToEndWithLoading.toFixed(3).padStart(9)}\n`);
process.stdout.write(`${'outside the networks'.padEnd(22)} ${summary.nonNetworkSeconds.toFixed(3).padStart(9)}  (reading included; lung_mask_unet, features_* excluded)\n`);
process.stdout.write(`${'peak RSS (MiB)'.padEnd(22)} ${summary.peakRssMiB.toFixed(0).padStart(9)}\n\n`);
process.stdout.write(`${'network'.padEnd(22)} ${'images'.padStart(7)} ${'GFLOP/image'.padStart(12)} ${'GFLOP/s'.padStart(9)}${peak ? ' of peak'.padStart(9) : ''}\n`);
for (const row of throughput) {
  const share = row.ofPeak === undefined ? '' : `${(100 * row.ofPeak).toFixed(0)}%`.padStart(9);
  process.stdout.write(`${row.step.padEnd(22)} ${String(row.images).padStart(7)} ${row.gflopPerImage.toFixed(1).padStart(12)} ${row.gflops.toFixed(1).padStart(9)}${share}\n`);
}
if (summary.precision !== 'fp32') {
  process.stdout.write(`(${summary.precision}: GFLOP/s counts the operations of the float32 networks)\n`);
}
process.stdout.write(`load average before each run: ${summary.loadAverages.map((value) => value.toFixed(2)).join(', ')}\n\n`);
process.stdout.write(`${JSON.stringify(summary)}\n`);
if (values.json) await fs.outputJson(values.json, summary, { spaces: 2 });
