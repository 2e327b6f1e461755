"""``mixed_cnn``: each block is plain or depthwise-separable by its own choice, zero blocks is a
model, and the family contains the ``cnn`` and ``ds_cnn`` architectures of the same widths."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from tinynas.errors import SearchSpaceError
from tinynas.spaces import load_space

SHAPE = (12, 12, 1)
BLOCKS = {"first_filters": 8, "first_kernel": 3, "first_stride": 1, "filters": [16, 24, 32],
          "kernels": [3, 3, 3], "strides": [2, 1, 2], "pooling": "avg", "dense_units": 0,
          "dropout": 0.0}


def _opcodes(space_name: str, arch: dict) -> list[str]:
    space = load_space(space_name)
    return [op.opcode for op in space.graph(space.arch_from_dict(arch), SHAPE, 4).operators]


def test_each_block_takes_its_own_kind() -> None:
    mixed = {**BLOCKS, "separable": [False, True, False]}
    assert _opcodes("mixed_cnn", mixed) == [
        "CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "CONV_2D", "MEAN",
        "FULLY_CONNECTED", "SOFTMAX"]
    assert load_space("mixed_cnn").describe(load_space("mixed_cnn").arch_from_dict(mixed)) == (
        "conv 8 k3 s1 | conv 16 k3 s2 | ds 24 k3 s1 | conv 32 k3 s2 | avg")


@pytest.mark.parametrize(("other", "separable"), [("cnn", False), ("ds_cnn", True)])
def test_uniform_blocks_are_the_other_families_graphs(other: str, separable: bool) -> None:
    mixed = {**BLOCKS, "separable": [separable] * 3}
    assert _opcodes("mixed_cnn", mixed) == _opcodes(other, BLOCKS)
    space = load_space("mixed_cnn")
    ours = space.graph(space.arch_from_dict(mixed), SHAPE, 4)
    theirs = load_space(other).graph(load_space(other).arch_from_dict(BLOCKS), SHAPE, 4)
    assert ours == theirs


def test_zero_blocks_feed_the_classifier_directly() -> None:
    arch = {**BLOCKS, "filters": [], "kernels": [], "strides": [], "separable": [],
            "pooling": "flatten"}
    assert _opcodes("mixed_cnn", arch) == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]


def test_a_separable_flag_per_block_is_required() -> None:
    with pytest.raises(SearchSpaceError, match="separable must have one entry per block, got 2 "
                                               "for 3 blocks"):
        load_space("mixed_cnn").arch_from_dict({**BLOCKS, "separable": [True, False]})


def test_sampling_mixes_kinds_within_one_model() -> None:
    space = load_space("mixed_cnn")
    archs = [arch for _, arch in _sampled(seed=0, n=60)]
    assert any(len(set(a.separable)) == 2 for a in archs)
    assert {len(a.filters) for a in archs} == set(range(7))
    assert {a.pooling for a in archs if a.filters} == {"avg", "flatten"}
    for a in archs:
        assert space.arch_from_dict(a.to_dict()) == a


def _sampled(seed: int, n: int) -> list[tuple[dict, Any]]:
    """``n`` random trials of ``mixed_cnn``: each one's Optuna parameters and architecture."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space("mixed_cnn")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    drawn = []
    for _ in range(n):
        trial = study.ask()
        arch = space.suggest(trial)
        space.suggest_compression(trial)
        drawn.append((trial.params, arch))
        study.tell(trial, 0.0)
    return drawn


def test_zero_block_models_are_flattened_not_pooled() -> None:
    space = load_space("mixed_cnn")
    stems = [arch for _, arch in _sampled(seed=1, n=80) if not arch.filters]
    assert stems and {a.pooling for a in stems} == {"flatten"}
    assert space.smallest().pooling == "flatten" and space.smallest().filters == ()


def test_first_widths_fill_the_ram_between_the_block_steps() -> None:
    """The first activation dominates the arena of a small image model: its width is sampled in
    steps of 4, so a 28x28 model exists between the arenas of 8 and 16 first filters."""
    from tinynas.estimator import estimate_graph

    space = load_space("mixed_cnn")
    widths = {arch.first_filters for _, arch in _sampled(seed=1, n=80)}
    assert widths == {0, 8, 12, 16, 20, 24, 28, 32}  # 0: a dense-only model
    flat = {**BLOCKS, "first_stride": 2, "filters": [], "kernels": [], "strides": [],
            "separable": [], "pooling": "flatten"}
    arena = {w: estimate_graph(space.graph(space.arch_from_dict({**flat, "first_filters": w}),
                                           (28, 28, 1), 10)).arena_bytes for w in (8, 12, 16)}
    assert arena[8] < arena[12] < arena[16]


DENSE_ONLY = {"first_filters": 0, "first_kernel": 1, "first_stride": 1, "filters": [],
              "kernels": [], "strides": [], "separable": [], "pooling": "flatten",
              "dense_units": 64, "dropout": 0.1}


def test_a_dense_only_model_flattens_the_input_into_its_hidden_layer() -> None:
    space = load_space("mixed_cnn")
    arch = space.arch_from_dict(DENSE_ONLY)
    assert arch.dense_only
    assert _opcodes("mixed_cnn", DENSE_ONLY) == [
        "RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]
    assert space.describe(arch) == "flatten | dropout 0.1 | dense 64"


def test_a_dense_only_arena_is_below_the_narrowest_convolution_on_digits() -> None:
    """On 8x8 digits the arena of a dense-only model holds the input and the hidden layer; the
    narrowest stride-2 convolution needs more (its per-channel quantization and activation)."""
    from tinynas.estimator import estimate_graph

    space = load_space("mixed_cnn")
    conv = {**DENSE_ONLY, "first_filters": 8, "first_kernel": 3, "first_stride": 2,
            "dense_units": 0}

    def arena(arch: dict) -> int:
        return estimate_graph(space.graph(space.arch_from_dict(arch), (8, 8, 1), 10)).arena_bytes

    assert arena(DENSE_ONLY) < arena(conv)


@pytest.mark.parametrize(("change", "message"), [
    ({"filters": [8], "kernels": [3], "strides": [1], "separable": [False]}, "has no blocks"),
    ({"pooling": "avg"}, "pooling 'flatten'"),
    ({"first_kernel": 3}, "first_kernel and first_stride 1"),
    ({"first_filters": -8}, "first_filters must be 0"),
])
def test_a_dense_only_model_has_nothing_convolutional(change: dict, message: str) -> None:
    with pytest.raises(SearchSpaceError, match=message):
        load_space("mixed_cnn").arch_from_dict({**DENSE_ONLY, **change})


def test_sampling_reaches_dense_only_models_and_their_conv_genes_are_inactive() -> None:
    space = load_space("mixed_cnn")
    dense = [(params, arch) for params, arch in _sampled(seed=2, n=60) if arch.dense_only]
    assert {a.dense_units for _, a in dense} == {32, 64, 128, 256, 512}
    params, arch = dense[0]
    # Other convolution genes, same model: one signature, so the search trains it once.
    other = {**params, "first_filters": 32, "blocks": 3, "pooling": "avg", "dense_units": 32}
    signature = space.params_signature(params)
    assert signature is not None and space.params_signature(other) == signature
    model = space.params_model(other)
    assert model is not None and model[0] == space.effective_arch(arch, model[1])


@pytest.mark.parametrize(("text", "message"), [
    ("convolution = [true, false]", "dense_only_units"),
    ("convolution = [true]\ndense_only_units = [32]", "applies only where convolution offers "
                                                       "false"),
    ("convolution = [true, false]\ndense_only_units = [0]", "dense_only_units"),
])
def test_space_file_dense_only_errors_name_the_key(tmp_path, text: str, message: str) -> None:
    source = load_space("mixed_cnn").config.path.read_text()
    source = "\n".join(line for line in source.splitlines()
                       if not line.startswith(("convolution", "dense_only_units")))
    path = tmp_path / "mine.toml"
    path.write_text(source.replace("[architecture]", "[architecture]\n" + text, 1))
    with pytest.raises(SearchSpaceError, match=message):
        load_space(str(path))
