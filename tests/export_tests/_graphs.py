"""Random full-int8 graphs written with the project's flatbuffer writer: every operator the C
runtime implements, with random shapes, strides, paddings, activations and quantization, so
that the generated kernels are compared with TFLite's on far more cases than trained models
reach. Scales are chosen so that outputs use most of the int8 range (neither all saturated nor
all zero)."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from tinynas.graph import Graph, Operator, Tensor

#: Spread of an int8 tensor of uniform values, minus its zero point.
_INT8_STD = 74.0


class Net:
    """A graph under construction, with its own random generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.tensors: list[Tensor] = []
        self.ops: list[Operator] = []

    def _add(self, **fields: Any) -> int:
        index = len(self.tensors)
        self.tensors.append(Tensor(index=index, name="", **fields))
        return index

    def shape(self, t: int) -> tuple[int, ...]:
        """Shape of tensor ``t``."""
        return self.tensors[t].shape

    def scale(self, t: int) -> float:
        """Scale of tensor ``t``."""
        return self.tensors[t].scale[0]

    def act(self, shape: tuple[int, ...], scale: float | None = None,
            zero_point: int | None = None) -> int:
        """An int8 activation (random scale and zero point unless given)."""
        if scale is None:
            scale = float(10 ** self.rng.uniform(-2.5, -0.5))
        if zero_point is None:
            zero_point = int(self.rng.integers(-40, 40))
        return self._add(shape=tuple(shape), dtype="int8", quant_channels=1,
                         scale=(float(np.float32(scale)),), zero_point=(zero_point,))

    def like(self, t: int, shape: tuple[int, ...] | None = None) -> int:
        """An activation quantized exactly like ``t``."""
        src = self.tensors[t]
        return self._add(shape=tuple(shape or src.shape), dtype="int8", quant_channels=1,
                         scale=src.scale, zero_point=src.zero_point)

    def weights(self, shape: tuple[int, ...], channels: int, axis: int) -> int:
        """Random int8 weights with ``channels`` scales along ``axis`` (1: per tensor)."""
        data = self.rng.integers(-127, 128, size=shape, dtype=np.int8)
        scales = tuple(float(np.float32(s)) for s in 10 ** self.rng.uniform(-3, -1.5, channels))
        return self._add(shape=tuple(shape), dtype="int8", constant=True,
                         quant_channels=channels, quant_axis=axis, scale=scales,
                         zero_point=(0,) * channels, data=data.tobytes())

    def bias(self, in_scale: float, w: int, units: int) -> int:
        """A random int32 bias whose scales are input scale times weight scale."""
        w_scales = self.tensors[w].scale
        scales = tuple(float(np.float32(in_scale * s)) for s in w_scales)
        data = self.rng.integers(-3000, 3000, size=units).astype("<i4")
        return self._add(shape=(units,), dtype="int32", constant=True,
                         quant_channels=len(scales), scale=scales, zero_point=(0,) * len(scales),
                         data=data.tobytes())

    def int32(self, values: tuple[int, ...], scalar: bool = False) -> int:
        """An unquantized int32 constant (axes, shapes, split sizes)."""
        return self._add(shape=() if scalar else (len(values),), dtype="int32", constant=True,
                         data=struct.pack(f"<{len(values)}i", *values))

    def const_int8(self, shape: tuple[int, ...]) -> int:
        """A random quantized int8 constant operand."""
        data = self.rng.integers(-128, 128, size=shape, dtype=np.int8)
        return self._add(shape=tuple(shape), dtype="int8", constant=True, quant_channels=1,
                         scale=(float(np.float32(10 ** self.rng.uniform(-2.5, -0.5))),),
                         zero_point=(int(self.rng.integers(-20, 20)),), data=data.tobytes())

    def op(self, opcode: str, inputs: list[int], outputs: list[int], **options: Any) -> None:
        """Append an operator."""
        self.ops.append(Operator(opcode, tuple(inputs), tuple(outputs), options))

    def out_scale(self, x: int, w: int, fan_in: int) -> float:
        """An output scale that spreads a dot product of ``fan_in`` terms over the int8 range."""
        w_scale = float(np.mean(self.tensors[w].scale))
        spread = math.sqrt(fan_in) * _INT8_STD * 73.0 * self.scale(x) * w_scale
        return spread / 50.0 * float(self.rng.uniform(0.5, 2.0))

    def activation_name(self) -> str:
        """A random fused activation."""
        return str(self.rng.choice(["NONE", "RELU", "RELU6"]))

    def graph(self, inputs: list[int], outputs: list[int]) -> Graph:
        """The finished graph."""
        return Graph(tensors=tuple(self.tensors), operators=tuple(self.ops),
                     inputs=tuple(inputs), outputs=tuple(outputs))


def _window_out(size: int, k: int, stride: int, dilation: int, padding: str) -> int:
    if padding == "SAME":
        return -(-size // stride)
    return (size - ((k - 1) * dilation + 1)) // stride + 1


def conv(n: Net, x: int, depthwise: bool = False) -> int:
    """A random CONV_2D or DEPTHWISE_CONV_2D."""
    _, h, w, c = n.shape(x)
    k_h, k_w = int(n.rng.integers(1, 4)), int(n.rng.integers(1, 4))
    stride = int(n.rng.integers(1, 3))
    dilation = int(n.rng.integers(1, 3)) if stride == 1 else 1
    padding = str(n.rng.choice(["SAME", "VALID"]))
    if _window_out(min(h, w), max(k_h, k_w), stride, dilation, padding) < 1:
        padding = "SAME"
    if depthwise:
        mult = int(n.rng.integers(1, 3))
        out_c = c * mult
        weight = n.weights((1, k_h, k_w, out_c), out_c, axis=3)
        fan_in = k_h * k_w
    else:
        out_c = int(n.rng.integers(2, 7))
        weight = n.weights((out_c, k_h, k_w, c), out_c, axis=0)
        fan_in = k_h * k_w * c
    bias = n.bias(n.scale(x), weight, out_c)
    out = n.act((1, _window_out(h, k_h, stride, dilation, padding),
                 _window_out(w, k_w, stride, dilation, padding), out_c),
                n.out_scale(x, weight, fan_in))
    options = {"padding": padding, "stride_h": stride, "stride_w": stride,
               "dilation_h_factor": dilation, "dilation_w_factor": dilation,
               "fused_activation_function": n.activation_name()}
    if depthwise:
        n.op("DEPTHWISE_CONV_2D", [x, weight, bias], [out], depth_multiplier=mult, **options)
    else:
        n.op("CONV_2D", [x, weight, bias], [out], **options)
    return out


def pool(n: Net, x: int, kind: str) -> int:
    """A random AVERAGE_POOL_2D or MAX_POOL_2D."""
    _, h, w, c = n.shape(x)
    k, stride = int(n.rng.integers(2, 4)), int(n.rng.integers(1, 3))
    padding = "SAME" if min(h, w) < k else str(n.rng.choice(["SAME", "VALID"]))
    out = n.like(x, (1, _window_out(h, k, stride, 1, padding),
                     _window_out(w, k, stride, 1, padding), c))
    n.op(kind, [x], [out], padding=padding, stride_h=stride, stride_w=stride, filter_height=k,
         filter_width=k, fused_activation_function=str(n.rng.choice(["NONE", "RELU"])))
    return out


def binary(n: Net, opcode: str, a: int, b: int) -> int:
    """ADD, SUB or MUL of two operands broadcasting to ``a``'s shape."""
    if opcode == "MUL":
        scale = n.scale(a) * n.scale(b) * _INT8_STD * _INT8_STD / 60.0
    else:
        scale = max(n.scale(a), n.scale(b)) * 2.0
    out = n.act(n.shape(a), scale * float(n.rng.uniform(0.5, 2.0)))
    n.op(opcode, [a, b], [out], fused_activation_function=str(n.rng.choice(["NONE", "RELU"])))
    return out


def fully_connected(n: Net, x: int, units: int) -> int:
    """A random FULLY_CONNECTED, per tensor or per channel, with or without bias."""
    depth = n.shape(x)[-1]
    per_channel = bool(n.rng.integers(0, 2))
    weight = n.weights((units, depth), units if per_channel else 1, axis=0)
    bias = n.bias(n.scale(x), weight, units) if n.rng.integers(0, 2) else -1
    rows = int(np.prod(n.shape(x))) // depth
    out = n.act((rows, units), n.out_scale(x, weight, depth))
    n.op("FULLY_CONNECTED", [x, weight, bias], [out],
         fused_activation_function=n.activation_name(), keep_num_dims=False)
    return out


def image_chain(seed: int) -> Graph:
    """Convolutions, pools, element-wise operators with broadcasting, activations, reductions,
    concatenation, splits and a classifier with softmax."""
    n = Net(seed)
    x = n.act((1, int(n.rng.integers(6, 12)), int(n.rng.integers(6, 12)),
               int(n.rng.integers(1, 4))))
    y = conv(n, x)
    y = conv(n, y, depthwise=True)
    c = n.shape(y)[-1]
    y = binary(n, "ADD", y, n.const_int8((1, 1, 1, c)))
    z = conv(n, y, depthwise=True) if n.rng.integers(0, 2) else y
    if n.shape(z) == n.shape(y):
        y = binary(n, str(n.rng.choice(["SUB", "MUL"])), y, z)
    y = pool(n, y, str(n.rng.choice(["AVERAGE_POOL_2D", "MAX_POOL_2D"])))
    squash = n.act(n.shape(y), 1 / 256, -128)
    n.op("LOGISTIC", [y], [squash])
    bent = n.act(n.shape(y), 1 / 128, 0)
    n.op("TANH", [y], [bent])
    joined = n.like(squash, (*n.shape(y)[:3], 2 * n.shape(y)[3]))
    requantized = n.like(squash)
    n.op("QUANTIZE", [bent], [requantized])
    n.op("CONCATENATION", [squash, requantized], [joined], axis=3,
         fused_activation_function="NONE")
    keep = bool(n.rng.integers(0, 2))
    channels = n.shape(joined)[3]
    mean = n.act((1, 1, 1, channels) if keep else (1, channels))
    n.op("MEAN", [joined, n.int32((1, 2))], [mean], keep_dims=keep)
    flat = n.like(mean, (1, channels))
    n.op("RESHAPE", [mean, n.int32((1, channels))], [flat])
    peak = n.like(joined, (1, channels))
    n.op("REDUCE_MAX", [joined, n.int32((1, 2))], [peak], keep_dims=False)
    both = n.act((1, channels))
    n.op("ADD", [flat, peak], [both], fused_activation_function="NONE")
    logits = fully_connected(n, both, int(n.rng.integers(3, 8)))
    width = n.shape(logits)[1]
    first, rest = n.like(logits, (1, 1)), n.like(logits, (1, width - 1))
    n.op("SPLIT_V", [logits, n.int32((1, width - 1)), n.int32((1,), scalar=True)],
         [first, rest], num_splits=2)
    merged = n.like(logits)
    n.op("CONCATENATION", [rest, first], [merged], axis=1, fused_activation_function="NONE")
    probs = n.act(n.shape(merged), 1 / 256, -128)
    n.op("SOFTMAX", [merged], [probs], beta=1.0)
    return n.graph([x], [probs])


def sequence_chain(seed: int) -> Graph:
    """The operators of an unrolled recurrent cell: reshape, unpack, shared fully connected
    layers, split, logistic, tanh, multiply, subtract from a constant, pack and a final mean."""
    n = Net(seed)
    steps, features, units = (int(n.rng.integers(2, 6)), int(n.rng.integers(1, 5)),
                              int(n.rng.integers(2, 6)))
    x = n.act((1, steps, features))
    seq = n.like(x, (steps, 1, features))
    n.op("RESHAPE", [x, n.int32((steps, 1, features))], [seq])
    frames = [n.like(x, (1, features)) for _ in range(steps)]
    n.op("UNPACK", [seq], frames, num=steps, axis=0)
    weight = n.weights((2 * units, features), 1, axis=0)
    one = n.const_int8(())
    states = []
    for frame in frames:
        gates = n.act((1, 2 * units), n.out_scale(frame, weight, features))
        n.op("FULLY_CONNECTED", [frame, weight, -1], [gates], fused_activation_function="NONE",
             keep_num_dims=False)
        z, h = n.like(gates, (1, units)), n.like(gates, (1, units))
        n.op("SPLIT", [n.int32((1,), scalar=True), gates], [z, h], num_splits=2)
        z_sig = n.act((1, units), 1 / 256, -128)
        n.op("LOGISTIC", [z], [z_sig])
        h_tanh = n.act((1, units), 1 / 128, 0)
        n.op("TANH", [h], [h_tanh])
        keep = n.act((1, units), 1 / 200)
        n.op("SUB", [one, z_sig], [keep], fused_activation_function="NONE")
        states.append(binary(n, "MUL", keep, h_tanh))
    stacked = n.like(states[0], (steps, 1, units))
    for s in states[1:]:
        n.op("QUANTIZE", [s], [n.like(states[0])])
    requantized = [states[0]] + [op.outputs[0] for op in n.ops[-(steps - 1):]] if steps > 1 \
        else [states[0]]
    n.op("PACK", requantized, [stacked], values_count=steps, axis=0)
    squeezed = n.like(stacked, (steps, units))
    n.op("SQUEEZE", [stacked], [squeezed], squeeze_dims=(1,))
    expanded = n.like(stacked, (1, steps, units))
    n.op("EXPAND_DIMS", [squeezed, n.int32((0,), scalar=True)], [expanded])
    mean = n.act((1, units))
    n.op("MEAN", [expanded, n.int32((1,))], [mean], keep_dims=False)
    return n.graph([x], [mean])


def overlap_chain(seed: int) -> Graph:
    """Operators of equal-sized outputs in a row, so that writing each output over its dying
    input is what decides the arena: convolutions, pools, table lookups, requantization and
    element-wise operators with constants."""
    n = Net(seed)
    x = n.act((1, 10, 10, 3))
    weight = n.weights((8, 3, 3, 3), 8, axis=0)
    y = n.act((1, 10, 10, 8), n.out_scale(x, weight, 27))
    n.op("CONV_2D", [x, weight, n.bias(n.scale(x), weight, 8)], [y], padding="SAME", stride_h=1,
         stride_w=1, dilation_h_factor=1, dilation_w_factor=1, fused_activation_function="RELU")
    weight = n.weights((1, 3, 3, 8), 8, axis=3)
    z = n.act((1, 10, 10, 8), n.out_scale(y, weight, 9))
    n.op("DEPTHWISE_CONV_2D", [y, weight, n.bias(n.scale(y), weight, 8)], [z], padding="SAME",
         stride_h=1, stride_w=1, depth_multiplier=1, dilation_h_factor=1, dilation_w_factor=1,
         fused_activation_function="NONE")
    for kind, k in (("AVERAGE_POOL_2D", 3), ("MAX_POOL_2D", 2)):
        pooled = n.like(z)
        n.op(kind, [z], [pooled], padding="SAME", stride_h=1, stride_w=1, filter_height=k,
             filter_width=k, fused_activation_function="NONE")
        z = pooled
    squashed = n.act(n.shape(z), 1 / 256, -128)
    n.op("LOGISTIC", [z], [squashed])
    requantized = n.act(n.shape(z), 1 / 100, -20)
    n.op("QUANTIZE", [squashed], [requantized])
    z = binary(n, "ADD", requantized, n.const_int8((1, 1, 1, 8)))
    z = binary(n, "MUL", z, n.const_int8((1, 1, 1, 8)))
    bent = n.act(n.shape(z), 1 / 128, 0)
    n.op("TANH", [z], [bent])
    z = conv(n, bent)
    channels = n.shape(z)[-1]
    mean = n.act((1, channels))
    n.op("MEAN", [z, n.int32((1, 2))], [mean], keep_dims=False)
    logits = fully_connected(n, mean, 4)
    probs = n.act((1, 4), 1 / 256, -128)
    n.op("SOFTMAX", [logits], [probs], beta=1.0)
    return n.graph([x], [probs])


def digits_classifier(seed: int) -> Graph:
    """A small classifier of 8x8 single-channel images into 10 classes (the digits dataset)."""
    n = Net(seed)
    x = n.act((1, 8, 8, 1), scale=0.02, zero_point=-5)
    y = conv(n, x)
    channels = n.shape(y)[-1]
    mean = n.act((1, channels))
    n.op("MEAN", [y, n.int32((1, 2))], [mean], keep_dims=False)
    logits = fully_connected(n, mean, 10)
    probs = n.act((1, 10), 1 / 256, -128)
    n.op("SOFTMAX", [logits], [probs], beta=1.0)
    return n.graph([x], [probs])


def with_operator(graph: Graph, opcode: str) -> Graph:
    """``graph`` with its first operator relabelled ``opcode`` (to provoke refusals)."""
    first = graph.operators[0]
    changed = Operator(opcode, first.inputs, first.outputs, {})
    return Graph(graph.tensors, (changed, *graph.operators[1:]), graph.inputs, graph.outputs)
