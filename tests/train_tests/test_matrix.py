"""Every space x every compression choice converts to full int8, matches its predicted graph,
and runs in the TFLite Micro interpreter as in TFLite (within a few LSB, see _int8.py).

Grouped to stay cheap: one training run per row goes through several steps (pruning, clustering,
QAT), and every step's int8 model is checked; all but the QAT step are post-training quantized.
Together the rows cover each value of each compression dimension a space offers, plain QAT and
prune+cluster-preserving QAT.
"""

from __future__ import annotations

import pytest
from spaces_tests._int8 import SAMPLE_SHAPES, assert_micro_agrees, assert_same_graph, random_dataset

from tinynas.spaces import Compression, TrainingConfig, load_space, space_names
from tinynas.tflite_reader import read_tflite

ROWS = {
    # channel pruning (narrower layers), plain QAT, distillation from a teacher
    "qat-channel-distilled": Compression("qat", "channel", 0.5, 0, True),
    # magnitude pruning, sparsity-preserving clustering, prune+cluster-preserving QAT
    "qat-unstructured-clusters": Compression("qat", "unstructured", 0.5, 8, False),
    # 2:4 pruning, post-training quantization as the final choice
    "ptq-2:4": Compression("ptq", "2:4", 0.5, 0, False),
}
TINY = TrainingConfig(epochs=1, batch_size=16, learning_rate=3e-3, patience=1)


@pytest.mark.slow
@pytest.mark.parametrize("row", list(ROWS))
@pytest.mark.parametrize("space_name", space_names())
def test_every_step_is_full_int8_and_runs_in_tflite_micro(space_name: str, row: str) -> None:
    from tinynas.train import train_candidate

    space = load_space(space_name)
    compression = ROWS[row]
    if compression.pruning not in space.config.compression.pruning:
        pytest.skip(f"{space_name} does not offer {compression.pruning} pruning")
    data = random_dataset(SAMPLE_SHAPES[space.config.family])
    shape = space.model_input_shape(data.input_shape)
    arch = space.smallest()
    teacher = space.build(arch, shape, data.num_classes) if compression.distillation else None

    result = train_candidate(space, arch, compression, data, TINY, seed=1, teacher=teacher)
    _assert_every_step_runs(space, arch, compression, data, result)


@pytest.mark.slow
def test_a_dense_only_model_prunes_quantizes_and_runs_in_tflite_micro() -> None:
    """``mixed_cnn`` without convolution: the flattened input feeds the hidden layer, whose
    channels pruning narrows; QAT and distillation run on it as on a convolution stack."""
    from tinynas.train import train_candidate

    space = load_space("mixed_cnn")
    data = random_dataset(SAMPLE_SHAPES["mixed_cnn"])
    shape = space.model_input_shape(data.input_shape)
    arch = space.arch_from_dict({"first_filters": 0, "first_kernel": 1, "first_stride": 1,
                                 "filters": [], "kernels": [], "strides": [], "separable": [],
                                 "pooling": "flatten", "dense_units": 32, "dropout": 0.1})
    compression = ROWS["qat-channel-distilled"]
    teacher = space.build(space.smallest(), shape, data.num_classes)
    result = train_candidate(space, arch, compression, data, TINY, seed=1, teacher=teacher)
    assert getattr(result.arch, "dense_units") == 16  # noqa: B009
    _assert_every_step_runs(space, arch, compression, data, result)


def _assert_every_step_runs(space, arch, compression: Compression, data, result) -> None:
    """Every step is full int8, is the predicted graph and runs in TFLite Micro as in TFLite."""
    shape = space.model_input_shape(data.input_shape)
    expected = ["float", "ptq"] + (["pruned"] if compression.pruning != "none" else []) + (
        ["clustered"] if compression.clusters else []) + (
        ["qat"] if compression.quantization == "qat" else [])
    assert [s["name"] for s in result.stages] == expected
    assert result.tflite == result.stages[-1]["tflite"]
    assert result.arch == space.effective_arch(arch, compression)
    for stage in result.stages[1:]:
        tflite = stage["tflite"]
        graph = read_tflite(tflite)  # refuses anything that is not full int8
        assert graph.tensor(graph.inputs[0]).dtype == "int8"
        assert graph.tensor(graph.outputs[0]).dtype == "int8"
        stage_arch = arch if stage["name"] == "ptq" else result.arch
        assert_same_graph(space.graph(stage_arch, shape, data.num_classes), graph)
        assert stage["tflite_bytes"] == len(tflite)
        assert 0 < stage["compressed_bytes"] < len(tflite)
        assert_micro_agrees(tflite, data.x_test[:8].reshape((8, *shape)))
    if compression.pruning in ("unstructured", "2:4"):
        # Depthwise kernels are never pruned, and 2:4 skips layers whose input is not a multiple
        # of 4 wide, so the whole-model figure stays below the target.
        ptq, pruned = result.stages[1], result.stages[expected.index("pruned")]
        assert pruned["sparsity"] > ptq["sparsity"] + 0.1
        if compression.quantization == "qat" and space.config.family != "gru":
            # The preserving schemes keep the zeros through QAT (not for GRU kernels).
            assert result.stages[-1]["sparsity"] >= 0.9 * pruned["sparsity"]
