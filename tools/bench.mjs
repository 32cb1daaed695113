#!/usr/bin/env node
// Benchmarks the pipeline: per-step wall time (minimum and median over runs), end-to-end time,
// model loading, peak RSS, the providers and thread count, as a table on stdout and as JSON.
//
// Usage: npm run bench -- [--scan FILE] [--models DIR] [--runs N] [--device D] [--threads N] [--json FILE]
// Default models: full-size stand-ins (published shapes, random weights) in
// ${XDG_CACHE_HOME:-~/.cache}/balaitous/bench-models, made with tools/export-models on first use.
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

const { values } = parseArgs({
  options: {
    scan: { type: 'string', default: path.join(root, '..', 'shared', 'data', 'ct', 'ricord1a-419639-000082.mha') },
    models: { type: 'string' },
    runs: { type: 'string', default: '3' },
    device: { type: 'string', default: 'auto' },
    threads: { type: 'string' },
    json: { type: 'string' },
  },
});

/** Makes the full-size stand-in models once: random weights of the published shapes. */
function ensureFullSizeModels() {
  const models = path.join(cache, 'bench-models');
  if (existsSync(path.join(models, 'manifest.json'))) return models;
  const source = path.join(cache, 'bench-source');
  const exporter = path.join(root, 'tools', 'export-models');
  const heads = path.join(root, '..', 'shared', 'weights', 'balaitous.npz');
  process.stderr.write(`bench: making full-size stand-in models in ${models} (about a minute, 7 GB of memory)\n`);
  for (const args of [['--make-random', '--heads', heads, source], [source, models, '--name', 'full-size-random']]) {
    const result = spawnSync(exporter, args, { stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`tools/export-models ${args.join(' ')} failed`);
  }
  return models;
}

const runs = Number(values.runs);
const models = values.models ?? ensureFullSizeModels();
setLogLevel('warn');

const loadStart = performance.now();
const model = await Balaitous.load({ models, device: values.device, threads: values.threads ? Number(values.threads) : undefined });
const loadSeconds = (performance.now() - loadStart) / 1000;

const results = [];
for (let run = 0; run < runs; run++) {
  const start = performance.now();
  const result = await model.predict(values.scan);
  results.push({ total: (performance.now() - start) / 1000, timings: result.timings, providers: result.providers, covid: result.covid, severe: result.severe });
  process.stderr.write(`bench: run ${run + 1}/${runs}: ${results.at(-1).total.toFixed(2)} s\n`);
}
await model.dispose();

const median = (numbers) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const steps = Object.keys(results[0].timings);
const networkSteps = new Set(['lung_mask', 'features_full', 'features_lung']);
const rows = steps.map((step) => {
  const times = results.map((result) => result.timings[step]);
  return { step, min: Math.min(...times), median: median(times) };
});
const totals = results.map((result) => result.total);
const summary = {
  scan: values.scan,
  models,
  runs,
  providers: results[0].providers,
  threads: values.threads ? Number(values.threads) : os.availableParallelism(),
  cpu: os.cpus()[0]?.model,
  loadSeconds,
  steps: rows,
  endToEnd: { min: Math.min(...totals), median: median(totals) },
  endToEndWithLoading: Math.min(...totals) + loadSeconds,
  // lung_mask includes the U-Net; the other steps are the pipeline's own work.
  nonNetworkSeconds: rows.filter((row) => !networkSteps.has(row.step)).reduce((sum, row) => sum + row.min, 0),
  peakRssMiB: process.resourceUsage().maxRSS / 1024,
  covid: results[0].covid,
  severe: results[0].severe,
};

const line = (label, min, med) => `${label.padEnd(22)} ${min.toFixed(3).padStart(9)} ${med.toFixed(3).padStart(9)}`;
process.stdout.write(`scan      ${summary.scan}\nmodels    ${models}\nproviders ${JSON.stringify(summary.providers)}  threads ${summary.threads}  cpu ${summary.cpu}\n\n`);
process.stdout.write(`${'step'.padEnd(22)} ${'min (s)'.padStart(9)} ${'median (s)'.padStart(9)}\n`);
for (const row of rows) process.stdout.write(`${line(row.step, row.min, row.median)}\n`);
process.stdout.write(`${line('end to end', summary.endToEnd.min, summary.endToEnd.median)}\n`);
process.stdout.write(`${'model loading'.padEnd(22)} ${loadSeconds.toFixed(3).padStart(9)}\n`);
process.stdout.write(`${'steps outside networks'.padEnd(22)} ${summary.nonNetworkSeconds.toFixed(3).padStart(9)}  (lung_mask, features_* excluded)\n`);
process.stdout.write(`${'peak RSS (MiB)'.padEnd(22)} ${summary.peakRssMiB.toFixed(0).padStart(9)}\n\n`);
process.stdout.write(`${JSON.stringify(summary)}\n`);
if (values.json) await fs.outputJson(values.json, summary, { spaces: 2 });
