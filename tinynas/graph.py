"""A small description of an int8 TFLite graph: tensors with shapes, dtypes and quantization, and
operators in execution order.

Built in two ways that must agree: predicted from an architecture before training
(``SearchSpace.graph``) and read from a converted ``.tflite`` (``tinynas.tflite_reader``). The
estimator, the memory planner and the firmware generator all work on this one description.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import prod
from typing import Any

#: Bytes per element of each TFLite tensor type we meet.
DTYPE_BYTES = {"int8": 1, "uint8": 1, "bool": 1, "int16": 2, "int32": 4, "float32": 4,
               "int64": 8}


@dataclass(frozen=True)
class Tensor:
    """One tensor of the graph.

    Attributes:
        index: Position in the subgraph's tensor list.
        name: Tensor name (its length counts in the flatbuffer).
        shape: Dimensions, batch included (always 1 for activations).
        dtype: A key of :data:`DTYPE_BYTES`.
        constant: Whether the tensor's data lives in the model (weights, biases, shapes).
        variable: Whether the runtime keeps it between invocations (persistent arena).
        quant_channels: Number of (scale, zero point) pairs; 0 when not quantized.
        quant_axis: Quantized dimension for per-channel tensors.
        scale: Quantization scales (empty when unknown, e.g. before training).
        zero_point: Quantization zero points.
        data: The constant's raw little-endian bytes, when known.
    """

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    constant: bool = False
    variable: bool = False
    quant_channels: int = 0
    quant_axis: int = 0
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    data: bytes | None = field(default=None, repr=False)

    @property
    def elements(self) -> int:
        """Number of elements."""
        return prod(self.shape) if self.shape else 1

    @property
    def nbytes(self) -> int:
        """Bytes of the tensor's data."""
        return self.elements * DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class Operator:
    """One operator, in execution order.

    Attributes:
        opcode: TFLite builtin name, e.g. ``CONV_2D``, ``DEPTHWISE_CONV_2D``.
        inputs: Tensor indices; -1 marks an absent optional input.
        outputs: Tensor indices.
        options: Builtin options by their schema names in snake case, e.g. ``stride_h``,
            ``padding`` (``"SAME"``/``"VALID"``), ``fused_activation_function``
            (``"NONE"``/``"RELU"``/``"RELU6"``), ``depth_multiplier``, ``filter_height``.
    """

    opcode: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Graph:
    """A single-subgraph int8 model.

    Attributes:
        tensors: All tensors, indexed by ``Tensor.index``.
        operators: Operators in execution order.
        inputs: Indices of the graph inputs.
        outputs: Indices of the graph outputs.
        description: Free text stored in the model (converter name and version).
    """

    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str = ""

    def tensor(self, index: int) -> Tensor:
        """The tensor at ``index``."""
        return self.tensors[index]

    @property
    def opcodes(self) -> list[str]:
        """Distinct operator kinds, in order of first use."""
        seen: dict[str, None] = {}
        for op in self.operators:
            seen.setdefault(op.opcode, None)
        return list(seen)
