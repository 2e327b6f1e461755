"""One canonical operator order and tensor numbering for int8 graphs.

The TFLite converter orders operators by its own heuristics: for an unrolled GRU of more than five
steps it hoists later steps' input projections ahead of time, in a pattern that changes with the
sequence length. Any topological order is a valid program, and the order decides tensor lifetimes
and so the arena size. To predict the arena before training, both the converter's output
(:mod:`tinynas.convert`) and the predicted graph (``SearchSpace.graph``) are put in the order
defined here, which depends on structure only.

The order is depth first: among the operators whose inputs are ready, run the one that consumes
the most recently produced tensor, so each intermediate result is used as soon as it exists and
freed early. Ties go to the lower output slot of the producer (e.g. the first output of a SPLIT),
then to the lower input position, then to the opcode name.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Collection, Sequence

from tinynas.graph import Graph, Operator


def canonicalize(graph: Graph) -> Graph:
    """``graph`` with operators in canonical order and tensors renumbered canonically.

    Tensors are numbered by first appearance: graph inputs, then each operator's inputs and
    outputs in execution order; tensors no operator touches keep their relative order at the end.

    Args:
        graph: Any valid single-subgraph graph.

    Returns:
        The same program, reordered; its names, data and quantization are untouched.

    Raises:
        ValueError: The graph has a cycle or reads a tensor nothing produces.
    """
    constants = {t.index for t in graph.tensors if t.constant}
    ops = [graph.operators[i] for i in canonical_order(graph.operators, graph.inputs, constants)]
    seen: dict[int, None] = dict.fromkeys(graph.inputs)
    for op in ops:
        seen.update(dict.fromkeys(t for t in op.inputs + op.outputs if t >= 0))
    seen.update(dict.fromkeys(list(graph.outputs) + [t.index for t in graph.tensors]))
    new_of = {old: new for new, old in enumerate(seen)}

    def renumber(indices: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(new_of[t] if t >= 0 else t for t in indices)

    return dataclasses.replace(
        graph,
        tensors=tuple(dataclasses.replace(graph.tensors[old], index=new)
                      for new, old in enumerate(seen)),
        operators=tuple(dataclasses.replace(op, inputs=renumber(op.inputs),
                                            outputs=renumber(op.outputs)) for op in ops),
        inputs=renumber(graph.inputs),
        outputs=renumber(graph.outputs),
    )


def canonical_order(ops: Sequence[Operator], graph_inputs: Sequence[int],
                    constants: Collection[int]) -> list[int]:
    """The canonical execution order of a graph's operators.

    Args:
        ops: The operators, in any valid order.
        graph_inputs: Tensor indices of the graph inputs.
        constants: Indices of tensors whose data lives in the model.

    Returns:
        Positions into ``ops``, in canonical execution order.

    Raises:
        ValueError: The graph has a cycle or reads a tensor nothing produces.
    """
    produced_at: dict[int, tuple[int, int]] = {t: (-1, slot) for slot, t in enumerate(graph_inputs)}
    consumers: dict[int, list[int]] = {}
    missing: list[int] = []
    for i, op in enumerate(ops):
        needs = {t for t in op.inputs if t >= 0 and t not in constants and t not in produced_at}
        for t in needs:
            consumers.setdefault(t, []).append(i)
        missing.append(len(needs))
    # A ready operator's key never changes: all its inputs already exist.
    ready = [(_priority(op, produced_at, constants, i), i)
             for i, op in enumerate(ops) if not missing[i]]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, best = heapq.heappop(ready)
        step = len(order)
        order.append(best)
        for slot, t in enumerate(ops[best].outputs):
            produced_at[t] = (step, slot)
            for c in consumers.get(t, ()):
                missing[c] -= 1
                if not missing[c]:
                    heapq.heappush(ready, (_priority(ops[c], produced_at, constants, c), c))
    if len(order) != len(ops):
        raise ValueError("graph has a cycle or an input that no operator produces")
    return order


def _priority(op: Operator, produced_at: dict[int, tuple[int, int]], constants: Collection[int],
              index: int) -> tuple[int, int, int, str, int]:
    """Sort key of a ready operator: the smallest key runs next."""
    activations = [t for t in op.inputs if t >= 0 and t not in constants]
    if not activations:
        return (2, 0, 0, op.opcode, index)
    latest = max(activations, key=lambda t: (produced_at[t][0], -produced_at[t][1]))
    step, slot = produced_at[latest]
    return (-step, slot, op.inputs.index(latest), op.opcode, index)
