"""TensorFlow Lite's quantization arithmetic, evaluated at generation time.

Every multiplier, shift, activation range and lookup table is computed exactly as the
interpreter's ``Prepare`` functions compute it (double precision where they use double, single
precision where they use float), so the generated kernels round exactly like the reference ones.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from functools import cache
from typing import Any

import numpy as np

from tinynas.errors import ExportError

INT8_MIN, INT8_MAX = -128, 127


def _round_half_away(x: float) -> float:
    """``std::round``: halves away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """``tflite::QuantizeMultiplier``: ``real ~= multiplier * 2**(shift - 31)``.

    Args:
        real: A non-negative scale ratio (double precision).

    Returns:
        The Q31 multiplier and the shift (positive means a left shift).
    """
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(_round_half_away(q * (1 << 31)))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def quantize_multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    """``tflite::QuantizeMultiplierSmallerThanOneExp``: the shift is never positive.

    Raises:
        ExportError: ``real`` is not in (0, 1).
    """
    if not 0.0 < real < 1.0:
        raise ExportError(f"a rescaling factor must lie in (0, 1), got {real!r}")
    multiplier, shift = quantize_multiplier(real)
    if shift > 0:
        raise ExportError(f"a rescaling factor must lie in (0, 1), got {real!r}")
    return multiplier, shift


def mean_multiplier(real: float, count: int) -> tuple[int, int]:
    """The multiplier of ``QuantizedMeanOrSum``: ``real`` quantized, then divided by ``count`` in
    fixed point (not ``real / count`` quantized, which rounds differently).

    Args:
        real: Input scale over output scale.
        count: Elements averaged into each output.
    """
    multiplier, shift = quantize_multiplier(real)
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << extra) // count, shift - extra


def f32(x: float | np.floating[Any]) -> float:
    """Round a double to single precision, as a C++ ``static_cast<float>`` does."""
    return float(np.float32(x))


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """``CalculateActivationRangeQuantized`` for an int8 output.

    Args:
        activation: The fused activation (``NONE``, ``RELU``, ``RELU6``, ``RELU_N1_TO_1``).
        scale: The output scale.
        zero_point: The output zero point.

    Raises:
        ExportError: An activation TFLite does not fuse into int8 kernels.
    """
    def quantize(value: float) -> int:
        # Quantize(): f / scale in single precision, rounded half away from zero.
        return zero_point + int(_round_half_away(f32(np.float32(value) / np.float32(scale))))

    if activation in ("NONE", "", None):
        return INT8_MIN, INT8_MAX
    if activation == "RELU":
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if activation == "RELU6":
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(INT8_MIN, quantize(-1.0)), min(INT8_MAX, quantize(1.0))
    raise ExportError(f"fused activation {activation!r} is not supported; supported: NONE, RELU, "
                      "RELU6, RELU_N1_TO_1")


@cache
def _libm() -> ctypes.CDLL:
    name = ctypes.util.find_library("m") or "libm.so.6"
    lib = ctypes.CDLL(name)
    for fn in ("expf", "tanhf"):
        getattr(lib, fn).restype = ctypes.c_float
        getattr(lib, fn).argtypes = [ctypes.c_float]
    return lib


def expf(x: float) -> float:
    """The C library's single-precision exponential (the one TensorFlow Lite calls)."""
    return float(_libm().expf(ctypes.c_float(x)))


def tanhf(x: float) -> float:
    """The C library's single-precision hyperbolic tangent."""
    return float(_libm().tanhf(ctypes.c_float(x)))


def lookup_table(kind: str, in_scale: float, in_zp: int, out_scale: float,
                 out_zp: int) -> list[int]:
    """The 256-entry int8 table TensorFlow Lite's ``PopulateLookupTable`` builds.

    Args:
        kind: ``LOGISTIC`` or ``TANH``.
        in_scale: Input scale.
        in_zp: Input zero point.
        out_scale: Output scale.
        out_zp: Output zero point.

    Returns:
        Table values indexed by the input byte read as unsigned.
    """
    s_in, s_out = np.float32(in_scale), np.float32(out_scale)
    inverse = np.float32(np.float32(1.0) / s_out)
    table = [0] * 256
    for val in range(INT8_MIN, INT8_MAX + 1):
        x = f32(s_in * np.float32(val - in_zp))
        if kind == "LOGISTIC":
            y = f32(np.float32(1.0) / np.float32(f32(np.float32(1.0) + np.float32(expf(-x)))))
        else:
            y = tanhf(x)
        rescaled = _round_half_away(f32(np.float32(y) * inverse))
        quantized = int(f32(np.float32(rescaled) + np.float32(out_zp)))
        table[val & 0xFF] = min(max(quantized, INT8_MIN), INT8_MAX)
    return table


def softmax_scaling(beta: float, in_scale: float) -> tuple[int, int, int]:
    """``PreprocessSoftmaxScaling`` and ``CalculateInputRadius`` for differences in Q5.26.

    Returns:
        The multiplier, its shift (negative for very small ``beta * in_scale``), and the smallest
        input difference that still counts.
    """
    integer_bits = 5
    real = min(beta * in_scale * (1 << (31 - integer_bits)), (1 << 31) - 1.0)
    multiplier, shift = quantize_multiplier(real)
    radius = math.floor(((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) * 2.0 ** -shift)
    # Below -255 no int8 difference is excluded, however far the radius reaches.
    return multiplier, shift, -min(radius, 1 << 30)
