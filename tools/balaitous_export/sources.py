"""Reading and validating the source weights: config, state dicts and logistic-regression heads.

Every problem raises SourceError with a message that names the file and, where there is one,
the key.
"""
import hashlib
import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from .networks import UNET_CLASSES, VIT_INPUT_SIZE, VIT_INPUT_CHANNELS, VIT_MLP_RATIO

CONFIG_FILE = 'config.json'
SOURCE_FILES = {
    'lungmask': 'lungmask.pth',
    'vit_full': 'vit_full.pth',
    'vit_lung': 'vit_lung.pth',
    'heads': 'heads.npz',
}
HEAD_NAMES = ('full_covid', 'lung_covid', 'full_severe', 'lung_severe')
# The severity heads also take age and sex after the image features.
CLINICAL_FEATURES = 2


class SourceError(Exception):
    """Missing, unreadable or inconsistent source weights."""


@dataclass(frozen=True)
class ExportConfig:
    unet_wf: int
    unet_depth: int
    vit_embed_dim: int
    vit_num_heads: int
    vit_depth: int
    vit_patch_size: int
    n_blocks_full: int
    n_blocks_lung: int
    # The config.json content, written unchanged into the manifest.
    raw: dict
    # Origin of the sizes (a config.json path), named in errors about mismatching weights.
    source: str


CONFIG_SCHEMA = {
    'unet': ('wf', 'depth'),
    'vit': ('embed_dim', 'num_heads', 'depth', 'patch_size'),
    'n_blocks_full': None,
    'n_blocks_lung': None,
}


def parse_config(raw: object, source: str) -> ExportConfig:
    """Validate a config mapping (the layout of config.json) and return it typed."""
    if not isinstance(raw, dict):
        raise SourceError(f'{source}: expected a JSON object, found {type(raw).__name__}')
    _reject_unknown_keys(raw, CONFIG_SCHEMA.keys(), source, '')
    values = {}
    for key, subkeys in CONFIG_SCHEMA.items():
        if key not in raw:
            raise SourceError(f'{source}: missing key "{key}"')
        if subkeys is None:
            values[key] = _positive_int(raw[key], source, key)
            continue
        section = raw[key]
        if not isinstance(section, dict):
            raise SourceError(f'{source}: "{key}" must be an object, found {json.dumps(section)}')
        _reject_unknown_keys(section, subkeys, source, key + '.')
        for subkey in subkeys:
            if subkey not in section:
                raise SourceError(f'{source}: missing key "{key}.{subkey}"')
            values[f'{key}_{subkey}'] = _positive_int(section[subkey], source, f'{key}.{subkey}')

    config = ExportConfig(raw=raw, source=source, **values)
    if config.vit_embed_dim % config.vit_num_heads != 0:
        raise SourceError(f'{source}: "vit.embed_dim" ({config.vit_embed_dim}) must be a multiple of '
                          f'"vit.num_heads" ({config.vit_num_heads})')
    if VIT_INPUT_SIZE % config.vit_patch_size != 0:
        raise SourceError(f'{source}: "vit.patch_size" ({config.vit_patch_size}) must divide the '
                          f'input size {VIT_INPUT_SIZE}')
    for key in ('n_blocks_full', 'n_blocks_lung'):
        if getattr(config, key) > config.vit_depth:
            raise SourceError(f'{source}: "{key}" ({getattr(config, key)}) exceeds "vit.depth" '
                              f'({config.vit_depth})')
    return config


def read_config(path: Path) -> ExportConfig:
    if not path.is_file():
        raise SourceError(f'{path}: file not found')
    try:
        raw = json.loads(path.read_text(encoding='utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SourceError(f'{path}: invalid JSON ({error})') from None
    return parse_config(raw, str(path))


def _reject_unknown_keys(mapping: dict, known, source: str, prefix: str) -> None:
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        names = ', '.join(f'"{prefix}{key}"' for key in unknown)
        expected = ', '.join(f'"{prefix}{key}"' for key in known)
        raise SourceError(f'{source}: unknown key {names} (expected {expected})')


def _positive_int(value: object, source: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SourceError(f'{source}: "{key}" must be a positive integer, found {json.dumps(value)}')
    return value


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for chunk in iter(lambda: file.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def load_state_dict(path: Path, container_key: Optional[str] = None,
                    trust_pickle: bool = False) -> Dict[str, torch.Tensor]:
    """Load a PyTorch state dict, optionally stored under `container_key` of the saved object.

    Without `trust_pickle`, only tensors and plain containers are unpickled
    (`torch.load(weights_only=True)`), so a checkpoint cannot run code while it loads.
    """
    if not path.is_file():
        raise SourceError(f'{path}: file not found')
    try:
        loaded = torch.load(path, map_location='cpu', weights_only=not trust_pickle)
    except pickle.UnpicklingError as error:
        if 'Weights only load failed' not in str(error):
            raise SourceError(f'{path}: not a readable PyTorch checkpoint ({error})') from None
        raise SourceError(f'{path}: not a PyTorch checkpoint, or one that contains Python objects besides '
                          f'tensors and plain containers; if you trust this file, rerun with --trust-pickle '
                          f'({error})') from None
    except Exception as error:  # noqa: BLE001 - torch.load raises many types on a corrupt file.
        raise SourceError(f'{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {error})') from None

    if container_key is not None:
        if not isinstance(loaded, Mapping) or container_key not in loaded:
            raise SourceError(f'{path}: missing key "{container_key}" (the state dict is expected under it)')
        loaded = loaded[container_key]
    if not isinstance(loaded, Mapping):
        raise SourceError(f'{path}: expected a state dict (a mapping of names to tensors), '
                          f'found {type(loaded).__name__}')
    for key, value in loaded.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise SourceError(f'{path}: key {key!r} is not a tensor ({type(value).__name__})')
    return dict(loaded)


# Returned by an optional-key checker for a key that is accepted with any shape.
ANY_SHAPE = 'any shape'
# An optional-key checker returns the shape that a present but unused key must have,
# ANY_SHAPE, or None when the key is not allowed.
OptionalKeys = Callable[[str], Union[Tuple[int, ...], str, None]]


def select_parameters(state: Dict[str, torch.Tensor], expected: Mapping[str, Tuple[int, ...]],
                      optional: OptionalKeys, source: str, config_source: str) -> Dict[str, torch.Tensor]:
    """Check a state dict against the expected names and shapes and return the expected entries.

    Keys outside `expected` must pass `optional`; they are checked and then dropped.
    `config_source` names where the expected sizes come from, for the error messages.
    """
    hint = f'check that the file matches the sizes in {config_source}'
    # Shapes first: a checkpoint of another width reports its first wrong shape, not a missing key.
    unexpected = []
    for key, tensor in state.items():
        shape = expected[key] if key in expected else optional(key)
        if shape is None:
            unexpected.append(key)
            continue
        if shape != ANY_SHAPE and tuple(tensor.shape) != tuple(shape):
            raise SourceError(f'{source}: key "{key}" has shape {list(tensor.shape)}, expected '
                              f'{list(shape)}; {hint}')
        if key in expected and not tensor.is_floating_point():
            raise SourceError(f'{source}: key "{key}" has dtype {tensor.dtype}, expected a float tensor')

    missing = [key for key in expected if key not in state]
    if missing:
        more = f' and {len(missing) - 1} more' if len(missing) > 1 else ''
        raise SourceError(f'{source}: missing key "{missing[0]}"{more} (expected shape '
                          f'{list(expected[missing[0]])}); {hint}')
    if unexpected:
        more = f' and {len(unexpected) - 1} more' if len(unexpected) > 1 else ''
        raise SourceError(f'{source}: unexpected key "{unexpected[0]}" (shape {list(state[unexpected[0]].shape)})'
                          f'{more}; {hint}')
    return {key: state[key].float() for key in expected}


def unet_optional_keys(key: str):
    # Batch-norm step counters do not affect evaluation, and older checkpoints may lack them.
    return ANY_SHAPE if key.endswith('.num_batches_tracked') else None


def unet_expected_shapes(config: ExportConfig) -> Dict[str, Tuple[int, ...]]:
    """Names and shapes of lungmask's U-Net state dict, batch-norm step counters aside."""
    from .networks import LungUNet
    model = LungUNet(config.unet_wf, config.unet_depth, UNET_CLASSES)
    return {key: tuple(value.shape) for key, value in model.state_dict().items()
            if not key.endswith('.num_batches_tracked')}


def vit_expected_shapes(config: ExportConfig, n_blocks: int) -> Dict[str, Tuple[int, ...]]:
    dim = config.vit_embed_dim
    patch = config.vit_patch_size
    shapes = {
        'cls_token': (1, 1, dim),
        'pos_embed': (1, (VIT_INPUT_SIZE // patch) ** 2 + 1, dim),
        'patch_embed.proj.weight': (dim, VIT_INPUT_CHANNELS, patch, patch),
        'patch_embed.proj.bias': (dim,),
    }
    for index in range(n_blocks):
        shapes.update(vit_block_shapes(dim, index))
    return shapes


def vit_block_shapes(dim: int, index: int) -> Dict[str, Tuple[int, ...]]:
    hidden = VIT_MLP_RATIO * dim
    prefix = f'blocks.{index}.'
    return {
        prefix + 'norm1.weight': (dim,),
        prefix + 'norm1.bias': (dim,),
        prefix + 'attn.qkv.weight': (3 * dim, dim),
        prefix + 'attn.qkv.bias': (3 * dim,),
        prefix + 'attn.proj.weight': (dim, dim),
        prefix + 'attn.proj.bias': (dim,),
        prefix + 'norm2.weight': (dim,),
        prefix + 'norm2.bias': (dim,),
        prefix + 'mlp.fc1.weight': (hidden, dim),
        prefix + 'mlp.fc1.bias': (hidden,),
        prefix + 'mlp.fc2.weight': (dim, hidden),
        prefix + 'mlp.fc2.bias': (dim,),
    }


_BLOCK_KEY = re.compile(r'blocks\.(\d+)\.')


def vit_optional_keys(config: ExportConfig):
    """Keys of a full ViT checkpoint that the feature extractor drops: the blocks after the
    last one used (up to `vit.depth`), the final norm, the classifier head and iBOT's mask
    embedding."""
    dim = config.vit_embed_dim

    def optional(key: str):
        match = _BLOCK_KEY.match(key)
        if match:
            shapes = vit_block_shapes(dim, int(match.group(1))) if int(match.group(1)) < config.vit_depth else {}
            return shapes.get(key)
        if key in ('norm.weight', 'norm.bias'):
            return (dim,)
        if key == 'masked_embed':
            return (1, dim)
        if key.startswith('head.'):
            return ANY_SHAPE
        return None

    return optional


def require_all_blocks(state: Mapping[str, torch.Tensor], config: ExportConfig, source: str) -> None:
    """Check that the checkpoint has all `vit.depth` blocks, the unused ones included, so that a
    configuration that does not describe the file is caught."""
    for index in range(config.vit_depth):
        key = f'blocks.{index}.norm1.weight'
        if key not in state:
            raise SourceError(f'{source}: missing key "{key}" ({config.source} gives "vit.depth" '
                              f'{config.vit_depth})')


@dataclass(frozen=True)
class Head:
    coef: Tuple[float, ...]
    intercept: float


@dataclass(frozen=True)
class Heads:
    features: int
    heads: Dict[str, Head]
    alpha: Dict[str, float]


def read_heads(path: Path, features: int) -> Heads:
    """Read the logistic-regression heads (`coef_*`, `intercept_*`, `alpha_*` of balaitous.npz)."""
    if not path.is_file():
        raise SourceError(f'{path}: file not found')
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SourceError(f'{path}: not a readable .npz archive ({error})') from None
    with archive:
        arrays = {key: archive[key] for key in archive.files}

    known = {f'{kind}_{name}' for kind in ('coef', 'intercept', 'alpha') for name in HEAD_NAMES}
    unknown = sorted(set(arrays) - known)
    if unknown:
        raise SourceError(f'{path}: unexpected key "{unknown[0]}"')

    def read(key: str, sizes) -> np.ndarray:
        if key not in arrays:
            raise SourceError(f'{path}: missing key "{key}"')
        array = arrays[key]
        if array.dtype.kind not in 'fi' or array.shape not in sizes:
            raise SourceError(f'{path}: key "{key}" has shape {list(array.shape)} and dtype {array.dtype}, '
                              f'expected a float array of shape {" or ".join(str(list(s)) for s in sizes)}')
        values = array.astype(np.float64).reshape(-1)
        if not np.all(np.isfinite(values)):
            raise SourceError(f'{path}: key "{key}" contains non-finite values')
        return values

    heads = {}
    alpha = {}
    for name in HEAD_NAMES:
        width = features + (CLINICAL_FEATURES if name.endswith('_severe') else 0)
        coef = read(f'coef_{name}', [(width,), (1, width)])
        intercept = read(f'intercept_{name}', [(), (1,)])
        heads[name] = Head(coef=tuple(float(value) for value in coef), intercept=float(intercept[0]))
        alpha[name] = float(read(f'alpha_{name}', [(), (1,)])[0])
    return Heads(features=features, heads=heads, alpha=alpha)
