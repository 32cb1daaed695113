/**
 * Parity of the exported ONNX models with PyTorch: runs the check batch stored by
 * `tools/export-models --write-check` through ONNX Runtime and compares with the PyTorch outputs
 * stored beside it. BALAITOUS_PARITY_DIR selects another export folder holding manifest.json and
 * check.json (default: test/fixtures/models).
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as ort from 'onnxruntime-node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { type CheckInput, decodeRunLength, makeCheckBatch, sha256OfFloat32 } from './helpers/check-batch.js';

const REPOSITORY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODELS_DIR = path.resolve(process.env.BALAITOUS_PARITY_DIR || path.join(REPOSITORY, 'test', 'fixtures', 'models'));

// ONNX Runtime may order and fuse float32 operations differently from PyTorch.
const RELATIVE_TOLERANCE = 1e-4;
// U-Net labels may differ only where the two classes' scores are this close.
const LABEL_TIE_TOLERANCE = 1e-5;

interface TensorDescription {
  name: string;
  type: string;
  shape: Array<number | string>;
}

interface FileEntry {
  path: string;
  sha256: string;
  bytes: number;
  inputs?: TensorDescription[];
  outputs?: TensorDescription[];
  externalData?: FileEntry;
  variants?: { fp16?: FileEntry };
}

interface Manifest {
  format: number;
  files: Record<'lungmask' | 'vit_full' | 'vit_lung' | 'heads', FileEntry>;
}

interface Check {
  models: {
    lungmask: {
      input: CheckInput;
      scoreSample: { start: number; step: number; values: number[][][][] };
      labels: Array<Array<[number, number]>>;
    };
    vit_full: { input: CheckInput; features: number[][] };
    vit_lung: { input: CheckInput; features: number[][] };
  };
}

const manifest = JSON.parse(readFileSync(path.join(MODELS_DIR, 'manifest.json'), 'utf8')) as Manifest;
const check = JSON.parse(readFileSync(path.join(MODELS_DIR, 'check.json'), 'utf8')) as Check;

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

async function runModel(role: 'lungmask' | 'vit_full' | 'vit_lung', input: Float32Array, shape: number[], precision: 'fp32' | 'fp16' = 'fp32') {
  const entry = precision === 'fp32' ? manifest.files[role] : manifest.files[role].variants!.fp16!;
  const session = await ort.InferenceSession.create(path.join(MODELS_DIR, entry.path));
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, shape) };
    const results = await session.run(feeds);
    const output = results[session.outputNames[0]];
    return { data: output.data as Float32Array, dims: [...output.dims] };
  } finally {
    await session.release();
  }
}

function describeMax(label: string, maxAbsolute: number, maxRelative: number): void {
  console.log(`  ${path.basename(MODELS_DIR)} ${label}: max |Δ| ${maxAbsolute.toExponential(3)}, ` +
    `max |Δ| / max(1, |PyTorch|) ${maxRelative.toExponential(3)}`);
}

test('manifest sha256 and sizes match files', async () => {
  assert.is(manifest.format, 1);
  const withVariants = Object.values(manifest.files).flatMap((entry) => (entry.variants?.fp16 ? [entry, entry.variants.fp16] : [entry]));
  const entries = withVariants.flatMap((entry) => (entry.externalData ? [entry, entry.externalData] : [entry]));
  for (const entry of entries) {
    const file = path.join(MODELS_DIR, entry.path);
    assert.is(await sha256OfFile(file), entry.sha256, `sha256 of ${entry.path}`);
    assert.is(readFileSync(file).byteLength, entry.bytes, `size of ${entry.path}`);
  }
});

test('sessions have the manifest inputs and outputs', async () => {
  for (const role of ['lungmask', 'vit_full', 'vit_lung'] as const) {
    const entry = manifest.files[role];
    const session = await ort.InferenceSession.create(path.join(MODELS_DIR, entry.path));
    const strip = (values: readonly ort.InferenceSession.ValueMetadata[]) =>
      values.map((value) => (value.isTensor ? { name: value.name, type: value.type, shape: [...value.shape] } : value));
    assert.equal(strip(session.inputMetadata), entry.inputs, `${role} inputs`);
    assert.equal(strip(session.outputMetadata), entry.outputs, `${role} outputs`);
    await session.release();
  }
});

test('check batches regenerate bit for bit', () => {
  for (const role of ['lungmask', 'vit_full', 'vit_lung'] as const) {
    const input = check.models[role].input;
    assert.is(sha256OfFloat32(makeCheckBatch(input)), input.sha256, `${role} check batch`);
  }
});

test('lungmask scores and labels match PyTorch', async () => {
  const expected = check.models.lungmask;
  const shape = expected.input.shape;
  const [batch, , height, width] = shape;
  const { data, dims } = await runModel('lungmask', makeCheckBatch(expected.input), shape);
  const classes = manifest.files.lungmask.outputs![0].shape[1] as number;
  assert.equal(dims, [batch, classes, height, width]);

  const plane = height * width;
  const score = (n: number, c: number, pixel: number) => data[(n * classes + c) * plane + pixel];
  const { start, step, values } = expected.scoreSample;
  let maxAbsolute = 0;
  let maxRelative = 0;
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < classes; c++) {
      values[n][c].forEach((row, i) => {
        row.forEach((reference, j) => {
          const difference = Math.abs(score(n, c, (start + i * step) * width + start + j * step) - reference);
          maxAbsolute = Math.max(maxAbsolute, difference);
          maxRelative = Math.max(maxRelative, difference / Math.max(1, Math.abs(reference)));
        });
      });
    }
  }
  describeMax('lungmask scores (sampled)', maxAbsolute, maxRelative);
  assert.ok(maxRelative <= RELATIVE_TOLERANCE, `lungmask scores differ by ${maxRelative} (relative)`);

  let changed = 0;
  let tied = 0;
  for (let n = 0; n < batch; n++) {
    const labels = decodeRunLength(expected.labels[n]);
    assert.is(labels.length, plane, `label count of slice ${n}`);
    for (let pixel = 0; pixel < plane; pixel++) {
      let best = 0;
      for (let c = 1; c < classes; c++) {
        if (score(n, c, pixel) > score(n, best, pixel)) {
          best = c;
        }
      }
      if (best !== labels[pixel]) {
        const gap = Math.abs(score(n, best, pixel) - score(n, labels[pixel], pixel));
        if (gap <= LABEL_TIE_TOLERANCE) {
          tied++;
        } else {
          changed++;
        }
      }
    }
  }
  console.log(`  ${path.basename(MODELS_DIR)} lungmask labels: ${changed} differ, ${tied} differ within a tie`);
  assert.is(changed, 0, 'lungmask labels that differ from PyTorch beyond a tie');
});

for (const role of ['vit_full', 'vit_lung'] as const) {
  test(`${role} features match PyTorch`, async () => {
    const expected = check.models[role];
    const shape = expected.input.shape;
    const { data, dims } = await runModel(role, makeCheckBatch(expected.input), shape);
    const features = expected.features[0].length;
    assert.equal(dims, [shape[0], features]);

    let maxAbsolute = 0;
    let scale = 1;
    expected.features.forEach((vector, n) => {
      vector.forEach((reference, k) => {
        maxAbsolute = Math.max(maxAbsolute, Math.abs(data[n * features + k] - reference));
        scale = Math.max(scale, Math.abs(reference));
      });
    });
    describeMax(`${role} features`, maxAbsolute, maxAbsolute / scale);
    assert.ok(maxAbsolute <= RELATIVE_TOLERANCE * scale, `${role} features differ by ${maxAbsolute}`);
  });
}

// The float16 variants round weights and activations to 11 significant bits. On the CPU, ONNX
// Runtime runs their arithmetic in float32, so only the rounding of the weights and of some
// intermediate tensors shows here.
const FP16_FEATURE_TOLERANCE = 1e-2;
// U-Net labels may differ from PyTorch only where the float16 scores of the two classes are
// this close (log-probabilities). The full-size stand-ins measured at most 0.015.
const FP16_LABEL_TIE_TOLERANCE = 0.05;

test('fp16 lungmask labels match PyTorch', async () => {
  if (manifest.files.lungmask.variants?.fp16 === undefined) {
    console.log(`  skipped: ${path.basename(MODELS_DIR)} has no fp16 variants`);
    return;
  }
  const expected = check.models.lungmask;
  const [batch, , height, width] = expected.input.shape;
  const { data, dims } = await runModel('lungmask', makeCheckBatch(expected.input), expected.input.shape, 'fp16');
  const classes = dims[1];
  const plane = height * width;
  const score = (n: number, c: number, pixel: number) => data[(n * classes + c) * plane + pixel];
  let changed = 0;
  let tied = 0;
  for (let n = 0; n < batch; n++) {
    const labels = decodeRunLength(expected.labels[n]);
    for (let pixel = 0; pixel < plane; pixel++) {
      let best = 0;
      for (let c = 1; c < classes; c++) {
        if (score(n, c, pixel) > score(n, best, pixel)) best = c;
      }
      if (best === labels[pixel]) continue;
      if (score(n, best, pixel) - score(n, labels[pixel], pixel) <= FP16_LABEL_TIE_TOLERANCE) {
        tied++;
      } else {
        changed++;
      }
    }
  }
  console.log(`  ${path.basename(MODELS_DIR)} fp16 lungmask labels: ${changed} differ, ${tied} of ${batch * plane} differ within a tie`);
  assert.is(changed, 0, 'fp16 lungmask labels that differ from PyTorch beyond a tie');
});

for (const role of ['vit_full', 'vit_lung'] as const) {
  test(`fp16 ${role} features match PyTorch`, async () => {
    if (manifest.files[role].variants?.fp16 === undefined) {
      console.log(`  skipped: ${path.basename(MODELS_DIR)} has no fp16 variants`);
      return;
    }
    const expected = check.models[role];
    const { data } = await runModel(role, makeCheckBatch(expected.input), expected.input.shape, 'fp16');
    const features = expected.features[0].length;
    let maxAbsolute = 0;
    let scale = 1;
    expected.features.forEach((vector, n) => {
      vector.forEach((reference, k) => {
        maxAbsolute = Math.max(maxAbsolute, Math.abs(data[n * features + k] - reference));
        scale = Math.max(scale, Math.abs(reference));
      });
    });
    describeMax(`fp16 ${role} features`, maxAbsolute, maxAbsolute / scale);
    assert.ok(maxAbsolute <= FP16_FEATURE_TOLERANCE * scale, `${role} fp16 features differ by ${maxAbsolute}`);
  });
}

test.run();
