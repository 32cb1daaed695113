/**
 * Models directories: where they are looked up, their manifest, hash verification and loading.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import fs from 'fs-extra';

import { type ModelSession, type SessionOptions, openSession } from './backend/onnx.js';
import { log } from './log.js';
import { type HeadWeights, checkHeadWeights } from './steps/heads.js';

export const MODEL_NAMES = ['lungmask', 'vit_full', 'vit_lung', 'heads'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** Root of the installed package (the folder that holds package.json). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Environment variable that names a models directory. */
export const MODELS_ENV = 'BALAITOUS_MODELS';

export interface TensorInfo {
  name: string;
  type: string;
  shape: (number | string)[];
}

export interface ManifestEntry {
  /** File name, relative to the models directory. */
  path: string;
  sha256: string;
  bytes?: number;
  inputs?: TensorInfo[];
  outputs?: TensorInfo[];
  /** Transformer blocks kept, for the feature extractors. */
  blocks?: number;
}

export interface Manifest {
  format: number;
  name: string;
  description?: string;
  /** True only for models exported from the published Balaitous checkpoints. */
  published?: boolean;
  config?: unknown;
  files: Record<ModelName, ManifestEntry>;
}

/** The places searched for a models directory, in order. */
export function modelsSearchPath(explicit?: string): { dir: string; source: string }[] {
  const cacheHome = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  const candidates = [
    { dir: path.join(PACKAGE_ROOT, 'models'), source: 'package models/' },
    { dir: path.join(cacheHome, 'balaitous', 'models'), source: 'user cache' },
  ];
  if (process.env[MODELS_ENV]) {
    candidates.unshift({ dir: path.resolve(process.env[MODELS_ENV]!), source: `$${MODELS_ENV}` });
  }
  if (explicit !== undefined) {
    candidates.unshift({ dir: path.resolve(explicit), source: '--models' });
  }
  return candidates;
}

/**
 * Finds the models directory: `explicit` when given (it must hold a manifest), else the first
 * place of `modelsSearchPath` that holds `manifest.json`.
 */
export async function findModelsDir(explicit?: string): Promise<string> {
  if (explicit !== undefined) {
    const dir = path.resolve(explicit);
    if (!(await fs.pathExists(path.join(dir, 'manifest.json')))) {
      throw new Error(`${dir}: not a models directory (manifest.json not found)`);
    }
    return dir;
  }
  const candidates = modelsSearchPath();
  for (const { dir } of candidates) {
    if (await fs.pathExists(path.join(dir, 'manifest.json'))) return dir;
  }
  throw new Error(
    `no models installed (looked in ${candidates.map(({ dir }) => dir).join(', ')}). ` +
      `Install the published models (see the README, "Models"), or pass --models DIR; the test models are in test/fixtures/models.`,
  );
}

export async function readManifest(dir: string): Promise<Manifest> {
  const file = path.join(dir, 'manifest.json');
  let manifest: Manifest;
  try {
    manifest = await fs.readJson(file);
  } catch (error) {
    throw new Error(`${file}: cannot be read as JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  for (const name of MODEL_NAMES) {
    const entry = manifest.files?.[name];
    if (typeof entry?.path !== 'string' || typeof entry.sha256 !== 'string') {
      throw new Error(`${file}: entry files.${name} with path and sha256 is missing`);
    }
  }
  return manifest;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Checks every file of a models directory against its manifest; returns one line per problem. */
export async function verifyModelsDir(dir: string, manifest?: Manifest): Promise<string[]> {
  manifest ??= await readManifest(dir);
  const problems: string[] = [];
  for (const name of MODEL_NAMES) {
    const entry = manifest.files[name];
    const file = path.join(dir, entry.path);
    if (!(await fs.pathExists(file))) {
      problems.push(`${file}: missing (listed in the manifest as ${name})`);
      continue;
    }
    const digest = await sha256File(file);
    if (digest !== entry.sha256) {
      problems.push(`${file}: sha256 ${digest} does not match the manifest's ${entry.sha256}`);
    }
  }
  return problems;
}

export interface LoadedModels {
  dir: string;
  manifest: Manifest;
  heads: HeadWeights;
  unet: ModelSession;
  vitFull: ModelSession;
  vitLung: ModelSession;
}

export interface LoadModelsOptions extends SessionOptions {
  /** Models directory; default: the first of `modelsSearchPath()` that holds a manifest. */
  models?: string;
}

/** Finds, verifies and opens a models directory; a file that does not match its manifest is an error. */
export async function loadModels(options: LoadModelsOptions = {}): Promise<LoadedModels> {
  const dir = await findModelsDir(options.models);
  const manifest = await readManifest(dir);
  const problems = await verifyModelsDir(dir, manifest);
  if (problems.length > 0) {
    throw new Error(`models directory ${dir} does not match its manifest:\n  ${problems.join('\n  ')}`);
  }
  if (manifest.published !== true) {
    log.warn(`TEST MODELS in use (${manifest.name}, ${dir}): their outputs mean nothing medically. Install the published models for real predictions.`);
  }

  const headsFile = path.join(dir, manifest.files.heads.path);
  const heads: HeadWeights = await fs.readJson(headsFile);
  checkHeadWeights(heads, headsFile);

  const file = (name: ModelName) => path.join(dir, manifest.files[name].path);
  const unet = await openSession('lungmask', file('lungmask'), options);
  const vitFull = await openSession('vit_full', file('vit_full'), options);
  const vitLung = await openSession('vit_lung', file('vit_lung'), options);
  return { dir, manifest, heads, unet, vitFull, vitLung };
}

export async function releaseModels(models: LoadedModels): Promise<void> {
  await Promise.all([models.unet.release(), models.vitFull.release(), models.vitLung.release()]);
}
