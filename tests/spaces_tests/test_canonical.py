"""The canonical order depends on the graph's structure only, not on how it was listed."""

from __future__ import annotations

import dataclasses
import random

import pytest

from tinynas.canonical import canonical_order, canonicalize
from tinynas.graph import Graph, Operator, Tensor
from tinynas.spaces import load_space


def scrambled(graph: Graph, seed: int) -> Graph:
    """The same program with tensors renumbered at random and operators in another valid order."""
    rng = random.Random(seed)
    perm = list(range(len(graph.tensors)))
    rng.shuffle(perm)
    constants = {t.index for t in graph.tensors if t.constant}
    ready, remaining, ops = set(graph.inputs) | constants, list(graph.operators), []
    while remaining:
        choices = [op for op in remaining if all(t in ready for t in op.inputs if t >= 0)]
        op = rng.choice(choices)
        remaining.remove(op)
        ops.append(op)
        ready.update(op.outputs)

    def move(indices: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(perm[t] if t >= 0 else t for t in indices)

    tensors = sorted((dataclasses.replace(t, index=perm[t.index]) for t in graph.tensors),
                     key=lambda t: t.index)
    return Graph(tensors=tuple(tensors),
                 operators=tuple(dataclasses.replace(op, inputs=move(op.inputs),
                                                     outputs=move(op.outputs)) for op in ops),
                 inputs=move(graph.inputs), outputs=move(graph.outputs))


@pytest.mark.parametrize("space_name,arch", [
    ("gru", {"conv_filters": 0, "conv_kernel": 3, "conv_stride": 1, "units": [8, 4],
             "dense_units": 8, "dropout": 0.0}),
    ("ds_cnn", {"first_filters": 8, "first_kernel": 3, "first_stride": 1, "filters": [8, 16],
                "kernels": [3, 3], "strides": [2, 1], "pooling": "flatten", "dense_units": 0,
                "dropout": 0.0}),
])
def test_any_listing_gives_the_same_canonical_graph(space_name: str, arch: dict) -> None:
    space = load_space(space_name)
    graph = space.graph(space.arch_from_dict(arch), space.model_input_shape((12, 8, 1)), 4)
    assert canonicalize(graph) == graph
    for seed in range(3):
        other = scrambled(graph, seed)
        assert other != graph
        assert canonicalize(other) == graph


def test_each_intermediate_is_consumed_as_soon_as_it_exists() -> None:
    # Two operators read the input: the lower opcode name goes first; then whatever reads the
    # newest tensor runs before older work.
    t = [Tensor(i, "", (1, 4), "int8", quant_channels=1) for i in range(6)]
    ops = [Operator("TANH", (0,), (1,)), Operator("LOGISTIC", (0,), (2,)),
           Operator("TANH", (1,), (3,)), Operator("ADD", (2, 3), (4,)),
           Operator("LOGISTIC", (2,), (5,))]
    order = canonical_order(ops, (0,), ())
    names = [(ops[i].opcode, ops[i].outputs) for i in order]
    assert names == [("LOGISTIC", (2,)), ("LOGISTIC", (5,)), ("TANH", (1,)), ("TANH", (3,)),
                     ("ADD", (4,))]
    graph = Graph(tensors=tuple(t), operators=tuple(ops), inputs=(0,), outputs=(4, 5))
    assert [op.opcode for op in canonicalize(graph).operators] == [n for n, _ in names]


def test_a_cycle_is_refused() -> None:
    ops = [Operator("TANH", (1,), (2,)), Operator("TANH", (2,), (1,))]
    with pytest.raises(ValueError, match="cycle"):
        canonical_order(ops, (0,), ())
