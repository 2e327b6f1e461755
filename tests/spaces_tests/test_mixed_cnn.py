"""``mixed_cnn``: each block is plain or depthwise-separable by its own choice, zero blocks is a
model, and the family contains the ``cnn`` and ``ds_cnn`` architectures of the same widths."""

from __future__ import annotations

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
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space("mixed_cnn")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    archs = [space.suggest(study.ask()) for _ in range(60)]
    assert any(len(set(a.separable)) == 2 for a in archs)
    assert {len(a.filters) for a in archs} == set(range(7))
    assert {a.pooling for a in archs if a.filters} == {"avg", "flatten"}
    for a in archs:
        assert space.arch_from_dict(a.to_dict()) == a


def test_zero_block_models_are_flattened_not_pooled() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space("mixed_cnn")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    stems = []
    for _ in range(80):
        trial = study.ask()
        arch = space.suggest(trial)
        if not arch.filters:
            stems.append(arch)
    assert stems and {a.pooling for a in stems} == {"flatten"}
    assert space.smallest().pooling == "flatten" and space.smallest().filters == ()


def test_first_widths_fill_the_ram_between_the_block_steps() -> None:
    """The first activation dominates the arena of a small image model: its width is sampled in
    steps of 4, so a 28x28 model exists between the arenas of 8 and 16 first filters."""
    from tinynas.estimator import estimate_graph

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space("mixed_cnn")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    widths = {space.suggest(study.ask()).first_filters for _ in range(80)}
    assert widths == {8, 12, 16, 20, 24, 28, 32}
    flat = {**BLOCKS, "first_stride": 2, "filters": [], "kernels": [], "strides": [],
            "separable": [], "pooling": "flatten"}
    arena = {w: estimate_graph(space.graph(space.arch_from_dict({**flat, "first_filters": w}),
                                           (28, 28, 1), 10)).arena_bytes for w in (8, 12, 16)}
    assert arena[8] < arena[12] < arena[16]
