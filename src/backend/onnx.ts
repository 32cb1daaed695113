/**
 * ONNX Runtime sessions: the only module that imports onnxruntime-node.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import * as ort from 'onnxruntime-node';

import { log } from '../log.js';

export const DEVICES = ['auto', 'cpu', 'cuda', 'webgpu'] as const;
export type Device = (typeof DEVICES)[number];
/** An execution provider that actually ran a model. */
export type Provider = Exclude<Device, 'auto'>;

export interface SessionOptions {
  /** Where to run: `auto` takes CUDA when it loads, else the CPU. Default `auto`. */
  device?: Device;
  /** Threads for the CPU provider. Default: the CPUs available to this process. */
  threads?: number;
}

/** A loaded network with one float32 input and one float32 output. */
export interface ModelSession {
  readonly name: string;
  readonly provider: Provider;
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

export function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Whether onnxruntime-node's CUDA provider library is installed. It is not bundled with the npm
 * package: its install script fetches it (ONNXRUNTIME_NODE_INSTALL=cuda12), as the Dockerfile does.
 */
export function cudaProviderInstalled(): boolean {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  const binaries = path.join(path.dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(path.join(binaries, 'libonnxruntime_providers_cuda.so'));
}

async function create(file: string, provider: Provider, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(file, {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
}

/**
 * Opens a model file. With `auto`, a CUDA provider that fails to load falls back to the CPU and
 * the log says so; an explicit device that fails to load is an error.
 */
export async function openSession(name: string, file: string, options: SessionOptions = {}): Promise<ModelSession> {
  const device = checkDevice(options.device ?? 'auto');
  const threads = options.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`invalid threads ${threads}: expected a positive integer`);
  }

  let provider: Provider = device === 'auto' ? 'cpu' : device;
  if (device === 'auto') {
    provider = cudaProviderInstalled() ? 'cuda' : 'cpu';
    if (provider === 'cpu') log.debug(`${name}: CUDA provider not installed, using the CPU`);
  }
  let session: ort.InferenceSession;
  try {
    session = await create(file, provider, threads);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    if (device === 'cpu' || (device === 'auto' && provider === 'cpu')) {
      throw new Error(`${file}: cannot be loaded by ONNX Runtime (${reason})`);
    }
    if (device !== 'auto') {
      throw new Error(`${name}: cannot run on ${device} (${reason}); use --device cpu or --device auto`);
    }
    log.warn(`${name}: the CUDA provider failed to load (${reason}); running on the CPU`);
    provider = 'cpu';
    session = await create(file, provider, threads);
  }
  log.info(`${name}: running on ${provider}${provider === 'cpu' ? ` with ${threads} thread(s)` : ''}`);

  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  return {
    name,
    provider,
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
