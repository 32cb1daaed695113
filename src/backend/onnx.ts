/**
 * ONNX Runtime sessions: the only module that imports onnxruntime-node.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import * as ort from 'onnxruntime-node';

import { type CgroupPaths, cgroupCpuLimit } from '../cgroup.js';
import { log } from '../log.js';

export const DEVICES = ['auto', 'cpu', 'cuda', 'webgpu'] as const;
export type Device = (typeof DEVICES)[number];
/** An execution provider that actually ran a model. */
export type Provider = Exclude<Device, 'auto'>;

export interface SessionOptions {
  /** Where to run: `auto` takes CUDA when its provider loads and finds a GPU, else the CPU. Default `auto`. */
  device?: Device;
  /** Threads for the CPU provider. Default: the CPUs available to this process. */
  threads?: number;
}

/** Name, element type and dimensions of a model input or output; a string dimension is symbolic. */
export interface TensorSignature {
  name: string;
  type: string;
  shape: (number | string)[];
}

/** A loaded network with one float32 input and one float32 output. */
export interface ModelSession {
  readonly name: string;
  readonly provider: Provider;
  /** The model's inputs and outputs, as the ONNX file declares them. */
  readonly inputs: TensorSignature[];
  readonly outputs: TensorSignature[];
  /** Runs the network on `input` of shape `dims`; returns the output's data and shape. */
  run(input: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }>;
  release(): Promise<void>;
}

export function checkDevice(device: string, parameter = 'device'): Device {
  if (!(DEVICES as readonly string[]).includes(device)) {
    throw new RangeError(`invalid ${parameter} ${JSON.stringify(device)}: expected one of ${DEVICES.join(', ')}`);
  }
  return device as Device;
}

/**
 * Threads for the CPU provider: the CPUs this process may run on, capped by the cgroup CPU quota
 * of a container. Node 20's os.availableParallelism() (libuv 1.46) counts the CPUs of the
 * affinity mask only, so in a container limited with `--cpus` it returns the host's count.
 */
export function defaultThreads(cgroup: CgroupPaths = {}): number {
  const available = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const limit = cgroupCpuLimit(cgroup);
  return limit === undefined ? available : Math.min(available, limit);
}

/** Folder of onnxruntime-node's native libraries for this platform. */
function nativeLibraryDir(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  return path.join(path.dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

const CUDA_PROVIDER_LIBRARY = 'libonnxruntime_providers_cuda.so';

/**
 * Whether onnxruntime-node's CUDA provider library is installed. It is not bundled with the npm
 * package: its install script fetches it (ONNXRUNTIME_NODE_INSTALL=cuda12), as the Dockerfile does.
 */
export function cudaProviderInstalled(): boolean {
  return existsSync(path.join(nativeLibraryDir(), CUDA_PROVIDER_LIBRARY));
}

/**
 * Shortens an ONNX Runtime error to its first line without the source location, e.g.
 * "Failed to get a WebGPU adapter: No supported adapters".
 */
export function describeRuntimeError(error: unknown): string {
  const [firstLine] = (error instanceof Error ? error.message : String(error)).trim().split('\n');
  const failedCheck = / was false\. (.+)$/.exec(firstLine);
  if (failedCheck) return failedCheck[1];
  return firstLine.replace(/^\S+\.(?:cc|cpp|h):\d+ \S+ /, '');
}

/** What the user can do when an explicit `device` cannot run, appended to the error. */
function deviceAdvice(device: Provider): string {
  switch (device) {
    case 'cuda':
      return 'the CUDA provider needs an NVIDIA GPU with CUDA 12 and cuDNN 9 libraries (the container image has them); use --device cpu or --device auto';
    case 'webgpu':
      return 'WebGPU needs a GPU whose driver Dawn can use (on Linux, Vulkan through libvulkan.so.1); use --device cpu or --device auto';
    default:
      return 'check that the file is an ONNX model exported by tools/export-models';
  }
}

/**
 * Why `auto` runs on the CPU, once known: the CUDA provider is not installed or failed to load.
 * Kept for the process, so that the second and third model do not try CUDA again.
 */
let autoCpuReason: string | undefined;

async function create(file: string, provider: Provider, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(file, {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
}

/**
 * Opens a model file and logs which provider runs it.
 *
 * `auto` tries CUDA when its provider library is installed, and uses the CPU when the library is
 * missing or CUDA fails to start (no GPU, driver or CUDA libraries): a warning gives the reason.
 * WebGPU is never chosen by `auto`. An explicit device that cannot run is an error.
 */
export async function openSession(name: string, file: string, options: SessionOptions = {}): Promise<ModelSession> {
  const device = checkDevice(options.device ?? 'auto');
  const threads = options.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`invalid threads ${threads}: expected a positive integer`);
  }
  if (device === 'cuda' && !cudaProviderInstalled()) {
    throw new Error(
      `${name}: cannot run on cuda: onnxruntime-node's CUDA provider (${CUDA_PROVIDER_LIBRARY}) is not installed in ${nativeLibraryDir()}. ` +
        `Install it with 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci' (it also needs an NVIDIA GPU, CUDA 12 and cuDNN 9, as in the container image), ` +
        `or use --device cpu or --device auto`,
    );
  }
  if (device === 'auto' && autoCpuReason === undefined && !cudaProviderInstalled()) {
    autoCpuReason = `onnxruntime-node's CUDA provider is not installed`;
  }

  let provider: Provider = device === 'auto' ? (autoCpuReason === undefined ? 'cuda' : 'cpu') : device;
  let session: ort.InferenceSession;
  try {
    session = await create(file, provider, threads);
  } catch (error) {
    const reason = describeRuntimeError(error);
    if (provider === 'cpu') {
      throw new Error(`${file}: cannot be loaded by ONNX Runtime (${reason}); ${deviceAdvice('cpu')}`);
    }
    if (device !== 'auto') {
      throw new Error(`${name}: cannot run on ${device} (${reason}); ${deviceAdvice(device)}`);
    }
    autoCpuReason = `the CUDA provider failed to start: ${reason}`;
    log.warn(`${name}: ${autoCpuReason}; running on the CPU`);
    provider = 'cpu';
    session = await create(file, provider, threads);
  }
  const detail = provider === 'cpu' ? ` with ${threads} thread(s)` : '';
  const why = device === 'auto' && provider === 'cpu' ? ` (device auto: ${autoCpuReason})` : ` (device ${device})`;
  log.info(`${name}: running on ${provider}${detail}${why}`);

  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  const signature = (metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] =>
    metadata.map((value) => (value.isTensor ? { name: value.name, type: value.type, shape: [...value.shape] } : { name: value.name, type: 'non-tensor', shape: [] }));
  return {
    name,
    provider,
    inputs: signature(session.inputMetadata),
    outputs: signature(session.outputMetadata),
    async run(input, dims) {
      const feeds = { [inputName]: new ort.Tensor('float32', input, dims) };
      let results;
      try {
        results = await session.run(feeds);
      } catch (error) {
        throw new Error(`${name}: inference failed on input float32 [${dims.join(', ')}] (${error instanceof Error ? error.message : String(error)})`);
      }
      const output = results[outputName];
      return { data: output.data as Float32Array, dims: [...output.dims] };
    },
    async release() {
      await session.release();
    },
  };
}
