/**
 * Inputs for the robustness tests, generated on the fly: hand-written MetaImage files, a small
 * synthetic chest phantom that the test U-Net segments, the same phantom stored with any
 * axis-aligned direction, and a runner for the command line.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import * as assert from 'uvu/assert';

import type { ComponentType, TypedArray, Vec3, Volume } from '../../src/volume.js';
import { allocateLike, arrayConstructorOf } from '../../src/volume.js';
import { REPO_ROOT } from '../helpers.js';

export const CLI = path.join(REPO_ROOT, 'bin', 'balaitous.js');

export async function temporaryDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-robustness-'));
}

/** Runs the command line; `nodeArguments` go before the script (e.g. `--import`). */
export function runCli(args: string[], options: { nodeArguments?: string[]; env?: NodeJS.ProcessEnv; wrapper?: string[] } = {}) {
  const command = [...(options.wrapper ?? []), process.execPath, ...(options.nodeArguments ?? []), CLI, ...args];
  const result = spawnSync(command[0], command.slice(1), { encoding: 'utf8', cwd: REPO_ROOT, env: options.env ?? process.env });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, signal: result.signal };
}

/** Lines of stderr that the logger did not write: stack frames, dumps, anything unexpected. */
export function foreignLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '' && !/^balaitous (debug|info|warn|error): /.test(line));
}

/** Builds MetaImage header text: `ObjectType = Image`, the given fields, then `ElementDataFile`. */
export function metaImageHeader(fields: Record<string, string>, elementDataFile = 'LOCAL', lineEnd = '\n'): string {
  const lines = Object.entries({ ObjectType: 'Image', ...fields, ElementDataFile: elementDataFile }).map(([key, value]) => `${key} = ${value}`);
  return lines.join(lineEnd) + lineEnd;
}

/** Writes a MetaImage by hand: header text followed by raw bytes, so that tests can write broken files. */
export async function writeMetaImage(file: string, fields: Record<string, string>, data: Uint8Array, lineEnd = '\n'): Promise<void> {
  await fs.writeFile(file, Buffer.concat([Buffer.from(metaImageHeader(fields, 'LOCAL', lineEnd), 'latin1'), data]));
}

/** Returns the bytes of int16 voxels, little-endian as MetaImage stores them by default. */
export function int16Bytes(values: Int16Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

export interface PhantomOptions {
  /** Voxels along x, y, z. Default 64 × 64 × 12. */
  size?: Vec3;
  /** mm. Default 5.5 × 5.5 × 5: the resampled volume has 12 slices of 234 × 234. */
  spacing?: Vec3;
  /** `two` lungs apart, `touching` at the midline, or `none` (soft tissue inside the body). Default `two`. */
  lungs?: 'two' | 'touching' | 'none';
  /** Half length of each lung along z, in mm. Default 28. */
  lungHalfLengthMm?: number;
  /** An air-filled ball in a thin plastic shell beside the body, outside it. Default false. */
  airOutsideBody?: boolean;
  /** HU outside the circular field of view, as scanners pad (e.g. -2048, -3024). Default: no padding. */
  paddingHu?: number;
  componentType?: ComponentType;
  /** Added to every voxel, to store values without the HU offset (e.g. 1024). Default 0. */
  offset?: number;
}

/** Park-Miller generator, so that every phantom is the same on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 48271) % 2147483647;
    return state / 2147483647;
  };
}

/**
 * A synthetic chest: air, an elliptic body of soft tissue under a fat layer, two lungs, a heart
 * and a spine, with a little noise; identity direction, centred on the origin. The test U-Net
 * finds its lungs. It is not a medical image.
 */
export function makePhantom(options: PhantomOptions = {}): Volume {
  const size = options.size ?? [64, 64, 12];
  const spacing = options.spacing ?? [5.5, 5.5, 5];
  const lungs = options.lungs ?? 'two';
  const halfLength = options.lungHalfLengthMm ?? 28;
  const componentType = options.componentType ?? 'int16';
  const offset = options.offset ?? 0;
  const next = random(20211);
  const Data = arrayConstructorOf(componentType);
  const data: TypedArray = new Data(size[0] * size[1] * size[2]);
  const fieldOfViewRadius = Math.min(size[0] * spacing[0], size[1] * spacing[1]) / 2;

  const inside = (point: number[], centre: number[], axes: number[]) =>
    point.reduce((sum, value, axis) => sum + ((value - centre[axis]) / axes[axis]) ** 2, 0) <= 1;
  // The lungs meet at the midline when touching: their medial edges overlap by a few mm.
  const lungCentreX = lungs === 'touching' ? 44 : 62;

  let index = 0;
  for (let k = 0; k < size[2]; k++) {
    for (let j = 0; j < size[1]; j++) {
      for (let i = 0; i < size[0]; i++, index++) {
        const point = [(i + 0.5 - size[0] / 2) * spacing[0], (j + 0.5 - size[1] / 2) * spacing[1], (k + 0.5 - size[2] / 2) * spacing[2]];
        const [x, y] = point;
        let value = -1000;
        const body = (x / 155) ** 2 + (y / 105) ** 2;
        if (body <= 1) value = body > 0.85 ? -100 : 40;
        if (lungs !== 'none' && (inside(point, [-lungCentreX, -5, 0], [48, 68, halfLength]) || inside(point, [lungCentreX, -5, 0], [45, 66, halfLength]))) {
          value = -850;
        }
        if (lungs !== 'touching' && inside(point, [12, -25, -5], [40, 36, halfLength * 0.6])) value = 45;
        if (Math.hypot(x, y - 75) <= 16) value = 700;
        if (options.airOutsideBody) {
          const ball = Math.hypot(x + 120, y + 120);
          if (ball <= 40) value = ball > 34 ? 100 : -950;
        }
        value += (next() - 0.5) * 20;
        if (options.paddingHu !== undefined && Math.hypot(x, y) > fieldOfViewRadius) value = options.paddingHu;
        data[index] = Math.round(value) + offset;
      }
    }
  }
  return {
    data,
    componentType,
    size: [...size],
    spacing: [...spacing],
    origin: [0, 1, 2].map((axis) => (-size[axis] / 2 + 0.5) * spacing[axis]) as Vec3,
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    metadata: new Map([['PatientAge', '058Y'], ['PatientSex', 'M']]),
  };
}

/**
 * Stores an identity-direction volume with an axis-aligned `direction` (row-major, entries 0 or
 * ±1), keeping every voxel at the same physical point: the same anatomy, another array layout.
 */
export function storeWithDirection(volume: Volume, direction: number[]): Volume {
  // Stored axis a runs along physical axis physicalOf[a], in the direction of signOf[a].
  const physicalOf = [0, 1, 2].map((a) => [0, 1, 2].find((p) => direction[3 * p + a] !== 0)!);
  const signOf = [0, 1, 2].map((a) => direction[3 * physicalOf[a] + a]);
  const size = physicalOf.map((p) => volume.size[p]) as Vec3;
  const spacing = physicalOf.map((p) => volume.spacing[p]) as Vec3;

  // Identity index of stored voxel (0, 0, 0) along each physical axis, then its position.
  const cornerIndex = [0, 0, 0];
  for (let a = 0; a < 3; a++) cornerIndex[physicalOf[a]] = signOf[a] > 0 ? 0 : volume.size[physicalOf[a]] - 1;
  const origin = [0, 1, 2].map((p) => volume.origin[p] + cornerIndex[p] * volume.spacing[p]) as Vec3;

  const stored = allocateLike(volume.data, volume.data.length);
  const [nx, ny] = volume.size;
  let output = 0;
  const index = [0, 0, 0];
  for (let c = 0; c < size[2]; c++) {
    for (let b = 0; b < size[1]; b++) {
      for (let a = 0; a < size[0]; a++) {
        const storedIndex = [a, b, c];
        for (let axis = 0; axis < 3; axis++) {
          const p = physicalOf[axis];
          index[p] = signOf[axis] > 0 ? storedIndex[axis] : volume.size[p] - 1 - storedIndex[axis];
        }
        stored[output++] = volume.data[index[0] + nx * (index[1] + ny * index[2])];
      }
    }
  }
  return { ...volume, data: stored, size, spacing, origin, direction: [...direction] };
}

/** Multiplies two 3 × 3 row-major matrices. */
export function multiply(a: number[], b: number[]): number[] {
  return Array.from({ length: 9 }, (_, i) => {
    const [row, column] = [Math.floor(i / 3), i % 3];
    return a[3 * row] * b[column] + a[3 * row + 1] * b[3 + column] + a[3 * row + 2] * b[6 + column];
  });
}

/** Rotation by `degrees` about the z axis, row-major. */
export function rotationZ(degrees: number): number[] {
  const radians = (degrees * Math.PI) / 180;
  const [c, s] = [Math.cos(radians), Math.sin(radians)];
  return [c, -s, 0, s, c, 0, 0, 0, 1];
}

/** Asserts that a value is a probability strictly between 0 and 1, as a scored scan gives. */
export function assertProbability(value: number, name: string): void {
  assert.ok(value > 0, `${name} = ${value}`);
  assert.ok(value < 1, `${name} = ${value}`);
}

/** Runs `task` with the logger's stderr lines collected rather than printed. */
export async function collectStderr<T>(task: () => Promise<T>): Promise<{ result?: T; error?: unknown; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stderr.write;
  try {
    return { result: await task(), stderr };
  } catch (error) {
    return { error, stderr };
  } finally {
    process.stderr.write = write;
  }
}
