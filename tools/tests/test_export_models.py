"""Tests of tools/export-models: validation errors, the published-file checks and a deterministic
end-to-end export. Run with `/usr/bin/python3 -m unittest discover -s tools/tests` (needs torch
and onnx)."""
import argparse
import copy
import io
import json
import logging
import sys
import tempfile
import unittest
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

TOOLS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLS))

import export_models  # noqa: E402
from balaitous_export import published  # noqa: E402
from balaitous_export.float16 import Float16Error, convert_to_float16  # noqa: E402
from balaitous_export.networks import LungUNet, ViTFeatures  # noqa: E402
from balaitous_export.int8 import convert_to_int8, quantize_weight  # noqa: E402
from balaitous_export.onnx_files import EXTERNAL_DATA_MIN_BYTES, stores_external_data  # noqa: E402
from balaitous_export.sources import (  # noqa: E402
    SourceError, load_state_dict, parse_config, read_heads, select_parameters, sha256_of_file, unet_expected_shapes,
    unet_optional_keys, vit_expected_shapes, vit_optional_keys)

# Progress messages of the tool; errors are still printed.
logging.disable(logging.INFO)

FIXTURE = TOOLS.parent.parent / 'shared' / 'weights' / 'fixture-tiny'
SMALL_CONFIG = {
    'unet': {'wf': 1, 'depth': 2},
    'vit': {'embed_dim': 8, 'num_heads': 2, 'depth': 3, 'patch_size': 16},
    'n_blocks_full': 3,
    'n_blocks_lung': 2,
}


def small_config(**changes):
    raw = copy.deepcopy(SMALL_CONFIG)
    for path, value in changes.items():
        section, _, key = path.rpartition('__')
        (raw[section] if section else raw)[key] = value
    return raw


def full_vit_state(config) -> dict:
    """A whole-ViT state dict of `vit.depth` blocks with the final norm, as a checkpoint has it."""
    state = ViTFeatures(config.vit_embed_dim, config.vit_num_heads, config.vit_depth, config.vit_patch_size).state_dict()
    state['norm.weight'] = torch.ones(config.vit_embed_dim)
    state['norm.bias'] = torch.zeros(config.vit_embed_dim)
    return state


def select_vit(state, config, n_blocks):
    return select_parameters(state, vit_expected_shapes(config, n_blocks), vit_optional_keys(config), 'vit.pth',
                             config.source)


class ConfigTest(unittest.TestCase):
    def assert_rejected(self, raw, message):
        with self.assertRaises(SourceError) as context:
            parse_config(raw, 'config.json')
        self.assertIn(message, str(context.exception))

    def test_valid_config(self):
        config = parse_config(small_config(), 'config.json')
        self.assertEqual(config.vit_embed_dim, 8)
        self.assertEqual(config.n_blocks_lung, 2)
        self.assertEqual(config.raw, SMALL_CONFIG)

    def test_missing_key(self):
        raw = small_config()
        del raw['vit']['num_heads']
        self.assert_rejected(raw, 'config.json: missing key "vit.num_heads"')

    def test_unknown_key(self):
        self.assert_rejected(small_config(vit__heads=2), 'unknown key "vit.heads"')
        self.assert_rejected(small_config(extra=1), 'unknown key "extra"')

    def test_invalid_values(self):
        self.assert_rejected(small_config(unet__wf=0), '"unet.wf" must be a positive integer, found 0')
        self.assert_rejected(small_config(unet__wf=True), '"unet.wf" must be a positive integer, found true')
        self.assert_rejected(small_config(vit__depth='3'), '"vit.depth" must be a positive integer')
        self.assert_rejected(small_config(vit__num_heads=3), 'must be a multiple of "vit.num_heads"')
        self.assert_rejected(small_config(vit__patch_size=15), '"vit.patch_size" (15) must divide')
        self.assert_rejected(small_config(n_blocks_lung=4), '"n_blocks_lung" (4) exceeds "vit.depth" (3)')


class StateDictTest(unittest.TestCase):
    def setUp(self):
        self.config = parse_config(small_config(), 'config.json')

    def test_unet_state_dict_accepted(self):
        state = LungUNet(1, 2).state_dict()
        parameters = select_parameters(state, unet_expected_shapes(self.config), unet_optional_keys, 'unet.pth',
                                       'config.json')
        self.assertIn('last.weight', parameters)
        self.assertNotIn('down_path.0.block.2.num_batches_tracked', parameters)

    def test_unet_without_step_counters_accepted(self):
        state = {key: value for key, value in LungUNet(1, 2).state_dict().items()
                 if not key.endswith('num_batches_tracked')}
        select_parameters(state, unet_expected_shapes(self.config), unet_optional_keys, 'unet.pth', 'config.json')

    def test_wrong_shape_names_key(self):
        state = LungUNet(1, 2).state_dict()
        state['last.weight'] = torch.zeros(3, 4, 1, 1)
        with self.assertRaises(SourceError) as context:
            select_parameters(state, unet_expected_shapes(self.config), unet_optional_keys, 'unet.pth', 'config.json')
        self.assertIn('unet.pth: key "last.weight" has shape [3, 4, 1, 1], expected [3, 2, 1, 1]',
                      str(context.exception))
        self.assertIn('sizes in config.json', str(context.exception))

    def test_missing_key_named(self):
        state = LungUNet(1, 2).state_dict()
        del state['last.bias']
        with self.assertRaisesRegex(SourceError, r'unet\.pth: missing key "last\.bias" \(expected shape \[3\]\)'):
            select_parameters(state, unet_expected_shapes(self.config), unet_optional_keys, 'unet.pth', 'config.json')

    def test_unexpected_key_named(self):
        state = LungUNet(1, 2).state_dict()
        state['extra.weight'] = torch.zeros(2)
        with self.assertRaisesRegex(SourceError, r'unexpected key "extra\.weight" \(shape \[2\]\)'):
            select_parameters(state, unet_expected_shapes(self.config), unet_optional_keys, 'unet.pth', 'config.json')

    def test_integer_parameter_rejected(self):
        state = LungUNet(1, 2).state_dict()
        state['last.bias'] = torch.zeros(3, dtype=torch.int64)
        with self.assertRaisesRegex(SourceError, r'key "last\.bias" has dtype torch\.int64'):
            select_parameters(state, unet_expected_shapes(self.config), unet_optional_keys, 'unet.pth', 'config.json')

    def test_vit_drops_unused_keys(self):
        state = full_vit_state(self.config)
        state['masked_embed'] = torch.zeros(1, 8)
        state['head.weight'] = torch.zeros(5, 8)
        parameters = select_vit(state, self.config, 2)
        self.assertEqual(set(parameters), set(vit_expected_shapes(self.config, 2)))
        self.assertNotIn('blocks.2.norm1.weight', parameters)
        self.assertNotIn('norm.weight', parameters)

    def test_vit_block_beyond_depth_rejected(self):
        state = full_vit_state(self.config)
        state['blocks.3.norm1.weight'] = torch.zeros(8)
        with self.assertRaisesRegex(SourceError, r'unexpected key "blocks\.3\.norm1\.weight"'):
            select_vit(state, self.config, 2)

    def test_vit_unused_block_shape_checked(self):
        state = full_vit_state(self.config)
        state['blocks.2.mlp.fc1.weight'] = torch.zeros(16, 8)
        with self.assertRaisesRegex(SourceError, r'key "blocks\.2\.mlp\.fc1\.weight" has shape \[16, 8\], expected \[32, 8\]'):
            select_vit(state, self.config, 2)

    def test_vit_of_other_width_rejected(self):
        wide = parse_config(small_config(vit__embed_dim=16), 'config.json')
        with self.assertRaisesRegex(SourceError, r'key "cls_token" has shape \[1, 1, 16\], expected \[1, 1, 8\]'):
            select_vit(full_vit_state(wide), self.config, 2)


class FileTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.root = Path(self.directory.name)

    def tearDown(self):
        self.directory.cleanup()

    def test_missing_checkpoint(self):
        with self.assertRaisesRegex(SourceError, r'absent\.pth: file not found'):
            load_state_dict(self.root / 'absent.pth')

    def test_corrupt_checkpoint(self):
        path = self.root / 'corrupt.pth'
        path.write_bytes(b'not a checkpoint\n')
        with self.assertRaisesRegex(SourceError, r'corrupt\.pth: not a (readable )?PyTorch checkpoint'):
            load_state_dict(path)
        path.write_bytes(b'')
        with self.assertRaisesRegex(SourceError, r'corrupt\.pth: not a (readable )?PyTorch checkpoint'):
            load_state_dict(path)

    def test_container_key(self):
        path = self.root / 'wrapped.pth'
        torch.save({'state_dict': {'a': torch.zeros(1)}}, path)
        self.assertEqual(list(load_state_dict(path, 'state_dict')), ['a'])
        with self.assertRaisesRegex(SourceError, r'wrapped\.pth: key \'state_dict\' is not a tensor'):
            load_state_dict(path)
        with self.assertRaisesRegex(SourceError, r'missing key "model"'):
            load_state_dict(path, 'model')

    def test_pickled_objects_need_trust(self):
        path = self.root / 'objects.pth'
        torch.save({'state_dict': {'a': torch.zeros(1)}, 'args': argparse.Namespace(epochs=1)}, path)
        with self.assertRaisesRegex(SourceError, r'--trust-pickle'):
            load_state_dict(path, 'state_dict')

    def write_heads(self, features, **changes):
        arrays = {}
        for name in ('full_covid', 'lung_covid', 'full_severe', 'lung_severe'):
            arrays[f'coef_{name}'] = np.linspace(-1, 1, features + (2 if name.endswith('severe') else 0))
            arrays[f'intercept_{name}'] = np.float64(0.1)
            arrays[f'alpha_{name}'] = np.float64(0.5)
        arrays.update(changes)
        arrays = {key: value for key, value in arrays.items() if value is not None}
        path = self.root / 'heads.npz'
        np.savez(path, **arrays)
        return path

    def test_heads_read_exactly(self):
        heads = read_heads(self.write_heads(4, alpha_full_covid=np.float64(0.35000000000000003)), 4)
        self.assertEqual(len(heads.heads['full_severe'].coef), 6)
        self.assertEqual(heads.alpha['full_covid'], 0.35000000000000003)

    def test_heads_errors(self):
        with self.assertRaisesRegex(SourceError, r'key "coef_full_severe" has shape \[4\]'):
            read_heads(self.write_heads(4, coef_full_severe=np.zeros(4)), 4)
        with self.assertRaisesRegex(SourceError, r'missing key "alpha_lung_covid"'):
            read_heads(self.write_heads(4, alpha_lung_covid=None), 4)
        with self.assertRaisesRegex(SourceError, r'key "intercept_lung_covid" contains non-finite values'):
            read_heads(self.write_heads(4, intercept_lung_covid=np.float64('nan')), 4)
        with self.assertRaisesRegex(SourceError, r'unexpected key "coef_other"'):
            read_heads(self.write_heads(4, coef_other=np.zeros(4)), 4)

    def test_published_hash_prefix_checked(self):
        (self.root / 'unet_r231-d5d2fc3d.pth').write_bytes(b'other content')
        with self.assertRaisesRegex(SourceError, r'expected it to start with d5d2fc3d'):
            published.verify_published_file(self.root, 'lungmask')

    def test_published_hash_checked(self):
        (self.root / 'balaitous.npz').write_bytes(b'other content')
        with self.assertRaisesRegex(SourceError, r'SHA-256 is [0-9a-f]{64}, expected 3adb710c'):
            published.verify_published_file(self.root, 'heads')

    def test_published_missing_file(self):
        with self.assertRaisesRegex(SourceError, r'vitl_16_ct\.pth: file not found'):
            published.verify_published_file(self.root, 'vit_full')


@unittest.skipUnless(FIXTURE.is_dir(), f'stand-in weights not found at {FIXTURE}')
class NetworkTest(unittest.TestCase):
    def test_vit_last_block_computes_class_token(self):
        torch.manual_seed(0)
        model = ViTFeatures(embed_dim=64, num_heads=4, n_blocks=3, patch_size=16).eval()
        for parameter in model.parameters():
            torch.nn.init.normal_(parameter, std=0.1)
        images = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            tokens = model.patch_embed(images)
            tokens = torch.cat([model.cls_token.expand(2, -1, -1), tokens], dim=1) + model.pos_embed
            for block in model.blocks:
                tokens = block(tokens)
            features = model(images)
        self.assertEqual(list(features.shape), [2, 64])
        torch.testing.assert_close(features, tokens[:, 0], rtol=1e-5, atol=1e-5)


class ExternalDataTest(unittest.TestCase):
    def test_modes(self):
        large = EXTERNAL_DATA_MIN_BYTES + 1
        self.assertTrue(stores_external_data('auto', large))
        self.assertFalse(stores_external_data('auto', EXTERNAL_DATA_MIN_BYTES))
        self.assertTrue(stores_external_data('always', 1))
        self.assertFalse(stores_external_data('never', large))


class ExportTest(unittest.TestCase):
    def test_export_is_deterministic(self):
        with tempfile.TemporaryDirectory() as scratch:
            outputs = [Path(scratch) / 'first', Path(scratch) / 'second']
            for out in outputs:
                with redirect_stdout(io.StringIO()):
                    self.assertEqual(export_models.main([str(FIXTURE), str(out)]), 0)
            names = sorted(path.name for path in outputs[0].iterdir())
            self.assertEqual(names, ['heads.json', 'lungmask.onnx', 'manifest.json', 'vit_full.onnx', 'vit_lung.onnx'])
            for name in names:
                self.assertEqual((outputs[0] / name).read_bytes(), (outputs[1] / name).read_bytes(), name)

            manifest = json.loads((outputs[0] / 'manifest.json').read_text())
            self.assertEqual(manifest['files']['vit_lung']['blocks'], 3)
            self.assertEqual(manifest['files']['vit_full']['outputs'][0]['shape'], ['N', 64])
            self.assertIs(manifest['published'], False)

    def test_bad_source_writes_nothing(self):
        with tempfile.TemporaryDirectory() as scratch:
            source = Path(scratch) / 'source'
            source.mkdir()
            for file in FIXTURE.iterdir():
                (source / file.name).write_bytes(file.read_bytes())
            state = torch.load(source / 'vit_lung.pth')
            state['blocks.1.attn.qkv.bias'] = torch.zeros(3)
            torch.save(state, source / 'vit_lung.pth')
            out = Path(scratch) / 'out'
            self.assertEqual(export_models.main([str(source), str(out)]), 1)
            self.assertFalse(out.exists())

    def test_fp16_variants(self):
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / 'out'
            with redirect_stdout(io.StringIO()):
                self.assertEqual(export_models.main([str(FIXTURE), str(out), '--fp16']), 0)
            manifest = json.loads((out / 'manifest.json').read_text())
            for role in ('lungmask', 'vit_full', 'vit_lung'):
                variant = manifest['files'][role]['variants']['fp16']
                self.assertEqual(variant['path'], f'{role}.fp16.onnx')
                path = out / variant['path']
                self.assertEqual(variant['bytes'], path.stat().st_size, role)
                self.assertEqual(variant['sha256'], sha256_of_file(path), role)
                self.assertNotIn('externalData', variant, role)

                model = onnx.load(str(path))
                self.assertEqual([value.type.tensor_type.elem_type for value in model.graph.input], [TensorProto.FLOAT])
                self.assertEqual([value.type.tensor_type.elem_type for value in model.graph.output], [TensorProto.FLOAT])
                float32_weights = [tensor.name for tensor in model.graph.initializer
                                   if tensor.data_type == TensorProto.FLOAT]
                self.assertEqual(float32_weights, [], role)

    def test_fp16_external_data(self):
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / 'out'
            with redirect_stdout(io.StringIO()):
                self.assertEqual(export_models.main([str(FIXTURE), str(out), '--fp16', '--external-data', 'always']), 0)
            entry = json.loads((out / 'manifest.json').read_text())['files']['vit_lung']
            self.assertEqual(entry['externalData']['path'], 'vit_lung.onnx.data')
            data = entry['variants']['fp16']['externalData']
            self.assertEqual(data['path'], 'vit_lung.fp16.onnx.data')
            self.assertEqual(data['sha256'], sha256_of_file(out / data['path']))


class Int8Test(unittest.TestCase):
    def test_weight_columns_scaled_separately(self):
        weight = np.array([[0.5, -2.0, 0.0], [-0.25, 1.0, 0.0]], dtype=np.float32)
        quantized, scale = quantize_weight(weight)
        self.assertEqual(quantized.dtype, np.int8)
        np.testing.assert_allclose(scale, [0.5 / 127, 2.0 / 127, 1.0], rtol=1e-6)
        np.testing.assert_array_equal(quantized, [[127, -127, 0], [-64, 64, 0]])
        # Rounding to the nearest step: within half a step of each weight.
        self.assertLessEqual(float(np.abs(quantized * scale - weight).max()), float(scale[:2].max()) / 2)

    def test_vit_matmuls_quantised(self):
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / 'out'
            with redirect_stdout(io.StringIO()):
                self.assertEqual(export_models.main([str(FIXTURE), str(out), '--int8']), 0)
            manifest = json.loads((out / 'manifest.json').read_text())
            self.assertEqual(manifest['files']['lungmask']['variants']['int8']['path'], 'lungmask.onnx')
            self.assertEqual(manifest['files']['lungmask']['variants']['int8']['sha256'],
                             manifest['files']['lungmask']['sha256'])
            for role in ('vit_full', 'vit_lung'):
                variant = manifest['files'][role]['variants']['int8']
                self.assertEqual(variant['path'], f'{role}.int8.onnx')
                self.assertEqual(variant['sha256'], sha256_of_file(out / variant['path']), role)

                source = onnx.load(str(out / f'{role}.onnx'))
                weights = {tensor.name for tensor in source.graph.initializer}
                weight_matmuls = [node.name for node in source.graph.node
                                  if node.op_type == 'MatMul' and node.input[1] in weights]
                first_block = [name for name in weight_matmuls if name.startswith('/blocks.0/')]
                self.assertEqual(len(first_block), 4, role)
                model = onnx.load(str(out / variant['path']))
                quantised = [node for node in model.graph.node if node.op_type == 'DynamicQuantizeMatMul']
                self.assertEqual(len(quantised), len(weight_matmuls) - len(first_block), role)
                # The first block's MatMuls stay float32.
                float_matmuls = {node.name for node in model.graph.node if node.op_type == 'MatMul'}
                self.assertTrue(set(first_block) <= float_matmuls, role)
                # Every Linear layer's bias moved into its node.
                self.assertTrue(all(len(node.input) == 5 for node in quantised), role)
                int8_weights = {tensor.name for tensor in model.graph.initializer if tensor.data_type == TensorProto.INT8}
                self.assertTrue(all(node.input[1] in int8_weights for node in quantised), role)
                self.assertEqual([value.type.tensor_type.elem_type for value in model.graph.input], [TensorProto.FLOAT])
                self.assertEqual([value.type.tensor_type.elem_type for value in model.graph.output], [TensorProto.FLOAT])

    def test_bias_kept_when_output_is_shared(self):
        weight = helper.make_tensor('w', TensorProto.FLOAT, [2, 3], [1, 2, 3, 4, 5, 6])
        bias = helper.make_tensor('b', TensorProto.FLOAT, [3], [1, 1, 1])
        graph = helper.make_graph(
            [helper.make_node('MatMul', ['x', 'w'], ['y']), helper.make_node('Add', ['y', 'b'], ['z']),
             helper.make_node('Relu', ['y'], ['r'])],
            'shared', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 2])],
            [helper.make_tensor_value_info('z', TensorProto.FLOAT, [1, 3]),
             helper.make_tensor_value_info('r', TensorProto.FLOAT, [1, 3])],
            initializer=[weight, bias])
        model = convert_to_int8(helper.make_model(graph), 'shared')
        self.assertEqual([node.op_type for node in model.graph.node], ['DynamicQuantizeMatMul', 'Add', 'Relu'])
        self.assertEqual(len(model.graph.node[0].input), 4)


class Float16Test(unittest.TestCase):
    def scaled_model(self, scale: float) -> onnx.ModelProto:
        weight = helper.make_tensor('weight', TensorProto.FLOAT, [2], [scale, 1e-9])
        node = helper.make_node('Mul', ['input', 'weight'], ['output'])
        graph = helper.make_graph(
            [node], 'scale', [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['N', 2])],
            [helper.make_tensor_value_info('output', TensorProto.FLOAT, ['N', 2])], [weight])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])

    def test_inputs_and_outputs_stay_float32(self):
        model = convert_to_float16(self.scaled_model(3.0), 'scale.onnx')
        onnx.checker.check_model(model)
        self.assertEqual([node.op_type for node in model.graph.node], ['Cast', 'Mul', 'Cast'])
        self.assertEqual(model.graph.input[0].type.tensor_type.elem_type, TensorProto.FLOAT)
        self.assertEqual(model.graph.output[0].type.tensor_type.elem_type, TensorProto.FLOAT)
        self.assertEqual(model.graph.initializer[0].data_type, TensorProto.FLOAT16)

    def test_weight_beyond_range_rejected(self):
        with self.assertRaisesRegex(Float16Error, r'scale\.onnx: initializer weight: 1 value\(s\) beyond the float16 range'):
            convert_to_float16(self.scaled_model(1e6), 'scale.onnx')

    def test_resize_scales_stay_float32(self):
        scales = helper.make_tensor('scales', TensorProto.FLOAT, [4], [1, 1, 2, 2])
        node = helper.make_node('Resize', ['input', '', 'scales'], ['output'], mode='linear')
        graph = helper.make_graph(
            [node], 'resize', [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 1, 4, 4])],
            [helper.make_tensor_value_info('output', TensorProto.FLOAT, [1, 1, 8, 8])], [scales])
        model = convert_to_float16(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)]), 'resize.onnx')
        onnx.checker.check_model(model, full_check=True)
        self.assertEqual(model.graph.initializer[0].data_type, TensorProto.FLOAT)


if __name__ == '__main__':
    unittest.main()
