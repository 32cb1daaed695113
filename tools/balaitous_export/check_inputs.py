"""Deterministic check batches that the Node tests regenerate bit for bit, and the PyTorch
outputs for them.

No random generator is involved. A phantom slice is integer arithmetic on HU values and a
noise slice uses a 32-bit integer hash. Each value is computed in float64 and rounded once to
float32, so Python and JavaScript get the same input.
"""
import hashlib
from typing import Dict, List

import numpy as np
import torch

from .networks import UNET_INPUT_SIZE, VIT_INPUT_SIZE, VIT_INPUT_CHANNELS

CHECK_FORMAT = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The lungmask input scaling, (HU + 1024) / 1624.
HU_OFFSET = 1024
HU_DIVISOR = 1624
# Rows and columns of the U-Net scores stored in the check file.
SCORE_SAMPLE_START = 4
SCORE_SAMPLE_STEP = 8

# Multiplier that spreads the seeds over the 32-bit range (2**32 divided by the golden ratio).
SEED_MULTIPLIER = 0x9E3779B9
UINT32_MASK = 0xFFFFFFFF


def _phantom_slice(body, lungs, texture) -> Dict:
    return {'kind': 'phantom', 'body': list(body), 'lungs': [list(lung) for lung in lungs],
            'huAir': -1024, 'huBody': 40, 'huLung': -850, 'texture': list(texture)}


UNET_CHECK_SLICES = [
    _phantom_slice(body=(128, 128, 90, 115),
                   lungs=[(118, 80, 55, 35), (118, 176, 55, 35)], texture=(7, 3, 41)),
    {'kind': 'noise', 'seed': 1, 'min': 0.0, 'max': 1.0},
]
VIT_CHECK_SLICES = [
    _phantom_slice(body=(112, 112, 80, 100),
                   lungs=[(104, 70, 48, 30), (104, 154, 48, 30)], texture=(5, 11, 37)),
    {'kind': 'noise', 'seed': 2, 'min': -2.0, 'max': 2.5},
]


def unet_check_input() -> Dict:
    return {'shape': [len(UNET_CHECK_SLICES), 1, UNET_INPUT_SIZE, UNET_INPUT_SIZE],
            'normalization': {'offset': HU_OFFSET, 'divisor': HU_DIVISOR, 'mean': [0.0], 'std': [1.0]},
            'slices': UNET_CHECK_SLICES}


def vit_check_input() -> Dict:
    return {'shape': [len(VIT_CHECK_SLICES), VIT_INPUT_CHANNELS, VIT_INPUT_SIZE, VIT_INPUT_SIZE],
            'normalization': {'offset': HU_OFFSET, 'divisor': HU_DIVISOR,
                              'mean': list(IMAGENET_MEAN), 'std': list(IMAGENET_STD)},
            'slices': VIT_CHECK_SLICES}


def _inside_ellipse(rows: np.ndarray, cols: np.ndarray, ellipse) -> np.ndarray:
    # (y - cy)² rx² + (x - cx)² ry² ≤ ry² rx², in integers so that JavaScript gets the same set.
    cy, cx, ry, rx = ellipse
    return (rows - cy) ** 2 * rx ** 2 + (cols - cx) ** 2 * ry ** 2 <= ry ** 2 * rx ** 2


def phantom_hu(height: int, width: int, spec: Dict) -> np.ndarray:
    """Integer HU image: air, a body ellipse and lung ellipses, with a striped texture inside
    the body."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.int64)
    row_step, col_step, modulus = spec['texture']
    texture = (row_step * rows + col_step * cols) % modulus - (modulus - 1) // 2
    hu = np.full((height, width), spec['huAir'], dtype=np.int64)
    body = _inside_ellipse(rows, cols, spec['body'])
    hu[body] = spec['huBody'] + texture[body]
    for lung in spec['lungs']:
        inside = _inside_ellipse(rows, cols, lung)
        hu[inside] = spec['huLung'] + texture[inside]
    return hu


def hash_uniform(count: int, seed: int) -> np.ndarray:
    """`count` values in [0, 1): a 32-bit finalising hash of (index + seed × SEED_MULTIPLIER),
    divided by 2**32."""
    h = (np.arange(count, dtype=np.uint64) + (seed * SEED_MULTIPLIER & UINT32_MASK)) & UINT32_MASK
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & UINT32_MASK
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & UINT32_MASK
    h ^= h >> np.uint64(16)
    return h.astype(np.float64) / 2.0 ** 32


def make_check_batch(description: Dict) -> np.ndarray:
    """Build the float32 batch that an input description of the check file specifies."""
    batch, channels, height, width = description['shape']
    norm = description['normalization']
    out = np.empty((batch, channels, height, width), dtype=np.float32)
    for index, spec in enumerate(description['slices']):
        if spec['kind'] == 'phantom':
            scaled = (phantom_hu(height, width, spec) + norm['offset']) / norm['divisor']
            for channel in range(channels):
                out[index, channel] = ((scaled - norm['mean'][channel]) / norm['std'][channel]).astype(np.float32)
        elif spec['kind'] == 'noise':
            uniform = hash_uniform(channels * height * width, spec['seed'])
            values = spec['min'] + (spec['max'] - spec['min']) * uniform
            out[index] = values.reshape(channels, height, width).astype(np.float32)
        else:
            raise ValueError(f'unknown check slice kind {spec["kind"]!r}')
    return out


def sha256_of_float32(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype='<f4').tobytes()).hexdigest()


def run_length_encode(labels: np.ndarray) -> List[List[int]]:
    """[[label, count], ...] of a flattened label array, in row-major order."""
    flat = labels.reshape(-1)
    starts = np.flatnonzero(np.concatenate(([True], flat[1:] != flat[:-1])))
    counts = np.diff(np.concatenate((starts, [flat.size])))
    return [[int(flat[start]), int(count)] for start, count in zip(starts, counts)]


def described_input(description: Dict, batch: np.ndarray) -> Dict:
    """Return the input description with the SHA-256 of the batch's little-endian float32 bytes
    added, so that a regenerated batch can be compared exactly."""
    return dict(description, sha256=sha256_of_float32(batch))


def unet_check_entry(description: Dict, batch: np.ndarray, scores: torch.Tensor) -> Dict:
    values = scores.numpy()
    sample = values[:, :, SCORE_SAMPLE_START::SCORE_SAMPLE_STEP, SCORE_SAMPLE_START::SCORE_SAMPLE_STEP]
    labels = values.argmax(axis=1)
    return {
        'input': described_input(description, batch),
        'scoreSample': {'start': SCORE_SAMPLE_START, 'step': SCORE_SAMPLE_STEP,
                        'values': sample.astype(np.float64).tolist()},
        'labels': [run_length_encode(slice_labels) for slice_labels in labels],
    }


def vit_check_entry(description: Dict, batch: np.ndarray, features: torch.Tensor) -> Dict:
    return {'input': described_input(description, batch), 'features': features.numpy().astype(np.float64).tolist()}
