"""One lowering function per TFLite operator: checks what the runtime supports, computes the
quantization constants as TensorFlow Lite's ``Prepare`` does, and appends kernel calls."""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import numpy as np

from tinynas.codegen import _quant as q
from tinynas.codegen._program import NULL, ConstRef, Literal, Program, TensorRef
from tinynas.errors import ExportError
from tinynas.graph import Operator, Tensor

_Lowering = Callable[[Program, Operator], None]
_REGISTRY: dict[str, _Lowering] = {}

#: Operators that only move bytes: the runtime shares or copies them.
RESHAPES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


def _lowers(*opcodes: str) -> Callable[[_Lowering], _Lowering]:
    def register(fn: _Lowering) -> _Lowering:
        for opcode in opcodes:
            _REGISTRY[opcode] = fn
        return fn
    return register


def supported_operators() -> list[str]:
    """The TFLite operators the generated runtime implements, sorted."""
    return sorted(_REGISTRY)


def lowering(opcode: str) -> _Lowering | None:
    """The lowering function of ``opcode``, or None when unsupported."""
    return _REGISTRY.get(opcode)


# --- helpers -----------------------------------------------------------------------------------

def _scale(t: Tensor) -> float:
    if not t.scale:
        raise ExportError(f"tensor {t.index} has no quantization scale")
    if not 0.0 < t.scale[0] < float("inf"):  # NaN fails too; a scale of 0 divides by zero
        raise ExportError(f"tensor {t.index} has quantization scale {t.scale[0]!r}; "
                          "a quantized tensor needs a positive, finite scale")
    return t.scale[0]


def _zp(t: Tensor) -> int:
    return t.zero_point[0] if t.zero_point else 0


def _int8(p: Program, op: Operator, *indices: int) -> list[Tensor]:
    tensors = [p.tensor(i) for i in indices]
    for t in tensors:
        if t.dtype != "int8":
            raise ExportError(f"{op.opcode}: tensor {t.index} is {t.dtype}; the runtime expects "
                              "int8 activations")
    return tensors


def _per_channel(p: Program, real: list[float]) -> tuple[ConstRef, ConstRef]:
    pairs = [q.quantize_multiplier(r) for r in real]
    return (p.const("int32_t", [m for m, _ in pairs], "multipliers"),
            p.const("int8_t", [s for _, s in pairs], "shifts"))


def _act(op: Operator, out: Tensor) -> tuple[int, int]:
    return q.activation_range(op.options.get("fused_activation_function", "NONE"), _scale(out),
                              _zp(out))


def _nhwc(t: Tensor, op: Operator) -> tuple[int, int, int]:
    if len(t.shape) != 4 or t.shape[0] != 1:
        raise ExportError(f"{op.opcode}: tensor {t.index} has shape {list(t.shape)}; expected "
                          "[1, height, width, channels]")
    return t.shape[1], t.shape[2], t.shape[3]


def _padding(op: Operator, stride: int, dilation: int, in_size: int, k: int, out_size: int) -> int:
    """``ComputePaddingWithOffset``: the padding before the first row or column."""
    if op.options.get("padding", "SAME") == "VALID":
        return 0
    effective = (k - 1) * dilation + 1
    return max((out_size - 1) * stride + effective - in_size, 0) // 2


def _bias(p: Program, op: Operator, index: int) -> ConstRef:
    if index < 0:
        return NULL
    t = p.tensor(index)
    if t.dtype != "int32":
        raise ExportError(f"{op.opcode}: bias tensor {index} is {t.dtype}; expected int32")
    return p.tensor_data(index, "int32_t")


def _channel_scales(w: Tensor, channels: int) -> list[float]:
    scales = list(w.scale) if w.scale else []
    if len(scales) == 1:
        scales *= channels
    if len(scales) != channels:
        raise ExportError(f"weights tensor {w.index} has {len(scales)} scales for {channels} "
                          "output channels")
    return scales


def _i16(name: str, value: int) -> int:
    if not -32768 <= value <= 32767:
        raise ExportError(f"{name} = {value} does not fit the runtime's 16-bit field")
    return value


def _in(op: Operator, k: int) -> int:
    if len(op.inputs) <= k or op.inputs[k] < 0:
        raise ExportError(f"{op.opcode}: input {k} is missing")
    return op.inputs[k]


# --- convolutions ------------------------------------------------------------------------------

def _conv_params(p: Program, op: Operator, depthwise: bool) -> tuple[dict[str, Any], Tensor]:
    x, w = p.tensor(_in(op, 0)), p.tensor(_in(op, 1))
    _int8(p, op, x.index, w.index, op.outputs[0])
    out = p.tensor(op.outputs[0])
    in_h, in_w, in_c = _nhwc(x, op)
    out_h, out_w, out_c = _nhwc(out, op)
    if len(w.shape) != 4:
        raise ExportError(f"{op.opcode}: weights tensor {w.index} has shape {list(w.shape)}")
    k_h, k_w = w.shape[1], w.shape[2]
    if depthwise:
        if w.shape[3] != out_c or out_c % in_c:
            raise ExportError(f"{op.opcode}: weights {list(w.shape)} do not match {in_c} input "
                              f"and {out_c} output channels")
    elif w.shape[0] != out_c or w.shape[3] != in_c:
        raise ExportError(f"{op.opcode}: grouped convolution (weights {list(w.shape)}, "
                          f"{in_c} input channels) is not supported")
    o = op.options
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    act_min, act_max = _act(op, out)
    fields = {
        "in_h": in_h, "in_w": in_w, "in_c": in_c, "out_h": out_h, "out_w": out_w, "out_c": out_c,
        "k_h": k_h, "k_w": k_w, "stride_h": sh, "stride_w": sw, "dil_h": dh, "dil_w": dw,
        "pad_h": _padding(op, sh, dh, in_h, k_h, out_h),
        "pad_w": _padding(op, sw, dw, in_w, k_w, out_w),
        "depth_mult": out_c // in_c if depthwise else 1,
        "in_offset": -_zp(x), "out_offset": _zp(out), "act_min": act_min, "act_max": act_max,
    }
    for name, value in fields.items():
        _i16(name, value)
    return fields, out


@_lowers("CONV_2D", "DEPTHWISE_CONV_2D")
def _conv(p: Program, op: Operator) -> None:
    depthwise = op.opcode == "DEPTHWISE_CONV_2D"
    fields, out = _conv_params(p, op, depthwise)
    x, w = p.tensor(op.inputs[0]), p.tensor(op.inputs[1])
    # PopulateConvolutionQuantizationParams: in * filter / out, in double precision.
    real = [_scale(x) * s / _scale(out) for s in _channel_scales(w, fields["out_c"])]
    mult, shift = _per_channel(p, real)
    kernel = "tn_depthwise_conv2d_s8" if depthwise else "tn_conv2d_s8"
    p.add(op, kernel, ("tn_conv_params", fields), TensorRef(x.index),
          p.tensor_data(w.index, "int8_t"), _bias(p, op, op.inputs[2] if len(op.inputs) > 2
                                                  else -1),
          mult, shift, TensorRef(out.index, write=True))


@_lowers("FULLY_CONNECTED")
def _fully_connected(p: Program, op: Operator) -> None:
    x, w, out = _int8(p, op, _in(op, 0), _in(op, 1), op.outputs[0])
    if op.options.get("weights_format", "DEFAULT") != "DEFAULT":
        raise ExportError(f"FULLY_CONNECTED: weights format {op.options['weights_format']!r} is "
                          "not supported")
    if len(w.shape) != 2:
        raise ExportError(f"FULLY_CONNECTED: weights tensor {w.index} has shape "
                          f"{list(w.shape)}")
    units, depth = w.shape
    if x.elements % depth or out.elements != x.elements // depth * units:
        raise ExportError(f"FULLY_CONNECTED: input {list(x.shape)} and output "
                          f"{list(out.shape)} do not match weights {list(w.shape)}")
    per_channel = len(w.scale) > 1
    scales = _channel_scales(w, units) if per_channel else [_scale(w)]
    mult, shift = _per_channel(p, [_scale(x) * s / _scale(out) for s in scales])
    act_min, act_max = _act(op, out)
    fields = {"batches": x.elements // depth, "depth": depth, "units": units,
              "in_offset": -_zp(x), "w_offset": 0 if per_channel else -_zp(w),
              "out_offset": _zp(out), "act_min": act_min, "act_max": act_max,
              "per_channel": int(per_channel)}
    p.add(op, "tn_fully_connected_s8", ("tn_fc_params", fields), TensorRef(x.index),
          p.tensor_data(w.index, "int8_t"),
          _bias(p, op, op.inputs[2] if len(op.inputs) > 2 else -1), mult, shift,
          TensorRef(out.index, write=True))


# --- pooling and reduction ---------------------------------------------------------------------

@_lowers("AVERAGE_POOL_2D", "MAX_POOL_2D")
def _pool(p: Program, op: Operator) -> None:
    x, out = _int8(p, op, _in(op, 0), op.outputs[0])
    if (_scale(x), _zp(x)) != (_scale(out), _zp(out)):
        raise ExportError(f"{op.opcode}: input and output quantization differ (tensors "
                          f"{x.index}, {out.index}); TFLite requires them equal")
    in_h, in_w, c = _nhwc(x, op)
    out_h, out_w, _ = _nhwc(out, op)
    o = op.options
    k_h, k_w = o.get("filter_height", 1), o.get("filter_width", 1)
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    act_min, act_max = _act(op, out)
    fields = {"in_h": in_h, "in_w": in_w, "channels": c, "out_h": out_h, "out_w": out_w,
              "k_h": k_h, "k_w": k_w, "stride_h": sh, "stride_w": sw,
              "pad_h": _padding(op, sh, 1, in_h, k_h, out_h),
              "pad_w": _padding(op, sw, 1, in_w, k_w, out_w),
              "act_min": act_min, "act_max": act_max}
    for name, value in fields.items():
        _i16(name, value)
    kernel = "tn_avg_pool_s8" if op.opcode == "AVERAGE_POOL_2D" else "tn_max_pool_s8"
    p.add(op, kernel, ("tn_pool_params", fields), TensorRef(x.index),
          TensorRef(out.index, write=True))


def _int32_values(p: Program, op: Operator, index: int) -> list[int]:
    t = p.tensor(index)
    if t.data is None or t.dtype != "int32":
        raise ExportError(f"{op.opcode}: input tensor {index} must be a constant int32 tensor")
    return [int(v) for v in np.frombuffer(t.data, dtype="<i4")]


def _reduce_view(p: Program, op: Operator, x: Tensor) -> dict[str, int]:
    """The input as [outer, reduce, inner] (size-1 dimensions ignored)."""
    raw_axes = _int32_values(p, op, _in(op, 1))
    rank = len(x.shape)
    axes = {a + rank if a < 0 else a for a in raw_axes}
    runs = [(a in axes) for a, d in enumerate(x.shape) if d > 1]
    sizes = [d for d in x.shape if d > 1]
    first = runs.index(True) if True in runs else len(runs)
    last = len(runs) - runs[::-1].index(True) if True in runs else len(runs)
    if not all(runs[first:last]):
        raise ExportError(f"{op.opcode} over axes {raw_axes} of shape {list(x.shape)} is not over "
                          "one contiguous block of dimensions; not supported")
    return {"outer": prod(sizes[:first]), "reduce": prod(sizes[first:last]),
            "inner": prod(sizes[last:])}


@_lowers("MEAN")
def _mean(p: Program, op: Operator) -> None:
    x, out = _int8(p, op, _in(op, 0), op.outputs[0])
    view = _reduce_view(p, op, x)
    mult, shift = q.mean_multiplier(_scale(x) / _scale(out), view["reduce"])
    fields = {**view, "in_zp": _zp(x), "out_zp": _zp(out), "mult": mult, "shift": shift}
    p.add(op, "tn_mean_s8", ("tn_mean_params", fields), TensorRef(x.index),
          TensorRef(out.index, write=True))


@_lowers("REDUCE_MAX")
def _reduce_max(p: Program, op: Operator) -> None:
    x, out = _int8(p, op, _in(op, 0), op.outputs[0])
    _same_quant(op, [x, out])
    fields = {**_reduce_view(p, op, x), "in_zp": 0, "out_zp": 0, "mult": 0, "shift": 0}
    p.add(op, "tn_reduce_max_s8", ("tn_mean_params", fields), TensorRef(x.index),
          TensorRef(out.index, write=True))


# --- element-wise ------------------------------------------------------------------------------

def _broadcast(op: Operator, a: Tensor, b: Tensor, out: Tensor) -> dict[str, list[int]]:
    """Output dims and per-input element strides (0 where an input is repeated), in 4-D."""
    rank = max(len(a.shape), len(b.shape), len(out.shape))
    dims = [1] * (rank - len(out.shape)) + list(out.shape)
    while len(dims) > 4 and dims[0] == 1:
        dims.pop(0)
    if len(dims) > 4:
        raise ExportError(f"{op.opcode}: broadcasting over {len(dims)} dimensions is not "
                          "supported (at most 4)")
    dims = [1] * (4 - len(dims)) + dims

    def strides(t: Tensor) -> list[int]:
        shape = [1] * (4 - len(t.shape)) + list(t.shape[-4:]) if t.shape else [1] * 4
        if any(s not in (1, d) for s, d in zip(shape, dims, strict=True)):
            raise ExportError(f"{op.opcode}: tensor {t.index} of shape {list(t.shape)} does not "
                              f"broadcast to {list(out.shape)}")
        result, step = [0] * 4, 1
        for k in range(3, -1, -1):
            result[k] = step if shape[k] > 1 else 0
            step *= shape[k]
        return result

    return {"dims": dims, "stride1": strides(a), "stride2": strides(b)}


def _operand(p: Program, index: int) -> TensorRef | ConstRef:
    t = p.tensor(index)
    return p.tensor_data(index, "int8_t") if t.data is not None else TensorRef(index)


@_lowers("ADD", "SUB")
def _add(p: Program, op: Operator) -> None:
    a, b, out = _int8(p, op, _in(op, 0), _in(op, 1), op.outputs[0])
    left_shift = 20
    # PrepareGeneralSubOp / add.cc: both inputs rescaled to twice the larger input scale.
    twice_max = 2.0 * max(_scale(a), _scale(b))
    m1, s1 = q.quantize_multiplier_smaller_than_one(_scale(a) / twice_max)
    m2, s2 = q.quantize_multiplier_smaller_than_one(_scale(b) / twice_max)
    out_real = twice_max / q.f32(np.float32(1 << left_shift) * np.float32(_scale(out)))
    mo, so = q.quantize_multiplier_smaller_than_one(out_real)
    if op.opcode == "SUB":
        m2 = -m2
    act_min, act_max = _act(op, out)
    fields = {**_broadcast(op, a, b, out), "in1_offset": -_zp(a), "in2_offset": -_zp(b),
              "out_offset": _zp(out), "mult1": m1, "mult2": m2, "out_mult": mo,
              "shift1": s1, "shift2": s2, "out_shift": so, "left_shift": left_shift,
              "act_min": act_min, "act_max": act_max}
    p.add(op, "tn_add_s8", ("tn_binary_params", fields), _operand(p, a.index),
          _operand(p, b.index), TensorRef(out.index, write=True))


@_lowers("MUL")
def _mul(p: Program, op: Operator) -> None:
    a, b, out = _int8(p, op, _in(op, 0), _in(op, 1), op.outputs[0])
    mult, shift = q.quantize_multiplier(_scale(a) * _scale(b) / _scale(out))
    act_min, act_max = _act(op, out)
    fields = {**_broadcast(op, a, b, out), "in1_offset": -_zp(a), "in2_offset": -_zp(b),
              "out_offset": _zp(out), "mult1": 0, "mult2": 0, "out_mult": mult,
              "shift1": 0, "shift2": 0, "out_shift": shift, "left_shift": 0,
              "act_min": act_min, "act_max": act_max}
    p.add(op, "tn_mul_s8", ("tn_binary_params", fields), _operand(p, a.index),
          _operand(p, b.index), TensorRef(out.index, write=True))


@_lowers("LOGISTIC", "TANH")
def _lut(p: Program, op: Operator) -> None:
    x, out = _int8(p, op, _in(op, 0), op.outputs[0])
    table = q.lookup_table(op.opcode, _scale(x), _zp(x), _scale(out), _zp(out))
    p.add(op, "tn_lut_s8", None, p.const("int8_t", table, f"{op.opcode.lower()} table"),
          TensorRef(x.index), TensorRef(out.index, write=True), Literal(str(x.elements)))


@_lowers("SOFTMAX")
def _softmax(p: Program, op: Operator) -> None:
    x, out = _int8(p, op, _in(op, 0), op.outputs[0])
    if (_scale(out), _zp(out)) != (1.0 / 256, -128):
        raise ExportError(f"SOFTMAX: output tensor {out.index} must have scale 1/256 and zero "
                          f"point -128 (TFLite's int8 softmax), got {_scale(out)}, {_zp(out)}")
    depth = x.shape[-1] if x.shape else 1
    mult, shift, diff_min = q.softmax_scaling(float(op.options.get("beta", 1.0)), _scale(x))
    fields = {"outer": x.elements // depth, "depth": depth, "mult": mult, "shift": shift,
              "diff_min": diff_min}
    p.add(op, "tn_softmax_s8", ("tn_softmax_params", fields), TensorRef(x.index),
          TensorRef(out.index, write=True))


@_lowers("QUANTIZE")
def _requantize(p: Program, op: Operator) -> None:
    x, out = _int8(p, op, _in(op, 0), op.outputs[0])
    if (_scale(x), _zp(x)) == (_scale(out), _zp(out)):
        p.view(out.index, x.index)
        return
    mult, shift = q.quantize_multiplier(_scale(x) / _scale(out))
    fields = {"size": x.elements, "in_zp": _zp(x), "out_zp": _zp(out), "mult": mult,
              "shift": shift}
    p.add(op, "tn_requantize_s8", ("tn_requantize_params", fields), TensorRef(x.index),
          TensorRef(out.index, write=True))


# --- data movement -----------------------------------------------------------------------------

@_lowers(*RESHAPES)
def _reshape(p: Program, op: Operator) -> None:
    x, out = p.tensor(_in(op, 0)), p.tensor(op.outputs[0])
    if x.nbytes != out.nbytes:
        raise ExportError(f"{op.opcode}: tensor {x.index} ({x.nbytes} bytes) cannot become "
                          f"tensor {out.index} ({out.nbytes} bytes)")
    p.view(out.index, x.index)


def _slice_copy(p: Program, op: Operator, big: Tensor, axis: int, start: int, length: int,
                small: Tensor, into_big: bool) -> None:
    """Move ``small`` to or from the ``[start, start + length)`` slab of ``big`` along ``axis``."""
    shape = big.shape
    inner = prod(shape[axis + 1:]) * (big.nbytes // max(big.elements, 1))
    outer = prod(shape[:axis])
    offset, block, stride = start * inner, length * inner, shape[axis] * inner
    if into_big:
        p.add(op, "tn_copy_blocks", None, _operand_bytes(p, small.index),
              TensorRef(big.index, offset, write=True), Literal(str(outer)), Literal(str(block)),
              Literal(str(block)), Literal(str(stride)))
    elif outer == 1 and big.data is None:
        p.view(small.index, big.index, offset)
    else:
        p.add(op, "tn_copy_blocks", None, _operand_bytes(p, big.index, offset),
              TensorRef(small.index, write=True), Literal(str(outer)), Literal(str(block)),
              Literal(str(stride)), Literal(str(block)))


def _operand_bytes(p: Program, index: int, offset: int = 0) -> TensorRef | ConstRef:
    if p.tensor(index).data is not None:
        ref = p.tensor_data(index, "int8_t")
        return ConstRef(f"{ref.name} + {offset}") if offset else ref
    return TensorRef(index, offset)


def _axis(op: Operator, value: int, rank: int) -> int:
    axis = value + rank if value < 0 else value
    if not 0 <= axis < rank:
        raise ExportError(f"{op.opcode}: axis {value} is out of range for rank {rank}")
    return axis


def _same_quant(op: Operator, tensors: list[Tensor]) -> None:
    ref = tensors[0]
    for t in tensors[1:]:
        if (t.scale[:1], t.zero_point[:1]) != (ref.scale[:1], ref.zero_point[:1]):
            raise ExportError(f"{op.opcode}: tensors {ref.index} and {t.index} have different "
                              "quantization; the runtime only moves bytes here")


@_lowers("SPLIT", "SPLIT_V", "UNPACK")
def _split(p: Program, op: Operator) -> None:
    if op.opcode == "SPLIT":
        x = p.tensor(_in(op, 1))
        (axis_value,) = _int32_values(p, op, _in(op, 0))
    elif op.opcode == "SPLIT_V":
        x = p.tensor(_in(op, 0))
        (axis_value,) = _int32_values(p, op, _in(op, 2))
    else:
        x = p.tensor(_in(op, 0))
        axis_value = int(op.options.get("axis", 0))
    axis = _axis(op, axis_value, len(x.shape))
    outs = [p.tensor(i) for i in op.outputs]
    _same_quant(op, [x, *outs])
    start = 0
    for out in outs:
        length = 1 if op.opcode == "UNPACK" else out.shape[axis]
        _slice_copy(p, op, x, axis, start, length, out, into_big=False)
        start += length
    if start != x.shape[axis]:
        raise ExportError(f"{op.opcode}: outputs cover {start} of {x.shape[axis]} entries")


@_lowers("CONCATENATION", "PACK")
def _concat(p: Program, op: Operator) -> None:
    out = p.tensor(op.outputs[0])
    ins = [p.tensor(i) for i in op.inputs]
    _same_quant(op, [out, *ins])
    if op.options.get("fused_activation_function", "NONE") not in ("NONE", None):
        raise ExportError(f"{op.opcode}: a fused activation is not supported")
    axis = _axis(op, int(op.options.get("axis", 0)), len(out.shape))
    start = 0
    for t in ins:
        length = 1 if op.opcode == "PACK" else t.shape[axis]
        _slice_copy(p, op, out, axis, start, length, t, into_big=True)
        start += length


@_lowers("DEQUANTIZE")
def _dequantize(p: Program, op: Operator) -> None:
    # Only the int8 -> int8 round trips left by tinynas.codegen._rewrite reach this point.
    x, out = p.tensor(_in(op, 0)), p.tensor(op.outputs[0])
    if out.dtype != "int8" or (_scale(x), _zp(x)) != (_scale(out), _zp(out)):
        raise ExportError(f"DEQUANTIZE: tensor {out.index} is {out.dtype}; the runtime is "
                          "integer-only")
    p.view(out.index, x.index)
