"""Graph rewrites before lowering.

The converter leaves one float detour in unrolled int8 GRUs: ``DEQUANTIZE -> SPLIT -> QUANTIZE``
around the first step, whose recurrent half it folded away. Each ``QUANTIZE`` there uses the
scale and zero point its ``DEQUANTIZE`` started from, and ``round(float(s * (q - z)) / s) + z``
gives back ``q`` for every int8 ``q`` (the error is far below half a step), so the detour is the
identity: its float tensors are retyped as int8 and the round trip becomes byte sharing.
"""

from __future__ import annotations

import dataclasses
from collections import deque

from tinynas.codegen._ops import RESHAPES
from tinynas.errors import ExportError, UnsupportedOperatorError
from tinynas.graph import Graph, Tensor

#: Operators a float detour may pass through: they move bytes without touching values.
_MOVES = (*RESHAPES, "SPLIT", "SPLIT_V", "UNPACK")


def elide_float_round_trips(graph: Graph) -> Graph:
    """Retype the float tensors of ``DEQUANTIZE -> (moves) -> QUANTIZE`` detours as int8.

    Args:
        graph: A graph whose float tensors may only appear in such detours.

    Returns:
        The graph without float tensors (the same object when it has none).

    Raises:
        UnsupportedOperatorError: A float tensor reaches another operator, or the detour ends
            with other quantization than it started with.
    """
    floats = {t.index for t in graph.tensors if t.dtype == "float32"}
    if not floats:
        return graph
    for index in (*graph.inputs, *graph.outputs):
        if index in floats:
            raise ExportError(f"tensor {index} is a float32 model input or output; export needs "
                              "a full-int8 model (int8 inputs and outputs)")
    consumers: dict[int, list[int]] = {}
    for k, op in enumerate(graph.operators):
        for t in op.inputs:
            consumers.setdefault(t, []).append(k)
    quant: dict[int, tuple[tuple[float, ...], tuple[int, ...]]] = {}
    queue: deque[int] = deque()
    for op in graph.operators:
        if op.opcode == "DEQUANTIZE" and op.outputs[0] in floats:
            source = graph.tensors[op.inputs[0]]
            quant[op.outputs[0]] = (source.scale[:1], source.zero_point[:1])
            queue.append(op.outputs[0])
    while queue:
        index = queue.popleft()
        for k in consumers.get(index, []):
            op = graph.operators[k]
            if op.opcode == "QUANTIZE":
                target = graph.tensors[op.outputs[0]]
                if (target.scale[:1], target.zero_point[:1]) != quant[index]:
                    raise UnsupportedOperatorError(
                        f"QUANTIZE (operator {k}) rescales a float tensor to other quantization "
                        "than it was dequantized from; the runtime supports only exact round "
                        "trips")
                continue
            if op.opcode not in _MOVES:
                raise UnsupportedOperatorError(
                    f"{op.opcode} (operator {k}) on float32 tensor {index}: the runtime is "
                    "integer-only; float tensors may only pass through "
                    f"{', '.join(_MOVES)} between DEQUANTIZE and QUANTIZE")
            for out in op.outputs:
                if out not in quant:
                    quant[out] = quant[index]
                    queue.append(out)
    missing = sorted(floats - set(quant))
    if missing:
        raise UnsupportedOperatorError(f"float32 tensor {missing[0]} does not come from a "
                                       "DEQUANTIZE; the runtime is integer-only")

    def retype(t: Tensor) -> Tensor:
        if t.index not in quant:
            return t
        scale, zero_point = quant[t.index]
        return dataclasses.replace(t, dtype="int8", scale=scale, zero_point=zero_point,
                                   quant_channels=len(scale))

    return dataclasses.replace(graph, tensors=tuple(retype(t) for t in graph.tensors))
