"""Models of every search space, converted by the project's own pipeline with every compression
path (post-training quantization, quantization-aware training, clustering, channel pruning,
unstructured and 2:4 sparsity), exported, and run by the generated C runtime with identical
outputs to TensorFlow Lite's reference kernels.

Weights are random rather than trained: what decides exactness is the graph and its
quantization, which each path produces as training would (training only moves the values)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinynas.export import ExportInfo, export_bundle
from tinynas.export._verify import build_host, reference_outputs, run_host
from tinynas.spaces import Compression, load_space, space_names

pytestmark = pytest.mark.slow

SAMPLE_SHAPES = {"ds_cnn": (12, 10, 1), "cnn": (10, 10, 1), "cnn1d": (24, 3), "gru": (8, 3),
                 "mixed_cnn": (10, 12, 1)}
#: Spaces whose smallest architecture would leave a block kind out: a plain and a separable block.
ARCHS = {"mixed_cnn": {"first_filters": 8, "first_kernel": 3, "first_stride": 2,
                       "filters": [8, 16], "kernels": [3, 3], "strides": [1, 2],
                       "separable": [False, True], "pooling": "flatten", "dense_units": 0,
                       "dropout": 0.0}}
#: Besides post-training quantization, the compression path each space's second model takes;
#: together they cover every choice a space file offers.
VARIANTS = {"ds_cnn": "qat+clusters+channel", "cnn": "ptq+2:4", "cnn1d": "ptq+unstructured",
            "gru": "qat", "mixed_cnn": "qat+unstructured"}


def _sparsify(model, pattern: str) -> None:  # type: ignore[no-untyped-def]
    """Zero half of every kernel: the smallest magnitudes, or 2 of every 4 input weights."""
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights or weights[0].ndim < 2:
            continue
        kernel = weights[0]
        if pattern == "2:4" and kernel.shape[-2] % 4 == 0:
            groups = np.moveaxis(kernel, -2, -1).reshape(-1, 4)
            order = np.argsort(np.abs(groups), axis=1)
            np.put_along_axis(groups, order[:, :2], 0.0, axis=1)
            kernel = np.moveaxis(groups.reshape(np.moveaxis(kernel, -2, -1).shape), -1, -2)
        else:
            kernel = np.where(np.abs(kernel) < np.median(np.abs(kernel)), 0.0, kernel)
        layer.set_weights([kernel.astype(np.float32), *weights[1:]])


def _models(space_name: str) -> dict[str, bytes]:
    """The space's smallest architecture post-training quantized, and its compressed variant."""
    from tinynas.compress import cluster, quantize_aware, strip_clustering
    from tinynas.convert import to_int8_tflite
    from tinynas.keras_env import seed_everything

    seed_everything(3)
    space = load_space(space_name)
    shape = space.model_input_shape(SAMPLE_SHAPES[space_name])
    samples = np.random.default_rng(0).normal(size=(64, *shape)).astype(np.float32)
    arch = space.arch_from_dict(ARCHS[space_name]) if space_name in ARCHS else space.smallest()
    variant = VARIANTS[space_name]
    models = {"ptq": to_int8_tflite(space.build(arch, shape, 5), shape, samples)}
    if "channel" in variant:
        arch = space.effective_arch(arch, Compression("qat", "channel", 0.5))
    model = space.build(arch, shape, 5)
    if "clusters" in variant:
        model = strip_clustering(cluster(model, 8, preserve_sparsity=False))
    for pattern in ("2:4", "unstructured"):
        if pattern in variant:
            _sparsify(model, pattern)
    if variant.startswith("qat"):
        model = quantize_aware(model, "clusters" if "clusters" in variant else "none")
    models[variant] = to_int8_tflite(model, shape, samples)
    return models


@pytest.mark.parametrize("space_name", space_names())
def test_every_compression_path_runs_identically(space_name: str, tmp_path: Path) -> None:
    from tinynas.convert import quantize_input
    from tinynas.tflite_reader import read_tflite

    models = _models(space_name)
    for label, tflite in models.items():
        out = tmp_path / label.replace("+", "_").replace(":", "")
        export_bundle(tflite, out, ExportInfo(arch={"space": space_name}))
        graph = read_tflite(tflite)
        x, y = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
        rng = np.random.default_rng(1)
        inputs = np.concatenate([
            quantize_input(rng.normal(size=(100, x.elements)), x.scale[0], x.zero_point[0]),
            rng.integers(-128, 128, size=(100, x.elements), dtype=np.int8)])
        program = build_host(out, sanitize=label == "ptq")
        got = run_host(program, inputs, y.elements)
        expected = reference_outputs(tflite, inputs)
        identical = int(np.all(got == expected, axis=1).sum())
        assert identical == len(inputs), f"{space_name} {label}: {identical}/{len(inputs)}"
