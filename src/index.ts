/**
 * Library entry: `Balaitous.load()` then `model.predict(scan)`.
 */
import { setActiveScan } from './active-scan.js';
import { readVolumeInWorker } from './io/read-in-worker.js';
import { type LoadModelsOptions, type LoadedModels, loadModels, releaseModels } from './models.js';
import { PIPELINE_STEPS, type PipelineResult, type PredictOptions, type ScanHandle, runPipeline } from './pipeline.js';
import type { Volume } from './volume.js';

export { readVolume, writeVolume } from './io/image.js';
export { findModelsDir, modelsSearchPath, readManifest, verifyModelsDir } from './models.js';
export type { Manifest, LoadModelsOptions } from './models.js';
export { PIPELINE_STEPS } from './pipeline.js';
export type { Intermediates, PipelineResult, PipelineStep, PredictOptions, StepListener } from './pipeline.js';
export type { Volume, NdArray, Geometry } from './volume.js';
export { setLogLevel } from './log.js';
export { writeDebugDir } from './debug-dir.js';
export type { Explanation, HeadExplanation, SliceContribution, SlicePosition } from './steps/explain.js';
export { COMPROMISED_HU, WELL_AERATED_HU, measureLungs } from './steps/lung-measures.js';
export type { LungMeasures } from './steps/lung-measures.js';

export class Balaitous {
  private constructor(private readonly models: LoadedModels) {}

  /** Loads and verifies a models directory and opens its three networks. */
  static async load(options: LoadModelsOptions = {}): Promise<Balaitous> {
    return new Balaitous(await loadModels(options));
  }

  /** Models directory in use. */
  get modelsDir(): string {
    return this.models.dir;
  }

  /** Name of the models in use, from their manifest. */
  get modelsName(): string {
    return this.models.manifest.name;
  }

  /** Whether the models in use were exported from the published checkpoints (`published: true` in their manifest). */
  get modelsPublished(): boolean {
    return this.models.manifest.published === true;
  }

  /**
   * Scores one scan, given as a file path or as a volume already in memory. The result holds
   * `covid` and `severe`, and with `intermediates: true` every step's output.
   */
  async predict(scan: string | Volume, options: PredictOptions = {}): Promise<PipelineResult> {
    const source = typeof scan === 'string' ? scan : (options.source ?? 'scan');
    if (typeof scan === 'string') {
      options.onStep?.('read_image', 0, PIPELINE_STEPS.length);
    }
    setActiveScan(source);
    try {
      // A scan read here is referenced by the handle only, so it can be freed once it is resampled.
      const handle: ScanHandle = { volume: typeof scan === 'string' ? await readVolumeInWorker(scan) : scan };
      return await runPipeline(handle, this.models, { ...options, source });
    } catch (error) {
      if (!(error instanceof Error)) {
        throw new Error(`${source}: non-error value thrown: ${String(error)}`);
      }
      if (!error.message.startsWith(source)) {
        error.message = `${source}: ${error.message}`;
      }
      throw error;
    } finally {
      setActiveScan(undefined);
    }
  }

  /** Releases the ONNX Runtime sessions. */
  async dispose(): Promise<void> {
    await releaseModels(this.models);
  }
}
