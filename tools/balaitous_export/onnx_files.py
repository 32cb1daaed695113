"""ONNX export of one network and the manifest entries describing the written files."""
import inspect
import os
import tempfile
import warnings
from pathlib import Path
from typing import Dict, List, Optional

import onnx
import torch

from .sources import sha256_of_file

ONNX_OPSET = 17
# protobuf cannot serialise a message over 2 GiB, so larger models keep their tensors in a
# separate file.
PROTOBUF_LIMIT_BYTES = 2 ** 31
EXTERNAL_DATA_MODES = ('auto', 'always', 'never')
# With 'auto', models whose tensors take more than this keep them in a separate file. ONNX Runtime
# maps such a file into memory rather than copying each tensor out of the parsed model, so the
# session loads faster and the weights are not held twice while it starts.
EXTERNAL_DATA_MIN_BYTES = 64 * 2 ** 20


def stores_external_data(external_data: str, tensor_bytes: int) -> bool:
    """Whether a model of `tensor_bytes` that fits in one protobuf goes to two files."""
    return external_data == 'always' or (external_data == 'auto' and tensor_bytes > EXTERNAL_DATA_MIN_BYTES)
BATCH_AXIS = 'N'
# torch 2.9 and later export with the dynamo-based exporter unless told otherwise. The TorchScript
# exporter is the one the files and their manifest entries were checked with (torch 1.13).
TORCHSCRIPT_EXPORTER = {'dynamo': False} if 'dynamo' in inspect.signature(torch.onnx.export).parameters else {}


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path, input_name: str,
                output_name: str, external_data: str = 'auto') -> Optional[Path]:
    """Export `model` in eval mode with a dynamic batch axis to `path`.

    The tensors go to `<path>.data` when the model is over 2 GiB, or `stores_external_data` says
    so. The data file is referenced by its bare name, so ONNX Runtime finds it beside the
    model whatever the working directory, as long as the model is loaded from its path.
    Returns the path of the data file, or None.
    """
    if external_data not in EXTERNAL_DATA_MODES:
        raise ValueError(f'external_data must be one of {EXTERNAL_DATA_MODES}, got {external_data!r}')
    model.eval()
    data_path = path.with_name(path.name + '.data')
    with tempfile.TemporaryDirectory(dir=path.parent, prefix='.export-') as scratch:
        scratch_model = Path(scratch) / path.name
        with torch.no_grad(), warnings.catch_warnings():
            # torch 1.13 warns about every constant during shape inference. The warning is harmless.
            warnings.filterwarnings('ignore', message='The shape inference of prim::Constant type is missing')
            torch.onnx.export(
                model, (example,), str(scratch_model),
                export_params=True,
                opset_version=ONNX_OPSET,
                do_constant_folding=True,
                training=torch.onnx.TrainingMode.EVAL,
                input_names=[input_name],
                output_names=[output_name],
                dynamic_axes={input_name: {0: BATCH_AXIS}, output_name: {0: BATCH_AXIS}},
                **TORCHSCRIPT_EXPORTER,
            )
        # Over 2 GiB, torch writes each tensor to its own file beside the model.
        written = list(Path(scratch).iterdir())
        total_bytes = sum(file.stat().st_size for file in written)
        too_large = total_bytes > PROTOBUF_LIMIT_BYTES or len(written) > 1
        if too_large and external_data == 'never':
            raise RuntimeError(f'{path}: the model takes {total_bytes} bytes, over the 2 GiB protobuf limit; '
                               f'use --external-data auto')

        if data_path.exists():
            data_path.unlink()
        if too_large or stores_external_data(external_data, total_bytes):
            proto = onnx.load(str(scratch_model), load_external_data=True)
            onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data_path.name, size_threshold=1024)
            del proto
        else:
            os.replace(scratch_model, path)
            data_path = None

    onnx.checker.check_model(str(path))
    return data_path


def file_entry(path: Path, out_dir: Path) -> Dict:
    return {'path': path.relative_to(out_dir).as_posix(), 'sha256': sha256_of_file(path),
            'bytes': path.stat().st_size}


def tensor_entry(name: str, shape: List) -> Dict:
    return {'name': name, 'type': 'float32', 'shape': shape}


def onnx_entry(path: Path, data_path: Optional[Path], out_dir: Path, inputs: List[Dict],
               outputs: List[Dict], **extra) -> Dict:
    entry = file_entry(path, out_dir)
    entry.update(inputs=inputs, outputs=outputs, opset=ONNX_OPSET, **extra)
    if data_path is not None:
        entry['externalData'] = file_entry(data_path, out_dir)
    return entry
