/**
 * Models directories: where they are looked up, their manifest, hash verification and loading.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import fs from 'fs-extra';

import { type ModelSession, type SessionOptions, openSession } from './backend/onnx.js';
import { sha256FilesInWorker } from './file-hash.js';
import { log } from './log.js';
import { checkModelSignature, expectedSignature } from './model-signature.js';
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

/** A file of a models directory with its checksum. */
export interface FileEntry {
  /** File name, relative to the models directory. */
  path: string;
  sha256: string;
  bytes?: number;
  /** The tensors of an ONNX model over 2 GiB, stored beside it in another file. */
  externalData?: FileEntry;
}

/** Numeric precisions of the networks: `fp32` is the exported model, the others its manifest variants. */
/** `int8` quantises the ViTs' MatMul weights for CPUs (the U-Net stays float32); see the README. */
export const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];
// NOTE: fp32 stays the default on GPUs too until the fp16 differences have been measured on one
// (npm run check:gpu prints them); on the CPU fp16 is slower and not more exact.
export const DEFAULT_PRECISION: Precision = 'fp32';

export function checkPrecision(precision: string, parameter = 'precision'): Precision {
  if (!(PRECISIONS as readonly string[]).includes(precision)) {
    throw new RangeError(`invalid ${parameter} ${JSON.stringify(precision)}: expected one of ${PRECISIONS.join(', ')}`);
  }
  return precision as Precision;
}

export interface ManifestEntry extends FileEntry {
  /** Other precisions of the same network (e.g. `fp16`), with the same float32 inputs and outputs. */
  variants?: Partial<Record<Exclude<Precision, 'fp32'>, FileEntry>>;
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
      throw new Error(`${dir}: not a models directory (manifest.json not found); pass a folder written by tools/install-models or tools/export-models`);
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

export { sha256File } from './file-hash.js';

/** A file listed in a manifest. */
export interface ListedFile {
  name: ModelName;
  /** `fp32` for the exported model and the heads, else the variant's precision. */
  precision: string;
  /** How the manifest lists the file, for messages, e.g. `vit_full fp16 external data`. */
  role: string;
  entry: FileEntry;
}

/** Every file that a manifest lists: the models, their external data and their variants. */
export function manifestFiles(manifest: Manifest): ListedFile[] {
  const files: ListedFile[] = [];
  const add = (name: ModelName, precision: string, entry: FileEntry) => {
    const role = precision === 'fp32' ? name : `${name} ${precision}`;
    files.push({ name, precision, role, entry });
    if (entry.externalData !== undefined) {
      files.push({ name, precision, role: `${role} external data`, entry: entry.externalData });
    }
  };
  for (const name of MODEL_NAMES) {
    const entry = manifest.files[name];
    add(name, 'fp32', entry);
    for (const [precision, variant] of Object.entries(entry.variants ?? {})) {
      if (variant !== undefined) add(name, precision, variant);
    }
  }
  return files;
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Checks the files of a models directory against its manifest: every model, its external data
 * and its variants; with `precision`, only the files that precision loads besides the heads.
 * Returns one line per problem. The files are hashed on a worker thread, so the caller can do
 * other work, such as creating sessions, while the promise is pending.
 */
export async function verifyModelsDir(dir: string, manifest?: Manifest, precision?: Precision): Promise<string[]> {
  manifest ??= await readManifest(dir);
  // One outcome per listed file, in manifest order: a problem found already, or a file to hash.
  const outcomes: Array<{ problem: string } | { file: string; size: number; role: string; entry: FileEntry }> = [];
  for (const { name, precision: filePrecision, role, entry } of manifestFiles(manifest)) {
    if (precision !== undefined && name !== 'heads' && filePrecision !== precision) continue;
    if (typeof entry.path !== 'string' || typeof entry.sha256 !== 'string') {
      outcomes.push({ problem: `${path.join(dir, 'manifest.json')}: the entry of ${role} needs a path and a sha256` });
      continue;
    }
    const file = path.join(dir, entry.path);
    // Synchronous, so that the hashing worker starts within this call, before the caller goes on.
    const stats = statOrUndefined(file);
    if (stats === undefined) {
      outcomes.push({ problem: `${file}: missing (listed in the manifest as ${role})` });
      continue;
    }
    outcomes.push({ file, size: stats.size, role, entry });
  }

  const toHash = outcomes.flatMap((outcome) => ('file' in outcome ? [outcome.file] : []));
  const digests = await sha256FilesInWorker(toHash);
  const problems: string[] = [];
  let hashed = 0;
  for (const outcome of outcomes) {
    if ('problem' in outcome) {
      problems.push(outcome.problem);
      continue;
    }
    const { file, size, role, entry } = outcome;
    const digest = digests[hashed++];
    if (digest !== entry.sha256) {
      const sizeNote = entry.bytes !== undefined && size !== entry.bytes ? `, ${size} bytes instead of ${entry.bytes}` : '';
      problems.push(`${file}: sha256 ${digest} does not match the manifest's ${entry.sha256} (${role}${sizeNote})`);
    }
  }
  return problems;
}

/** The file of network `name` at `precision`: the exported model or one of its variants. */
export function modelFile(dir: string, manifest: Manifest, name: Exclude<ModelName, 'heads'>, precision: Precision): string {
  const entry = manifest.files[name];
  if (precision === 'fp32') return path.join(dir, entry.path);
  const variant = entry.variants?.[precision];
  if (variant === undefined) {
    throw new Error(
      `${path.join(dir, 'manifest.json')}: no ${precision} variant of ${name}; ` +
        `export the models again with 'tools/export-models --${precision}' (tools/install-models does), or use --precision fp32`,
    );
  }
  return path.join(dir, variant.path);
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
  /** Precision of the networks, `fp32` or a variant the manifest lists. Default `fp32`. */
  precision?: Precision;
}

/** Finds, verifies and opens a models directory; a file that does not match its manifest is an error. */
export async function loadModels(options: LoadModelsOptions = {}): Promise<LoadedModels> {
  const dir = await findModelsDir(options.models);
  const manifest = await readManifest(dir);
  const precision = checkPrecision(options.precision ?? DEFAULT_PRECISION);
  const files = {
    lungmask: modelFile(dir, manifest, 'lungmask', precision),
    vit_full: modelFile(dir, manifest, 'vit_full', precision),
    vit_lung: modelFile(dir, manifest, 'vit_lung', precision),
  };
  // Only the files this precision loads are hashed, so that a run does not read unused variants.
  // The hashing runs on a worker thread while the sessions are created, and a mismatch is
  // reported before any error that ONNX Runtime raised on the same files.
  // The promise never rejects, so that a failure is not left unhandled while the sessions load.
  const verification = verifyModelsDir(dir, manifest, precision).then(
    (problems) => ({ problems, failure: undefined }),
    (failure: unknown) => ({ problems: [] as string[], failure }),
  );
  const mismatch = (problems: string[]) => new Error(`models directory ${dir} does not match its manifest:\n  ${problems.join('\n  ')}`);

  let loaded: LoadedModels;
  try {
    loaded = await openModels(dir, manifest, files, options);
  } catch (error) {
    const { problems } = await verification;
    throw problems.length > 0 ? mismatch(problems) : error;
  }
  const { problems, failure } = await verification;
  if (failure !== undefined || problems.length > 0) {
    await releaseModels(loaded);
    throw failure ?? mismatch(problems);
  }
  return loaded;
}

/** Reads the heads and opens the three networks of a models directory whose files are being verified. */
async function openModels(dir: string, manifest: Manifest, files: Record<Exclude<ModelName, 'heads'>, string>, options: LoadModelsOptions): Promise<LoadedModels> {
  const precision = checkPrecision(options.precision ?? DEFAULT_PRECISION);
  if (manifest.published !== true) {
    log.warn(`TEST MODELS in use (${manifest.name}, ${dir}): their outputs mean nothing medically. Install the published models for real predictions.`);
  }

  const headsFile = path.join(dir, manifest.files.heads.path);
  const heads: HeadWeights = await fs.readJson(headsFile);
  checkHeadWeights(heads, headsFile);

  if (precision !== 'fp32') log.info(`networks in ${precision}: ${Object.values(files).map((file) => path.basename(file)).join(', ')}`);
  const unet = await openSession('lungmask', files.lungmask, options);
  const vitFull = await openSession('vit_full', files.vit_full, options);
  const vitLung = await openSession('vit_lung', files.vit_lung, options);
  if (precision === 'int8' && vitFull.provider !== 'cpu') {
    // ONNX Runtime runs on the CPU any node that the GPU provider has no kernel for.
    log.warn(`the int8 networks were made and measured for the CPU; on ${vitFull.provider}, nodes without a GPU kernel run on the CPU. Use --precision fp32 or fp16 on a GPU`);
  }
  const loaded = { dir, manifest, heads, unet, vitFull, vitLung };
  try {
    for (const session of [unet, vitFull, vitLung]) {
      const name = session.name as keyof typeof files;
      checkModelSignature(session, files[name], manifest.files[name], expectedSignature(name, heads.features));
    }
  } catch (error) {
    await releaseModels(loaded);
    throw error;
  }
  return loaded;
}

export async function releaseModels(models: LoadedModels): Promise<void> {
  await Promise.all([models.unet.release(), models.vitFull.release(), models.vitLung.release()]);
}
