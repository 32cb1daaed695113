/**
 * Regenerates the deterministic check batches that `tools/export-models --write-check` describes,
 * bit for bit: phantom slices are integer HU arithmetic and noise slices a 32-bit integer hash,
 * each value computed in float64 and rounded once to float32, as the Python side does.
 */
import { createHash } from 'node:crypto';

export interface PhantomSlice {
  kind: 'phantom';
  /** Ellipse `[cy, cx, ry, rx]` in pixels. */
  body: [number, number, number, number];
  lungs: Array<[number, number, number, number]>;
  huAir: number;
  huBody: number;
  huLung: number;
  /** `[rowStep, colStep, modulus]`: stripes of `(rowStep·y + colStep·x) mod modulus`, centred on 0. */
  texture: [number, number, number];
}

export interface NoiseSlice {
  kind: 'noise';
  seed: number;
  min: number;
  max: number;
}

export interface CheckInput {
  shape: [number, number, number, number];
  /** Phantom values become `((hu + offset) / divisor - mean[c]) / std[c]`. */
  normalization: { offset: number; divisor: number; mean: number[]; std: number[] };
  slices: Array<PhantomSlice | NoiseSlice>;
  /** SHA-256 of the batch as little-endian float32 bytes. */
  sha256: string;
}

// 2**32 divided by the golden ratio, and the multipliers of a 32-bit finalising hash.
const SEED_MULTIPLIER = 0x9e3779b9;
const MIX_1 = 0x85ebca6b;
const MIX_2 = 0xc2b2ae35;
const TWO_TO_32 = 4294967296;

function insideEllipse(y: number, x: number, [cy, cx, ry, rx]: readonly number[]): boolean {
  // Integers below 2**53, so exact, as in the Python generator.
  return (y - cy) ** 2 * rx ** 2 + (x - cx) ** 2 * ry ** 2 <= ry ** 2 * rx ** 2;
}

export function phantomHu(height: number, width: number, slice: PhantomSlice): Int32Array {
  const [rowStep, colStep, modulus] = slice.texture;
  const centre = Math.floor((modulus - 1) / 2);
  const hu = new Int32Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const texture = ((rowStep * y + colStep * x) % modulus) - centre;
      let value = slice.huAir;
      if (insideEllipse(y, x, slice.body)) {
        value = slice.huBody + texture;
      }
      if (slice.lungs.some((lung) => insideEllipse(y, x, lung))) {
        value = slice.huLung + texture;
      }
      hu[y * width + x] = value;
    }
  }
  return hu;
}

/** `count` values in [0, 1): the hash of `index + seed × SEED_MULTIPLIER` (mod 2**32), over 2**32. */
export function hashUniform(count: number, seed: number): Float64Array {
  const offset = Math.imul(seed, SEED_MULTIPLIER) >>> 0;
  const values = new Float64Array(count);
  for (let index = 0; index < count; index++) {
    let h = (index + offset) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, MIX_1);
    h ^= h >>> 13;
    h = Math.imul(h, MIX_2);
    h ^= h >>> 16;
    values[index] = (h >>> 0) / TWO_TO_32;
  }
  return values;
}

export function makeCheckBatch(input: CheckInput): Float32Array {
  const [batch, channels, height, width] = input.shape;
  const { offset, divisor, mean, std } = input.normalization;
  const sliceSize = channels * height * width;
  const planeSize = height * width;
  const out = new Float32Array(batch * sliceSize);
  input.slices.forEach((slice, index) => {
    const start = index * sliceSize;
    if (slice.kind === 'phantom') {
      const hu = phantomHu(height, width, slice);
      for (let channel = 0; channel < channels; channel++) {
        for (let pixel = 0; pixel < planeSize; pixel++) {
          out[start + channel * planeSize + pixel] = ((hu[pixel] + offset) / divisor - mean[channel]) / std[channel];
        }
      }
    } else {
      const uniform = hashUniform(sliceSize, slice.seed);
      for (let i = 0; i < sliceSize; i++) {
        out[start + i] = slice.min + (slice.max - slice.min) * uniform[i];
      }
    }
  });
  return out;
}

export function sha256OfFloat32(values: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex');
}

/** Expands `[[label, count], ...]` into a flat label array. */
export function decodeRunLength(runs: ReadonlyArray<readonly [number, number]>): Uint8Array {
  const total = runs.reduce((sum, [, count]) => sum + count, 0);
  const labels = new Uint8Array(total);
  let position = 0;
  for (const [label, count] of runs) {
    labels.fill(label, position, position + count);
    position += count;
  }
  return labels;
}
