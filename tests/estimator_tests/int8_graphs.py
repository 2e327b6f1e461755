"""Small int8 graphs built directly (no TensorFlow): serialized with tinynas.tflite_writer they
run in the real TFLite Micro interpreter, which makes arena measurements cheap."""

from __future__ import annotations

import numpy as np

from tinynas.graph import Graph, Operator, Tensor

_RNG = np.random.default_rng(0)


def act(index: int, shape: tuple[int, ...], scale: float = 0.05, zero_point: int = 0) -> Tensor:
    """An int8 activation quantized per tensor."""
    return Tensor(index, "", shape, "int8", quant_channels=1, scale=(scale,),
                  zero_point=(zero_point,))


def weights(index: int, shape: tuple[int, ...], channels: int, axis: int = 0) -> Tensor:
    """Random int8 weights quantized per channel along ``axis``."""
    data = _RNG.integers(-100, 100, int(np.prod(shape))).astype(np.int8).tobytes()
    return Tensor(index, "", shape, "int8", constant=True, quant_channels=channels,
                  quant_axis=axis, scale=(0.01,) * channels, zero_point=(0,) * channels,
                  data=data)


def bias(index: int, channels: int) -> Tensor:
    """Random int32 biases, one scale per channel."""
    data = _RNG.integers(-500, 500, channels).astype(np.int32).tobytes()
    return Tensor(index, "", (channels,), "int32", constant=True, quant_channels=channels,
                  scale=(0.0005,) * channels, zero_point=(0,) * channels, data=data)


def int32_constant(index: int, values: list[int]) -> Tensor:
    """An unquantized int32 constant (shapes, axes)."""
    return Tensor(index, "", (len(values),), "int32", constant=True,
                  data=np.array(values, np.int32).tobytes())


def conv_net(channels: int = 8, size: int = 12) -> Graph:
    """CONV_2D -> DEPTHWISE_CONV_2D -> MEAN -> FULLY_CONNECTED -> SOFTMAX, like a tiny DS-CNN."""
    c, s = channels, size
    tensors = (
        act(0, (1, s, s, 1)), weights(1, (c, 3, 3, 1), c), bias(2, c), act(3, (1, s, s, c)),
        weights(4, (1, 3, 3, c), c, axis=3), bias(5, c), act(6, (1, s, s, c)),
        int32_constant(7, [1, 2]), act(8, (1, c)), weights(9, (4, c), 4), bias(10, 4),
        act(11, (1, 4)), act(12, (1, 4), scale=1 / 256, zero_point=-128),
    )
    same = {"padding": "SAME", "stride_w": 1, "stride_h": 1, "fused_activation_function": "RELU"}
    ops = (
        Operator("CONV_2D", (0, 1, 2), (3,), same),
        Operator("DEPTHWISE_CONV_2D", (3, 4, 5), (6,), {**same, "depth_multiplier": 1}),
        Operator("MEAN", (6, 7), (8,), {"keep_dims": False}),
        Operator("FULLY_CONNECTED", (8, 9, 10), (11,), {}),
        Operator("SOFTMAX", (11,), (12,), {"beta": 1.0}),
    )
    return Graph(tensors, ops, (0,), (12,))


def residual_net(channels: int = 8, length: int = 32) -> Graph:
    """A 1-D residual block: two (k,1) convolutions, ADD, MAX_POOL_2D, RESHAPE, FC."""
    c, n = channels, length
    tensors = (
        act(0, (1, n, 1, 2)), weights(1, (c, 3, 1, 2), c), bias(2, c), act(3, (1, n, 1, c)),
        weights(4, (c, 3, 1, c), c), bias(5, c), act(6, (1, n, 1, c)), act(7, (1, n, 1, c)),
        act(8, (1, n // 2, 1, c)), int32_constant(9, [1, n // 2 * c]), act(10, (1, n // 2 * c)),
        weights(11, (3, n // 2 * c), 3), act(12, (1, 3)),
    )
    conv = {"padding": "SAME", "stride_w": 1, "stride_h": 1}
    ops = (
        Operator("CONV_2D", (0, 1, 2), (3,), {**conv, "fused_activation_function": "RELU"}),
        Operator("CONV_2D", (3, 4, 5), (6,), conv),
        Operator("ADD", (3, 6), (7,), {"fused_activation_function": "RELU"}),
        Operator("MAX_POOL_2D", (7,), (8,), {"padding": "VALID", "stride_w": 1, "stride_h": 2,
                                             "filter_width": 1, "filter_height": 2}),
        Operator("RESHAPE", (8, 9), (10,), {}),
        Operator("FULLY_CONNECTED", (10, 11, -1), (12,), {}),
    )
    return Graph(tensors, ops, (0,), (12,))


def elementwise_chain(length: int, width: int = 6) -> Graph:
    """Many small tensors (like an unrolled recurrent cell): LOGISTIC, MUL and ADD in turn."""
    tensors = [act(0, (1, width))]
    ops = []
    for step in range(length):
        previous = len(tensors) - 1
        gate = len(tensors)
        tensors.append(act(gate, (1, width), scale=1 / 256, zero_point=-128))
        ops.append(Operator("LOGISTIC", (previous,), (gate,)))
        product = len(tensors)
        tensors.append(act(product, (1, width)))
        ops.append(Operator("MUL", (gate, previous), (product,)))
        total = len(tensors)
        tensors.append(act(total, (1, width)))
        ops.append(Operator("ADD", (product, previous if step % 2 else 0), (total,)))
    return Graph(tuple(tensors), tuple(ops), (0,), (len(tensors) - 1,))
