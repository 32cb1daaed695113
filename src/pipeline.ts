/**
 * The Balaitous pipeline: one CT volume in, P(COVID-19) and P(severe outcome) out, step by step.
 */
import { log, timed } from './log.js';
import type { LoadedModels } from './models.js';
import { type AgeSex, parseAgeSex } from './steps/age-sex.js';
import { applyMask } from './steps/apply-mask.js';
import { checkScan } from './steps/check-scan.js';
import { cleanMask } from './steps/clean-mask.js';
import { cropLungs } from './steps/crop-lungs.js';
import { cropPad } from './steps/crop-pad.js';
import { type Explanation, explainHeads, slicePositions } from './steps/explain.js';
import { extractSliceFeatures } from './steps/features.js';
import { type HeadName, type Prediction, applyHeads } from './steps/heads.js';
import { computeLungMask } from './steps/lung-mask.js';
import { type LungMeasures, measureLungs } from './steps/lung-measures.js';
import { reorientToIdentity } from './steps/reorient.js';
import { resample } from './steps/resample.js';
import { toHwz } from './steps/to-arrays.js';
import type { Geometry, NdArray, TypedArray, Volume } from './volume.js';

export interface PredictOptions {
  /** Patient age in years; default: `PatientAge` of the header, else 65. */
  age?: number;
  /** Patient sex: 0 female, 0.5 unknown, 1 male; default: `PatientSex` of the header, else 0.5. */
  sex?: number;
  /** Also return every intermediate result. Default false. */
  intermediates?: boolean;
  /** Name of the scan in log lines and errors. Default `scan`. */
  source?: string;
  /** Called as each step starts, for progress displays. Default: none. */
  onStep?: StepListener;
}

/**
 * Receives the name of the step that starts, its position in `PIPELINE_STEPS` (from 0) and the
 * number of steps.
 */
export type StepListener = (step: PipelineStep, index: number, total: number) => void;

/** Steps in the order they run. All but `read_image` are also the keys of `PipelineResult.timings`. */
export const PIPELINE_STEPS = [
  'read_image', 'parse_age_sex', 'reorient', 'resample', 'lung_mask', 'to_numpy', 'clean_mask', 'crop_pad',
  'crop_lungs', 'features_full', 'apply_mask', 'features_lung', 'heads', 'explain', 'lung_measures',
] as const;
export type PipelineStep = (typeof PIPELINE_STEPS)[number];

/** What each step computed, in the layouts of the reference implementation. */
export interface Intermediates {
  /** Grid of the scan as read, before reorientation. */
  scan: Geometry;
  /** Step 2: the volume on the 1.5 × 1.5 × 5 mm grid. */
  resampled: Volume;
  /** Step 3: per slice, clipped, cropped to the body and zoomed to 256 × 256, (z, 256, 256). */
  lungmaskInputSlices: NdArray;
  /** Step 3: body box per slice (row start, column start, row end, column end), (z, 4). */
  lungmaskBoxes: NdArray;
  /** Step 3: U-Net argmax, (z, 256, 256). */
  lungmaskUnetLabels: NdArray<Uint8Array>;
  /** Step 3: after component merging and hole filling, (z, 256, 256). */
  lungmaskPostprocessed: NdArray<Uint8Array>;
  /** Steps 3 and 4: labels 0/1/2 on the resampled grid, (H, W, Z). */
  lungmaskLabels: NdArray<Uint8Array>;
  /** Step 5: cleaned boolean mask, (H, W, Z). */
  maskClean: NdArray<Uint8Array>;
  /** Step 6: (H, W) row and column of pixel (0, 0) of the 224 × 224 crop, negative where padding was added. */
  cropOffset: [number, number];
  /** Steps 6 and 7: image and mask after crop/pad and slice selection, (224, 224, Z'). */
  croppedImage: NdArray;
  croppedMask: NdArray<Uint8Array>;
}

export interface PipelineResult {
  /** P(COVID-19): 0.35 full_covid + 0.65 lung_covid with the published weights. */
  covid: number;
  /** P(intubation or death within one month). */
  severe: number;
  /** Age feature as the heads use it (years / 100, clipped to [0.25, 0.95]). */
  age: number;
  /** Sex feature as the heads use it (0, 0.5 or 1). */
  sex: number;
  ageSex: AgeSex;
  heads: Record<HeadName, number>;
  logits: Record<HeadName, number>;
  features: { full: Float32Array; lung: Float32Array };
  /** Execution provider that ran each network. */
  providers: { lungmask: string; vit_full: string; vit_lung: string };
  /** Seconds per step, under the reference's step names. */
  timings: Record<string, number>;
  /**
   * Seconds of the parts of a step, keyed `<step>_<part>`: `lung_mask_preprocess`,
   * `lung_mask_unet` (the network and its argmax) and `lung_mask_postprocess`, which together
   * make up `timings.lung_mask`.
   */
  partTimings: Record<string, number>;
  /** Resampled slices kept for the features, [start, end), in the (H, W, Z) layout's Z. */
  sliceRange: [number, number];
  /** Each head's logit split into an offset and one contribution per kept slice. */
  explanation: Explanation;
  /** Lung volumes and HU-range fractions: descriptive, not used by the model. */
  lungMeasures: LungMeasures;
  intermediates?: Intermediates;
}

/**
 * Slices per network call. On the CPU, larger calls run no faster, and ONNX Runtime's arena keeps
 * the activations of the largest call for the session's life: about 110 MiB per U-Net slice and
 * 14 MiB per ViT image (fp32, measured with onnxruntime-node 1.30 on 2 cores). The full-size U-Net
 * took 0.47 s per slice both one and two slices at a time, so it runs one.
 */
const CPU_BATCH = { unet: 1, vit: 4 };
/** Slices per network call on a GPU, whose activations live in GPU memory. */
const GPU_BATCH = { unet: 8, vit: 8 };

/**
 * A scan handed over to `runPipeline`, which clears `volume` once the scan is resampled. Unless the
 * caller keeps another reference, the full-resolution volume can then be freed while the networks
 * run (128 MiB for a 512 × 512 × 255 int16 scan).
 */
export interface ScanHandle {
  volume: Volume | undefined;
}

/** Runs one step: reports it to `onStep`, times it and logs its duration. */
type RunStep = <T>(name: PipelineStep, run: () => T | Promise<T>) => Promise<T>;

/** Runs every step of the pipeline on a volume, or on the volume of a handle, with loaded models. */
export async function runPipeline(input: Volume | ScanHandle, models: LoadedModels, options: PredictOptions = {}): Promise<PipelineResult> {
  const source = options.source ?? 'scan';
  const timings: Record<string, number> = {};
  const step: RunStep = (name, run) => {
    options.onStep?.(name, PIPELINE_STEPS.indexOf(name), PIPELINE_STEPS.length);
    return timed(name, timings, run);
  };

  const { ageSex, resampled, scanGeometry } = await prepareScan('data' in input ? { volume: input } : input, step, source, options);

  const lungMask = await step('lung_mask', () =>
    computeLungMask({ data: resampled.data, shape: [resampled.size[2], resampled.size[1], resampled.size[0]] }, resampled.direction, async (input, count) => {
      const { data, dims } = await models.unet.run(input, [count, 1, 256, 256]);
      return argmaxOverClasses(data, dims);
    }, { batchSize: (models.unet.provider === 'cpu' ? CPU_BATCH : GPU_BATCH).unet }),
  );

  const partTimings = {
    lung_mask_preprocess: lungMask.seconds.preprocess,
    lung_mask_unet: lungMask.seconds.unet,
    lung_mask_postprocess: lungMask.seconds.postprocess,
  };

  const { image, mask } = await step('to_numpy', () => ({
    image: toHwz({ data: resampled.data, shape: [resampled.size[2], resampled.size[1], resampled.size[0]] }),
    mask: toHwz(lungMask.labels) as NdArray<Uint8Array>,
  }));

  const cleaned = await step('clean_mask', () => cleanMask(mask, image));
  const padded = await step('crop_pad', () => cropPad(image, cleaned));
  const cropped = await step('crop_lungs', () => cropLungs(padded.image, padded.mask));
  log.info(`${source}: ${cropped.image.shape[2]} slice(s) kept for the features`);

  const runVit = (session: LoadedModels['vitFull']) => async (input: Float32Array, count: number) =>
    (await session.run(input, [count, 3, 224, 224])).data;
  const vitBatch = (models.vitFull.provider === 'cpu' ? CPU_BATCH : GPU_BATCH).vit;
  const fullSlices = await step('features_full', () => extractSliceFeatures(cropped.image, runVit(models.vitFull), vitBatch));
  const masked = await step('apply_mask', () => applyMask(cropped.image, cropped.mask));
  const lungSlices = await step('features_lung', () => extractSliceFeatures(masked, runVit(models.vitLung), vitBatch));
  const full = fullSlices.mean;
  const lung = lungSlices.mean;

  const prediction: Prediction = await step('heads', () => applyHeads(models.heads, { full, lung }, ageSex.age, ageSex.sex));
  if (!Number.isFinite(prediction.covid) || !Number.isFinite(prediction.severe)) {
    throw new RangeError(
      `the models returned non-finite probabilities (covid ${prediction.covid}, severe ${prediction.severe}); check them with 'balaitous models verify'`,
    );
  }
  const explanation = await step('explain', () =>
    explainHeads(models.heads, { full: fullSlices.tokens, lung: lungSlices.tokens }, prediction.logits, ageSex.age, ageSex.sex, slicePositions(resampled, cropped.sliceRange)),
  );
  const voxelVolumeMm3 = resampled.spacing[0] * resampled.spacing[1] * resampled.spacing[2];
  const lungMeasures = await step('lung_measures', () => measureLungs(image, mask, cleaned, voxelVolumeMm3));

  const result: PipelineResult = {
    covid: prediction.covid,
    severe: prediction.severe,
    age: ageSex.age,
    sex: ageSex.sex,
    ageSex,
    heads: prediction.heads,
    logits: prediction.logits,
    features: { full, lung },
    providers: { lungmask: models.unet.provider, vit_full: models.vitFull.provider, vit_lung: models.vitLung.provider },
    timings,
    partTimings,
    sliceRange: cropped.sliceRange,
    explanation,
    lungMeasures,
  };
  if (options.intermediates) {
    result.intermediates = {
      scan: scanGeometry,
      resampled,
      lungmaskInputSlices: lungMask.inputSlices,
      lungmaskBoxes: lungMask.boxes,
      lungmaskUnetLabels: lungMask.unetLabels,
      lungmaskPostprocessed: lungMask.postprocessed,
      lungmaskLabels: mask,
      maskClean: cleaned,
      cropOffset: padded.offset,
      croppedImage: cropped.image as NdArray<TypedArray>,
      croppedMask: cropped.mask,
    };
  }
  return result;
}

/**
 * Runs the checks and steps 1 and 2 on the volume of `handle`, which it clears, and returns what
 * the later steps need. The full-resolution volume is referenced only while this function runs.
 */
async function prepareScan(handle: ScanHandle, step: RunStep, source: string, options: PredictOptions) {
  const scan = handle.volume;
  if (scan === undefined) {
    throw new TypeError(`${source}: the scan handle has no volume; pass each handle to runPipeline once`);
  }
  handle.volume = undefined;

  // Before any step, so that a scan that cannot be scored fails before the networks run.
  const checked = checkScan(scan, source);

  const ageSex = await step('parse_age_sex', () => parseAgeSex(scan.metadata, options));
  log.info(`${source}: age ${ageSex.ageYears.toFixed(1)} years (${ageSex.ageSource}), sex ${ageSex.sex} (${ageSex.sexSource})`);

  const oriented = await step('reorient', () => reorientToIdentity(checked, source));
  const resampled = await step('resample', () => resample(oriented));
  const scanGeometry: Geometry = { size: [...scan.size], spacing: [...scan.spacing], origin: [...scan.origin], direction: [...scan.direction] };
  return { ageSex, resampled, scanGeometry };
}

/** Returns, per pixel, the class with the highest score; the first one wins a tie, as torch.max does on CPU. */
export function argmaxOverClasses(scores: Float32Array, dims: number[]): Uint8Array {
  const [count, classes, height, width] = dims;
  const plane = height * width;
  const labels = new Uint8Array(count * plane);
  for (let n = 0; n < count; n++) {
    const base = n * classes * plane;
    for (let p = 0; p < plane; p++) {
      let best = 0;
      let bestScore = scores[base + p];
      for (let c = 1; c < classes; c++) {
        const score = scores[base + c * plane + p];
        if (score > bestScore) {
          bestScore = score;
          best = c;
        }
      }
      labels[n * plane + p] = best;
    }
  }
  return labels;
}
