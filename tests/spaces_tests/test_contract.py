"""One contract, every registered space family: sampling, round trips, graph shapes, widths."""

from __future__ import annotations

import json
import subprocess
import sys

import optuna
import pytest

from tinynas.errors import SearchSpaceError
from tinynas.graph import Graph
from tinynas.spaces import Compression, families, load_space, space_names

from ._int8 import SAMPLE_SHAPES

optuna.logging.set_verbosity(optuna.logging.WARNING)
CLASSES = 5
#: Families of 2-D convolution stacks (images, audio features as images).
IMAGE_FAMILIES = ("ds_cnn", "cnn", "mixed_cnn")


@pytest.fixture(params=families())
def space(request: pytest.FixtureRequest):
    """The shipped space of each registered family (one file per family)."""
    shipped = [load_space(n) for n in space_names()]
    matches = [s for s in shipped if s.config.family == request.param]
    assert matches, f"no shipped space file for family {request.param!r}"
    return matches[0]


def sampled_archs(space, n: int = 12, seed: int = 0) -> list:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    archs = []
    for _ in range(n):
        trial = study.ask()
        archs.append((space.suggest(trial), space.suggest_compression(trial)))
    return archs


def constant_bytes(graph: Graph) -> int:
    return sum(t.nbytes for t in graph.tensors if t.constant)


def assert_well_formed(graph: Graph, input_shape: tuple[int, ...]) -> None:
    """Int8 input and output of the right shapes, and every tensor produced before it is read."""
    assert graph.tensor(graph.inputs[0]).shape == (1, *input_shape)
    assert graph.tensor(graph.outputs[0]).shape == (1, CLASSES)
    assert graph.tensor(graph.inputs[0]).dtype == graph.tensor(graph.outputs[0]).dtype == "int8"
    assert graph.operators[-1].opcode == "SOFTMAX"
    ready = set(graph.inputs) | {t.index for t in graph.tensors if t.constant}
    for op in graph.operators:
        assert all(t in ready for t in op.inputs if t >= 0), op
        ready.update(op.outputs)
    assert [t.index for t in graph.tensors] == list(range(len(graph.tensors)))
    for t in graph.tensors:
        if not t.constant:
            assert t.dtype == "int8" and t.quant_channels == 1


def test_suggest_describe_and_round_trip(space) -> None:
    shape = space.model_input_shape(SAMPLE_SHAPES[space.config.family])
    for arch, compression in sampled_archs(space):
        assert isinstance(arch, space.arch_type)
        text = space.describe(arch)
        assert text and "\n" not in text
        stored = json.loads(json.dumps({"space": space.name, **arch.to_dict()}))
        assert space.arch_from_dict(stored) == arch
        assert Compression.from_dict(compression.to_dict()) == compression
        choices = space.config.compression
        assert compression.quantization in choices.quantization
        assert compression.pruning in choices.pruning
        assert compression.clusters in choices.clusters
        assert_well_formed(space.graph(arch, shape, CLASSES), shape)


def test_smallest_has_the_fewest_weights(space) -> None:
    shape = space.model_input_shape(SAMPLE_SHAPES[space.config.family])
    smallest = constant_bytes(space.graph(space.smallest(), shape, CLASSES))
    assert_well_formed(space.graph(space.smallest(), shape, CLASSES), shape)
    for arch, _ in sampled_archs(space, seed=1):
        assert smallest <= constant_bytes(space.graph(arch, shape, CLASSES)), space.describe(arch)


def test_channel_pruning_narrows_the_graph_and_nothing_else_does(space) -> None:
    shape = space.model_input_shape(SAMPLE_SHAPES[space.config.family])
    for arch, _ in sampled_archs(space, n=6, seed=2):
        full = space.graph(arch, shape, CLASSES)
        for kept in (Compression("qat", "unstructured", 0.8, 16, True),
                     Compression("ptq", "2:4", 0.5)):
            assert space.effective_arch(arch, kept) == arch
        narrow = space.effective_arch(arch, Compression("ptq", "channel", 0.5))
        pruned = space.graph(narrow, shape, CLASSES)
        assert_well_formed(pruned, shape)
        assert constant_bytes(pruned) < constant_bytes(full)
        assert len(pruned.operators) == len(full.operators)


def test_graph_is_deterministic(space) -> None:
    shape = space.model_input_shape(SAMPLE_SHAPES[space.config.family])
    arch, _ = sampled_archs(space, n=1, seed=3)[0]
    assert space.graph(arch, shape, CLASSES) == space.graph(arch, shape, CLASSES)


def test_dataset_shape_that_does_not_fit_is_refused(space) -> None:
    family = space.config.family
    wrong_rank = (4, 4, 3, 2)
    with pytest.raises(SearchSpaceError, match=f"search space '{space.name}'.*rank"):
        space.model_input_shape(wrong_rank)
    too_small = (2, 2, 1) if family in IMAGE_FAMILIES else (2, 3)
    with pytest.raises(SearchSpaceError, match=r"at least|sequences of") as info:
        space.model_input_shape(too_small)
    assert str(space.config.path) in str(info.value) and "min_input" in str(info.value)
    if family in IMAGE_FAMILIES:
        with pytest.raises(SearchSpaceError, match="rank 3"):
            space.model_input_shape((16, 3))
    else:
        with pytest.raises(SearchSpaceError, match="coefficients, 1"):
            space.model_input_shape((16, 16, 3))


def test_sequence_shapes_map_to_the_model_input() -> None:
    assert load_space("cnn1d").model_input_shape((50, 6)) == (50, 1, 6)
    assert load_space("cnn1d").model_input_shape((49, 10, 1)) == (49, 1, 10)
    assert load_space("gru").model_input_shape((49, 10, 1)) == (49, 10)
    assert load_space("ds_cnn").model_input_shape((49, 10, 1)) == (49, 10, 1)


def test_spaces_stay_free_of_tensorflow() -> None:
    code = ("import sys, optuna\n"
            "from tinynas.spaces import load_space, space_names\n"
            "for n in space_names():\n"
            "    s = load_space(n)\n"
            "    t = optuna.create_study().ask()\n"
            "    a = s.suggest(t)\n"
            "    s.graph(a, s.model_input_shape((16, 16, 1)), 4)\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
