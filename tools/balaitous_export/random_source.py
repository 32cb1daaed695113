"""A source folder with random weights of the published sizes, to test the full-size export.

The U-Net's batch-norm statistics are measured on the check batch, so that activations keep a
realistic scale through its 23 convolutions. The ViT weights follow the iBOT initialisation,
with small random biases and norm parameters added.
"""
import json
import logging
import shutil
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from . import check_inputs
from .networks import LungUNet, ViTFeatures, UNET_CLASSES
from .published import PUBLISHED_CONFIG
from .sources import CONFIG_FILE, HEAD_NAMES, CLINICAL_FEATURES, SOURCE_FILES, read_heads

# The class weights of the published model.
PUBLISHED_ALPHA = {'full_covid': 0.35, 'lung_covid': 0.65, 'full_severe': 0.5, 'lung_severe': 0.5}
VIT_WEIGHT_STD = 0.02

log = logging.getLogger('export-models')


def random_unet(wf: int, depth: int) -> LungUNet:
    model = LungUNet(wf, depth, UNET_CLASSES)
    batch_norms = [module for module in model.modules() if isinstance(module, nn.BatchNorm2d)]
    with torch.no_grad():
        for norm in batch_norms:
            norm.weight.copy_(1 + 0.1 * torch.randn_like(norm.weight))
            norm.bias.normal_(0, 0.1)
            # A cumulative average over the calibration pass instead of an exponential one.
            norm.momentum = None
            norm.reset_running_stats()
        batch = torch.from_numpy(check_inputs.make_check_batch(check_inputs.unet_check_input()))
        model.train()
        model(batch)
    return model.eval()


def random_vit_state(embed_dim: int, num_heads: int, depth: int, patch_size: int) -> dict:
    """State dict of a whole ViT (every block and the final norm), as a checkpoint stores it."""
    model = ViTFeatures(embed_dim, num_heads, depth, patch_size)
    with torch.no_grad():
        nn.init.trunc_normal_(model.cls_token, std=VIT_WEIGHT_STD)
        nn.init.trunc_normal_(model.pos_embed, std=VIT_WEIGHT_STD)
        for module in model.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=VIT_WEIGHT_STD)
                module.bias.normal_(0, VIT_WEIGHT_STD)
            elif isinstance(module, nn.LayerNorm):
                module.weight.copy_(1 + 0.1 * torch.randn_like(module.weight))
                module.bias.normal_(0, VIT_WEIGHT_STD)
    state = model.state_dict()
    state['norm.weight'] = 1 + 0.1 * torch.randn(embed_dim)
    state['norm.bias'] = VIT_WEIGHT_STD * torch.randn(embed_dim)
    return state


def write_random_heads(path: Path, features: int, generator: np.random.Generator) -> None:
    arrays = {}
    for name in HEAD_NAMES:
        width = features + (CLINICAL_FEATURES if name.endswith('_severe') else 0)
        arrays[f'coef_{name}'] = generator.normal(0, 0.05, width)
        arrays[f'intercept_{name}'] = np.float64(generator.normal())
        arrays[f'alpha_{name}'] = np.float64(PUBLISHED_ALPHA[name])
    np.savez(path, **arrays)


def write_random_source(out_dir: Path, seed: int, heads_path: Optional[Path]) -> None:
    """Write lungmask.pth, vit_full.pth, vit_lung.pth, heads.npz and config.json with random
    weights of the published sizes into `out_dir`."""
    config = PUBLISHED_CONFIG
    vit = config['vit']
    if heads_path is not None:
        read_heads(heads_path, vit['embed_dim'])
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)

    log.info('writing %s', out_dir / SOURCE_FILES['lungmask'])
    torch.save(random_unet(config['unet']['wf'], config['unet']['depth']).state_dict(),
               out_dir / SOURCE_FILES['lungmask'])
    for role in ('vit_full', 'vit_lung'):
        log.info('writing %s', out_dir / SOURCE_FILES[role])
        state = random_vit_state(vit['embed_dim'], vit['num_heads'], vit['depth'], vit['patch_size'])
        torch.save(state, out_dir / SOURCE_FILES[role])
        del state

    if heads_path is not None:
        shutil.copyfile(heads_path, out_dir / SOURCE_FILES['heads'])
    else:
        write_random_heads(out_dir / SOURCE_FILES['heads'], vit['embed_dim'], np.random.default_rng(seed))
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=1) + '\n', encoding='utf-8')
    (out_dir / 'README.md').write_text(
        '# Random weights of the published sizes\n\n'
        f'Written by `tools/export-models --make-random` with seed {seed}, for testing the full-size '
        'export only. The outputs mean nothing.\n'
        + (f'The heads are a copy of `{heads_path.name}`.\n' if heads_path is not None else ''),
        encoding='utf-8')
    log.info('wrote %s', out_dir)
