"""Export the Balaitous networks and heads to ONNX and JSON for the Node.js pipeline.

Usage:
  tools/export-models [options] SOURCE_DIR OUT_DIR
  tools/export-models --published [options] CHECKPOINT_DIR OUT_DIR
  tools/export-models --make-random [--heads NPZ] [--seed N] OUT_SOURCE_DIR

OUT_DIR receives lungmask.onnx, vit_full.onnx, vit_lung.onnx, heads.json and manifest.json, and
with --fp16 also lungmask.fp16.onnx, vit_full.fp16.onnx and vit_lung.fp16.onnx, and with --int8
also vit_full.int8.onnx and vit_lung.int8.onnx.
Progress goes to stderr; the PyTorch output statistics of the self-check go to stdout.
"""
import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Dict, Optional

import torch

from balaitous_export import check_inputs
from balaitous_export.float16 import Float16Error, write_float16_copy
from balaitous_export.int8 import write_int8_copy
from balaitous_export.networks import LungUNet, UNET_CLASSES, UNET_INPUT_SIZE, VIT_INPUT_CHANNELS, VIT_INPUT_SIZE, ViTFeatures
from balaitous_export.onnx_files import EXTERNAL_DATA_MODES, export_onnx, file_entry, onnx_entry, tensor_entry
from balaitous_export.published import PUBLISHED_FILES, published_config, verify_published_file
from balaitous_export.random_source import write_random_source
from balaitous_export.sources import (
    CONFIG_FILE, SOURCE_FILES, ExportConfig, Heads, SourceError, load_state_dict, read_config, read_heads,
    require_all_blocks, select_parameters, unet_expected_shapes, unet_optional_keys, vit_expected_shapes,
    vit_optional_keys)

MANIFEST_FORMAT = 1
CREATED_BY = 'tools/export-models'
log = logging.getLogger('export-models')


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog='tools/export-models',
        description='Export the Balaitous networks (lungmask U-Net, two iBOT ViT-L/16) and the '
                    'logistic-regression heads to ONNX and JSON, with a manifest.')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--published', action='store_true',
                      help='read the published files (unet_r231-d5d2fc3d.pth, vitl_16_ct.pth, '
                           'vitl_16_pt22k.pth, balaitous.npz) from the first folder')
    mode.add_argument('--make-random', action='store_true',
                      help='write a source folder with random weights of the published sizes, then stop')
    parser.add_argument('paths', nargs='+', metavar='DIR',
                        help='SOURCE_DIR OUT_DIR, or OUT_SOURCE_DIR with --make-random')
    parser.add_argument('--name', help="manifest name (default: the source folder's name)")
    parser.add_argument('--description', help='manifest description (default: where the weights came from)')
    parser.add_argument('--write-check', metavar='FILE',
                        help='also write the deterministic check batch and the PyTorch outputs for it '
                             'to FILE (JSON), for the parity test on the Node side')
    parser.add_argument('--external-data', choices=EXTERNAL_DATA_MODES, default='auto',
                        help="store ONNX tensors in a separate '<model>.onnx.data' file: 'auto' for "
                             "models over 64 MiB, which ONNX Runtime then maps into memory instead of "
                             "copying (default: auto)")
    parser.add_argument('--fp16', action='store_true',
                        help='also write a float16 copy of each network as <model>.fp16.onnx, with '
                             'float32 inputs and outputs, listed in the manifest as its "fp16" variant '
                             '(default: off)')
    parser.add_argument('--int8', action='store_true',
                        help='also write a copy of each ViT whose MatMul weights are int8, with activations '
                             'quantised to 8 bits at run time, as <model>.int8.onnx, listed in the manifest '
                             'as its "int8" variant; the U-Net\'s "int8" variant is its float32 file '
                             '(default: off)')
    parser.add_argument('--trust-pickle', action='store_true',
                        help='allow checkpoints that contain Python objects besides tensors; loading '
                             'them can run code (default: off)')
    parser.add_argument('--heads', metavar='NPZ',
                        help='with --make-random: copy these heads (e.g. the published balaitous.npz) '
                             'instead of drawing random ones')
    parser.add_argument('--seed', type=int, default=0,
                        help='with --make-random: seed of the random weights (default: 0)')
    args = parser.parse_args(argv)

    expected_paths = 1 if args.make_random else 2
    if len(args.paths) != expected_paths:
        parser.error(f'expected {"OUT_SOURCE_DIR" if args.make_random else "SOURCE_DIR OUT_DIR"}, '
                     f'got {len(args.paths)} path(s)')
    if not args.make_random and (args.heads is not None or args.seed != 0):
        parser.error('--heads and --seed apply only with --make-random')
    return args


class Sources:
    """Source file paths with the config, and the key under which each state dict is stored."""

    def __init__(self, config: ExportConfig, paths: Dict[str, Path], container_keys: Dict[str, Optional[str]]):
        self.config = config
        self.paths = paths
        self.container_keys = container_keys


def layout_sources(source_dir: Path) -> Sources:
    """Sources laid out as lungmask.pth, vit_full.pth, vit_lung.pth, heads.npz and config.json."""
    if not source_dir.is_dir():
        raise SourceError(f'{source_dir}: folder not found')
    config = read_config(source_dir / CONFIG_FILE)
    paths = {role: source_dir / name for role, name in SOURCE_FILES.items()}
    for path in paths.values():
        if not path.is_file():
            raise SourceError(f'{path}: file not found')
    return Sources(config, paths, {role: None for role in paths})


def published_sources(checkpoint_dir: Path) -> Sources:
    if not checkpoint_dir.is_dir():
        raise SourceError(f'{checkpoint_dir}: folder not found')
    paths = {}
    for role in PUBLISHED_FILES:
        paths[role] = verify_published_file(checkpoint_dir, role)
    return Sources(published_config(), paths, {role: entry.container_key for role, entry in PUBLISHED_FILES.items()})


def load_unet(sources: Sources, trust_pickle: bool) -> LungUNet:
    config = sources.config
    path = sources.paths['lungmask']
    state = load_state_dict(path, sources.container_keys['lungmask'], trust_pickle)
    parameters = select_parameters(state, unet_expected_shapes(config), unet_optional_keys, str(path), config.source)
    model = LungUNet(config.unet_wf, config.unet_depth, UNET_CLASSES)
    # Not strict because the batch-norm step counters are left out; they do not affect evaluation.
    model.load_state_dict(parameters, strict=False)
    return model.eval()


def load_vit_parameters(sources: Sources, role: str, n_blocks: int, trust_pickle: bool) -> Dict[str, torch.Tensor]:
    """Load a ViT checkpoint and return the validated parameters of its first `n_blocks` blocks.

    The rest of the checkpoint is released."""
    config = sources.config
    path = sources.paths[role]
    state = load_state_dict(path, sources.container_keys[role], trust_pickle)
    parameters = select_parameters(state, vit_expected_shapes(config, n_blocks), vit_optional_keys(config),
                                   str(path), config.source)
    require_all_blocks(state, config, str(path))
    return parameters


def build_vit(config: ExportConfig, parameters: Dict[str, torch.Tensor], n_blocks: int) -> ViTFeatures:
    model = ViTFeatures(config.vit_embed_dim, config.vit_num_heads, n_blocks, config.vit_patch_size)
    model.load_state_dict(parameters, strict=True)
    return model.eval()


def float16_variant(path: Path, out_dir: Path, external_data: str) -> Dict:
    """Write the float16 copy of the exported model at `path` and return its manifest entry."""
    target = path.with_name(path.stem + '.fp16.onnx')
    log.info('writing %s', target.name)
    data_path = write_float16_copy(path, target, external_data)
    entry = file_entry(target, out_dir)
    if data_path is not None:
        entry['externalData'] = file_entry(data_path, out_dir)
    return entry


def int8_variant(path: Path, out_dir: Path, external_data: str) -> Dict:
    """Write the int8 copy of the exported model at `path` and return its manifest entry."""
    target = path.with_name(path.stem + '.int8.onnx')
    log.info('writing %s', target.name)
    data_path = write_int8_copy(path, target, external_data)
    entry = file_entry(target, out_dir)
    if data_path is not None:
        entry['externalData'] = file_entry(data_path, out_dir)
    return entry


def same_file_variant(fp32_entry: Dict) -> Dict:
    """A variant entry that names the float32 file itself, for a network that a precision leaves as
    it is: the int8 copy of the U-Net would have integer convolutions, which ONNX Runtime 1.30 runs
    about 4 times slower than float32 ones on a CPU."""
    return {key: value for key, value in fp32_entry.items() if key in ('path', 'sha256', 'bytes', 'externalData')}


def heads_json(heads: Heads) -> Dict:
    return {
        'features': heads.features,
        'heads': {name: {'coef': list(head.coef), 'intercept': head.intercept} for name, head in heads.heads.items()},
        'alpha': dict(heads.alpha),
    }


def format_json(value, indent: str = '') -> str:
    """JSON with objects indented by two spaces and arrays of numbers or strings on one line.

    Floats are written with repr(), which reads back to the same float64.
    """
    inner = indent + '  '
    if isinstance(value, dict):
        if not value:
            return '{}'
        members = [f'{inner}{json.dumps(key)}: {format_json(item, inner)}' for key, item in value.items()]
        return '{\n' + ',\n'.join(members) + '\n' + indent + '}'
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return '[\n' + ',\n'.join(inner + format_json(item, inner) for item in value) + '\n' + indent + ']'
    return json.dumps(value, allow_nan=False, separators=(', ', ': '))


def write_json(path: Path, content: Dict, compact: bool = False) -> None:
    if compact:
        text = json.dumps(content, allow_nan=False, separators=(',', ':'))
    else:
        text = format_json(content)
    text += '\n'
    scratch = path.with_name('.' + path.name + '.partial')
    scratch.write_text(text, encoding='utf-8')
    os.replace(scratch, path)


def print_statistics(name: str, output: torch.Tensor) -> None:
    values = output.double()
    print(f'{name}: shape {list(output.shape)}, mean {values.mean().item():.6g}, std {values.std().item():.6g}, '
          f'min {values.min().item():.6g}, max {values.max().item():.6g}')


def export_all(sources: Sources, out_dir: Path, args) -> None:
    config = sources.config
    # Read every source before writing anything, so that a bad file leaves OUT_DIR as it was.
    heads = read_heads(sources.paths['heads'], config.vit_embed_dim)
    unet = load_unet(sources, args.trust_pickle)
    vit_blocks = {'vit_full': config.n_blocks_full, 'vit_lung': config.n_blocks_lung}
    vit_parameters = {role: load_vit_parameters(sources, role, n_blocks, args.trust_pickle)
                      for role, n_blocks in vit_blocks.items()}
    out_dir.mkdir(parents=True, exist_ok=True)

    files = {}
    check = {}
    dim = config.vit_embed_dim

    log.info('exporting lungmask.onnx (wf %d, depth %d)', config.unet_wf, config.unet_depth)
    unet_input = check_inputs.unet_check_input()
    unet_batch = torch.from_numpy(check_inputs.make_check_batch(unet_input))
    data_path = export_onnx(unet, unet_batch, out_dir / 'lungmask.onnx', 'input', 'scores', args.external_data)
    files['lungmask'] = onnx_entry(
        out_dir / 'lungmask.onnx', data_path, out_dir,
        inputs=[tensor_entry('input', ['N', 1, UNET_INPUT_SIZE, UNET_INPUT_SIZE])],
        outputs=[tensor_entry('scores', ['N', UNET_CLASSES, UNET_INPUT_SIZE, UNET_INPUT_SIZE])])
    with torch.no_grad():
        scores = unet(unet_batch)
    print_statistics('lungmask scores', scores)
    labels = scores.argmax(dim=1)
    print('lungmask labels: ' + ', '.join(f'class {c} {(labels == c).double().mean().item():.4f}'
                                          for c in range(UNET_CLASSES)))
    check['lungmask'] = check_inputs.unet_check_entry(unet_input, unet_batch.numpy(), scores)
    del unet, scores
    if args.fp16:
        files['lungmask']['variants'] = {'fp16': float16_variant(out_dir / 'lungmask.onnx', out_dir, args.external_data)}
    if args.int8:
        files['lungmask'].setdefault('variants', {})['int8'] = same_file_variant(files['lungmask'])

    vit_input = check_inputs.vit_check_input()
    vit_batch = torch.from_numpy(check_inputs.make_check_batch(vit_input))
    for role, n_blocks in vit_blocks.items():
        model = build_vit(config, vit_parameters.pop(role), n_blocks)
        log.info('exporting %s.onnx (width %d, %d of %d blocks)', role, dim, n_blocks, config.vit_depth)
        path = out_dir / f'{role}.onnx'
        data_path = export_onnx(model, vit_batch, path, 'input', 'features', args.external_data)
        files[role] = onnx_entry(
            path, data_path, out_dir,
            inputs=[tensor_entry('input', ['N', VIT_INPUT_CHANNELS, VIT_INPUT_SIZE, VIT_INPUT_SIZE])],
            outputs=[tensor_entry('features', ['N', dim])],
            blocks=n_blocks, lastBlockClassTokenOnly=True)
        with torch.no_grad():
            features = model(vit_batch)
        print_statistics(f'{role} features', features)
        check[role] = check_inputs.vit_check_entry(vit_input, vit_batch.numpy(), features)
        del model
        if args.fp16:
            files[role]['variants'] = {'fp16': float16_variant(path, out_dir, args.external_data)}
        if args.int8:
            files[role].setdefault('variants', {})['int8'] = int8_variant(path, out_dir, args.external_data)

    write_json(out_dir / 'heads.json', heads_json(heads))
    files['heads'] = file_entry(out_dir / 'heads.json', out_dir)

    if args.write_check:
        check_path = Path(args.write_check)
        write_json(check_path, {'format': check_inputs.CHECK_FORMAT, 'createdBy': CREATED_BY, 'models': check},
                   compact=True)
        log.info('wrote %s', check_path)

    source_dir = Path(args.paths[0])
    manifest = {
        'format': MANIFEST_FORMAT,
        'name': args.name if args.name is not None else source_dir.resolve().name,
        'description': args.description if args.description is not None else default_description(args),
        # Only an export of the published checkpoints gives medically meaningful outputs.
        'published': bool(args.published),
        'createdBy': CREATED_BY,
        'config': config.raw,
        'files': files,
    }
    write_json(out_dir / 'manifest.json', manifest)
    log.info('wrote %s', out_dir / 'manifest.json')


def default_description(args) -> str:
    if args.published:
        return ('Balaitous 1.2: lungmask U-Net R231, iBOT ViT-L/16 fine-tuned on CT (24 blocks), '
                'iBOT ViT-L/16 pre-trained on ImageNet-22k (16 blocks), logistic-regression heads')
    return f'Exported from {Path(args.paths[0]).resolve().name} by {CREATED_BY}'


def main(argv=None) -> int:
    args = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s', stream=sys.stderr)
    try:
        if args.make_random:
            write_random_source(Path(args.paths[0]), args.seed, Path(args.heads) if args.heads else None)
            return 0
        source_dir, out_dir = Path(args.paths[0]), Path(args.paths[1])
        sources = published_sources(source_dir) if args.published else layout_sources(source_dir)
        export_all(sources, out_dir, args)
    except (SourceError, Float16Error) as error:
        log.error('%s', error)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
