/**
 * The inputs and outputs that the pipeline needs from each network, checked when a model is
 * loaded, so that a wrong or swapped file fails with its name before any scan is read.
 */
import type { ModelSession, TensorSignature } from './backend/onnx.js';
import type { ManifestEntry } from './models.js';
import { CROP_SIZE } from './steps/crop-pad.js';
import { UNET_RESOLUTION } from './steps/lung-mask.js';

/** Classes of the U-Net's scores: background, right lung, left lung. */
export const UNET_CLASSES = 3;
/** Channels of the ViT input: the same HU slice three times. */
const VIT_CHANNELS = 3;

/** A dimension the pipeline needs: a length, or `batch` for any length. */
type Dimension = number | 'batch';

interface Expected {
  input: Dimension[];
  output: Dimension[];
}

/** Returns the shapes that the pipeline feeds each network and reads from it; `features` is the heads' feature count. */
export function expectedSignature(name: 'lungmask' | 'vit_full' | 'vit_lung', features: number): Expected {
  if (name === 'lungmask') {
    return { input: ['batch', 1, UNET_RESOLUTION, UNET_RESOLUTION], output: ['batch', UNET_CLASSES, UNET_RESOLUTION, UNET_RESOLUTION] };
  }
  return { input: ['batch', VIT_CHANNELS, CROP_SIZE, CROP_SIZE], output: ['batch', features] };
}

function formatTensor(tensor: TensorSignature): string {
  return `"${tensor.name}" ${tensor.type} [${tensor.shape.join(', ')}]`;
}

/** Returns whether a declared shape accepts the shape the pipeline needs; a symbolic dimension accepts any length. */
function fits(shape: (number | string)[], expected: Dimension[]): boolean {
  if (shape.length !== expected.length) return false;
  return expected.every((dimension, axis) => {
    const declared = shape[axis];
    if (typeof declared === 'string' || declared < 0) return true;
    return dimension === 'batch' || declared === dimension;
  });
}

function sameTensor(a: TensorSignature, b: TensorSignature): boolean {
  return a.name === b.name && a.type === b.type && a.shape.length === b.shape.length && a.shape.every((dimension, axis) => String(dimension) === String(b.shape[axis]));
}

/**
 * Checks a loaded network against what the pipeline feeds it and against its manifest entry.
 * Throws an error naming the file, the tensor and both shapes.
 */
export function checkModelSignature(
  session: ModelSession,
  file: string,
  entry: ManifestEntry,
  expected: Expected,
): void {
  const name = session.name;
  const fix = `The file is not the ${name} network that the pipeline expects: export the models directory again with tools/export-models.`;
  const parts = [
    { role: 'input', tensors: session.inputs, needed: expected.input },
    { role: 'output', tensors: session.outputs, needed: expected.output },
  ];
  for (const { role, tensors, needed } of parts) {
    const [first] = tensors;
    const expectedText = `float32 [${needed.join(', ')}]`;
    if (first === undefined) {
      throw new Error(`${file}: ${name} has no ${role}, but the pipeline expects one ${role} of ${expectedText}. ${fix}`);
    }
    if (first.type !== 'float32' || !fits(first.shape, needed)) {
      throw new Error(`${file}: ${name} ${role} ${formatTensor(first)} does not match what the pipeline expects (${expectedText}). ${fix}`);
    }
  }
  if (session.inputs.length !== 1) {
    throw new Error(`${file}: ${name} has ${session.inputs.length} inputs (${session.inputs.map(formatTensor).join(', ')}); the pipeline feeds one. ${fix}`);
  }

  const listed = [
    { role: 'inputs', tensors: session.inputs, manifest: entry.inputs },
    { role: 'outputs', tensors: session.outputs, manifest: entry.outputs },
  ];
  for (const { role, tensors, manifest } of listed) {
    if (manifest === undefined) continue;
    const matches = manifest.length === tensors.length && manifest.every((tensor, index) => sameTensor(tensor, tensors[index]));
    if (!matches) {
      throw new Error(
        `${file}: ${name} ${role} ${tensors.map(formatTensor).join(', ')} do not match the manifest's ${manifest.map(formatTensor).join(', ')}. ${fix}`,
      );
    }
  }
}
