"""Half-precision copies of exported ONNX models.

The copy stores every float32 weight and constant as float16 and computes in float16. Its graph
inputs and outputs stay float32, with a Cast after each input and before each output, so code
that feeds and reads the float32 model runs the copy unchanged.
"""
import logging
from pathlib import Path
from typing import Dict, Optional, Set, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .onnx_files import EXTERNAL_DATA_MODES, PROTOBUF_LIMIT_BYTES, stores_external_data

log = logging.getLogger('export-models')

FLOAT16_MAX = float(np.finfo(np.float16).max)
# Float inputs that the ONNX operator schemas type as tensor(float) whatever the data type, as
# (op_type, input index). A float16 tensor there makes the model invalid.
FLOAT32_ONLY_INPUTS = {
    ('Resize', 2),  # scales
}
# Suffix of the tensors that carry float16 copies of the float32 graph inputs and outputs.
CAST_SUFFIX = '_float16'


class Float16Error(Exception):
    """A model that cannot be converted to float16, e.g. a weight beyond the float16 range."""


def _float32_only_tensors(graph: onnx.GraphProto) -> Set[str]:
    names = set()
    for node in graph.node:
        for index, name in enumerate(node.input):
            if (node.op_type, index) in FLOAT32_ONLY_INPUTS and name:
                names.add(name)
    return names


def _to_float16(tensor: onnx.TensorProto, where: str) -> Tuple[onnx.TensorProto, int]:
    """Return a float16 copy of a float32 tensor and the number of non-zero values that
    became zero. A finite value beyond the float16 range is an error."""
    values = numpy_helper.to_array(tensor)
    finite = np.isfinite(values)
    overflow = finite & (np.abs(values) > FLOAT16_MAX)
    if overflow.any():
        raise Float16Error(f'{where}: {int(overflow.sum())} value(s) beyond the float16 range '
                           f'(largest magnitude {float(np.abs(values[finite]).max()):.6g}, '
                           f'float16 max {FLOAT16_MAX:g}); keep this model in float32')
    converted = values.astype(np.float16)
    underflow = int(np.count_nonzero((converted == 0) & (values != 0)))
    result = numpy_helper.from_array(converted, tensor.name)
    return result, underflow


def convert_to_float16(model: onnx.ModelProto, source: str) -> onnx.ModelProto:
    """Convert `model` to float16 in place, keeping its float32 inputs and outputs, and return
    it with the intermediate types inferred again.

    `source` names the model in errors and log lines. Handles the operators of the exported
    networks: float initializers, Constant and ConstantOfShape values and Cast targets are
    converted, and tensors listed in FLOAT32_ONLY_INPUTS stay float32. The model is converted in
    place because a copy of a model over 2 GiB cannot be serialised.
    """
    graph = model.graph
    keep_float32 = _float32_only_tensors(graph)
    flushed = 0

    for index, initializer in enumerate(graph.initializer):
        if initializer.data_type == TensorProto.FLOAT and initializer.name not in keep_float32:
            converted, underflow = _to_float16(initializer, f'{source}: initializer {initializer.name}')
            graph.initializer[index].CopyFrom(converted)
            flushed += underflow

    for node in graph.node:
        for attribute in node.attribute:
            if node.op_type == 'Cast' and attribute.name == 'to' and attribute.i == TensorProto.FLOAT:
                attribute.i = TensorProto.FLOAT16
            elif (attribute.type == onnx.AttributeProto.TENSOR and attribute.t.data_type == TensorProto.FLOAT
                  and not set(node.output) & keep_float32):
                converted, underflow = _to_float16(attribute.t, f'{source}: {node.op_type} {node.name or node.output[0]}')
                attribute.t.CopyFrom(converted)
                flushed += underflow
            elif attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                raise Float16Error(f'{source}: {node.op_type} {node.name} has a subgraph; '
                                   f'the float16 conversion does not handle control flow')

    renamed_inputs: Dict[str, str] = {}
    casts_in = []
    for value in graph.input:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            half = value.name + CAST_SUFFIX
            renamed_inputs[value.name] = half
            casts_in.append(helper.make_node('Cast', [value.name], [half], to=TensorProto.FLOAT16,
                                             name=f'cast_{value.name}_to_float16'))
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in renamed_inputs:
                node.input[index] = renamed_inputs[name]

    casts_out = []
    for value in graph.output:
        if value.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        half = value.name + CAST_SUFFIX
        producer: Optional[onnx.NodeProto] = next((node for node in graph.node if value.name in node.output), None)
        if producer is None:
            raise Float16Error(f'{source}: output {value.name} is not produced by a node')
        for index, name in enumerate(producer.output):
            if name == value.name:
                producer.output[index] = half
        for node in graph.node:
            for index, name in enumerate(node.input):
                if name == value.name:
                    node.input[index] = half
        casts_out.append(helper.make_node('Cast', [half], [value.name], to=TensorProto.FLOAT,
                                          name=f'cast_{value.name}_to_float32'))

    nodes = casts_in + list(graph.node) + casts_out
    del graph.node[:]
    graph.node.extend(nodes)
    # The intermediate types changed, so let shape inference describe them again. It also
    # checks that every operator accepts its new input types. onnx cannot infer shapes of a
    # model over 2 GiB in memory, and ONNX Runtime does not need the descriptions.
    del graph.value_info[:]
    if model.ByteSize() < PROTOBUF_LIMIT_BYTES:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    if flushed:
        log.info('%s: %d non-zero weight value(s) below the float16 range became 0', source, flushed)
    return model


def write_float16_copy(source_path: Path, target_path: Path, external_data: str = 'auto') -> Optional[Path]:
    """Convert the model at `source_path` and write it to `target_path`.

    The tensors go to `<target_path>.data` when the converted model is over 2 GiB, or
    `stores_external_data` says so. Returns the path of the data file, or None.
    """
    if external_data not in EXTERNAL_DATA_MODES:
        raise ValueError(f'external_data must be one of {EXTERNAL_DATA_MODES}, got {external_data!r}')
    model = convert_to_float16(onnx.load(str(source_path), load_external_data=True), source_path.name)
    data_path = target_path.with_name(target_path.name + '.data')
    if data_path.exists():
        data_path.unlink()
    too_large = model.ByteSize() > PROTOBUF_LIMIT_BYTES
    if too_large and external_data == 'never':
        raise Float16Error(f'{target_path}: the model takes {model.ByteSize()} bytes, over the 2 GiB '
                           f'protobuf limit; use --external-data auto')
    if too_large or stores_external_data(external_data, model.ByteSize()):
        onnx.save_model(model, str(target_path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data_path.name, size_threshold=1024)
    else:
        onnx.save_model(model, str(target_path))
        data_path = None
    onnx.checker.check_model(str(target_path))
    return data_path
