"""Predicting the int8 graph the converter produces, one Keras layer at a time.

Each method adds what the TFLite converter emits for one layer after batch-norm folding and
activation fusing, with the same tensor shapes, dtypes and per-channel quantization counts, so that
``SearchSpace.graph`` gives the estimator the exact graph before anything is trained. The result is
put in the canonical order of :mod:`tinynas.canonical`, as the converted file is.
"""

from __future__ import annotations

import struct
from typing import Any

from tinynas.canonical import canonicalize
from tinynas.graph import Graph, Operator, Tensor


def same_out(size: int, stride: int) -> int:
    """Output length of a ``SAME``-padded window along one axis."""
    return -(-size // stride)


class GraphBuilder:
    """Accumulates tensors and operators, then returns a canonical :class:`Graph`."""

    def __init__(self) -> None:
        self._tensors: list[dict[str, Any]] = []
        self._ops: list[Operator] = []
        self._inputs: list[int] = []
        self._shared: dict[Any, int] = {}

    # -- tensors ----------------------------------------------------------------------------
    def shape(self, t: int) -> tuple[int, ...]:
        """The shape of tensor ``t``."""
        return tuple(self._tensors[t]["shape"])

    def _tensor(self, **fields: Any) -> int:
        self._tensors.append(fields)
        return len(self._tensors) - 1

    def input(self, shape: tuple[int, ...]) -> int:
        """A graph input: int8 with one scale, batch 1 prepended."""
        t = self.activation((1, *shape))
        self._inputs.append(t)
        return t

    def activation(self, shape: tuple[int, ...]) -> int:
        """An int8 activation tensor quantized per tensor."""
        return self._tensor(shape=tuple(shape), dtype="int8", quant_channels=1)

    def weights(self, shape: tuple[int, ...], channels: int, axis: int = 0,
                dtype: str = "int8") -> int:
        """A constant quantized per channel along ``axis`` (``channels`` scale/zero-point pairs)."""
        return self._tensor(shape=tuple(shape), dtype=dtype, constant=True,
                            quant_channels=channels, quant_axis=axis)

    def quantized_constant(self, shape: tuple[int, ...], key: Any = None) -> int:
        """An int8 constant with one scale; ``key`` makes equal constants one shared tensor."""
        if key is not None and ("q", key) in self._shared:
            return self._shared[("q", key)]
        t = self._tensor(shape=tuple(shape), dtype="int8", constant=True, quant_channels=1)
        if key is not None:
            self._shared[("q", key)] = t
        return t

    def int32_constant(self, values: tuple[int, ...], scalar: bool = False) -> int:
        """An unquantized int32 constant (axes, shapes, split sizes).

        The converter keeps one tensor per distinct content, so equal constants are shared.
        """
        key = ("i32", values, scalar)
        if key not in self._shared:
            shape = () if scalar else (len(values),)
            data = struct.pack(f"<{len(values)}i", *values)
            self._shared[key] = self._tensor(shape=shape, dtype="int32", constant=True, data=data)
        return self._shared[key]

    # -- operators --------------------------------------------------------------------------
    def op(self, opcode: str, inputs: list[int], outputs: list[int], **options: Any) -> None:
        """Append an operator."""
        self._ops.append(Operator(opcode, tuple(inputs), tuple(outputs), dict(options)))

    def conv2d(self, x: int, filters: int, kernel: tuple[int, int], stride: tuple[int, int],
               activation: str = "RELU") -> int:
        """``Conv2D`` (batch norm folded into its bias) with ``SAME`` padding."""
        _, h, w, c = self.shape(x)
        weight = self.weights((filters, kernel[0], kernel[1], c), filters)
        bias = self.weights((filters,), filters, dtype="int32")
        out = self.activation((1, same_out(h, stride[0]), same_out(w, stride[1]), filters))
        self.op("CONV_2D", [x, weight, bias], [out], padding="SAME", stride_h=stride[0],
                stride_w=stride[1], fused_activation_function=activation, dilation_h_factor=1,
                dilation_w_factor=1)
        return out

    def depthwise_conv2d(self, x: int, kernel: tuple[int, int], stride: tuple[int, int],
                         activation: str = "RELU") -> int:
        """``DepthwiseConv2D`` with depth multiplier 1 and ``SAME`` padding."""
        _, h, w, c = self.shape(x)
        weight = self.weights((1, kernel[0], kernel[1], c), c, axis=3)
        bias = self.weights((c,), c, dtype="int32")
        out = self.activation((1, same_out(h, stride[0]), same_out(w, stride[1]), c))
        self.op("DEPTHWISE_CONV_2D", [x, weight, bias], [out], padding="SAME",
                stride_h=stride[0], stride_w=stride[1], depth_multiplier=1,
                fused_activation_function=activation, dilation_h_factor=1, dilation_w_factor=1)
        return out

    def fully_connected(self, x: int, units: int, activation: str = "NONE",
                        weight: int | None = None) -> int:
        """``Dense`` on a ``(1, n)`` input; ``weight`` reuses a shared weight tensor."""
        n = self.shape(x)[-1]
        # Dense weights are quantized per tensor (see tinynas.convert), biases likewise.
        if weight is None:
            weight = self.weights((units, n), 1)
        bias = self.weights((units,), 1, dtype="int32")
        out = self.activation((1, units))
        self.op("FULLY_CONNECTED", [x, weight, bias], [out], fused_activation_function=activation,
                keep_num_dims=False)
        return out

    def global_pool(self, x: int, kind: str) -> int:
        """Global average (``MEAN``) or max (``REDUCE_MAX``) pooling over height and width."""
        _, _, _, c = self.shape(x)
        axes = self.int32_constant((1, 2))
        out = self.activation((1, c))
        self.op("MEAN" if kind == "avg" else "REDUCE_MAX", [x, axes], [out], keep_dims=False)
        return out

    def reshape(self, x: int, shape: tuple[int, ...]) -> int:
        """``RESHAPE`` to ``shape`` (batch included); the new shape is a constant input."""
        new_shape = self.int32_constant(tuple(shape))
        out = self.activation(shape)
        self.op("RESHAPE", [x, new_shape], [out])
        return out

    def softmax(self, x: int) -> int:
        """``SOFTMAX`` (beta 1)."""
        out = self.activation(self.shape(x))
        self.op("SOFTMAX", [x], [out], beta=1.0)
        return out

    def elementwise(self, opcode: str, a: int, b: int) -> int:
        """``ADD``, ``SUB`` or ``MUL`` of two tensors of the second one's shape."""
        out = self.activation(self.shape(b))
        self.op(opcode, [a, b], [out], fused_activation_function="NONE")
        return out

    def unary(self, opcode: str, x: int) -> int:
        """``LOGISTIC`` or ``TANH``."""
        out = self.activation(self.shape(x))
        self.op(opcode, [x], [out])
        return out

    def unpack(self, x: int) -> list[int]:
        """``UNPACK`` along axis 0."""
        shape = self.shape(x)
        outs = [self.activation(shape[1:]) for _ in range(shape[0])]
        self.op("UNPACK", [x], outs, num=shape[0], axis=0)
        return outs

    def pack(self, xs: list[int]) -> int:
        """``PACK`` along a new axis 0."""
        out = self.activation((len(xs), *self.shape(xs[0])))
        self.op("PACK", xs, [out], values_count=len(xs), axis=0)
        return out

    def split(self, x: int, parts: int) -> list[int]:
        """``SPLIT`` of the last axis into equal parts."""
        rows, n = self.shape(x)
        axis = self.int32_constant((1,), scalar=True)
        outs = [self.activation((rows, n // parts)) for _ in range(parts)]
        self.op("SPLIT", [axis, x], outs, num_splits=parts)
        return outs

    def split_v(self, x: int, sizes: tuple[int, ...]) -> list[int]:
        """``SPLIT_V`` of the last axis into ``sizes``."""
        rows, _ = self.shape(x)
        size_t = self.int32_constant(sizes)
        axis = self.int32_constant((1,), scalar=True)
        outs = [self.activation((rows, s)) for s in sizes]
        self.op("SPLIT_V", [x, size_t, axis], outs, num_splits=len(sizes))
        return outs

    # -- result -----------------------------------------------------------------------------
    def build(self, outputs: list[int]) -> Graph:
        """The graph, in canonical operator order with canonical tensor numbering."""
        return canonicalize(Graph(
            tensors=tuple(Tensor(index=i, name="", **t) for i, t in enumerate(self._tensors)),
            operators=tuple(self._ops),
            inputs=tuple(self._inputs),
            outputs=tuple(outputs),
        ))
