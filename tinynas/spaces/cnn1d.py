"""``cnn1d``: 1-D CNN for sensor time series.

Convolutions are ``Conv2D`` with ``(k, 1)`` kernels on a ``(T, 1, C)`` input: the Model
Optimization Toolkit cannot quantize ``Conv1D``, and the converter would wrap it in reshapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinynas.spaces._base import register
from tinynas.spaces._convnet import ConvArch, ConvStackSpace


@dataclass(frozen=True)
class CNN1DArch(ConvArch):
    """A 1-D convolution stack (see :class:`ConvArch`).

    Attributes:
        separable: Whether the blocks are depthwise-separable instead of full convolutions.
    """

    separable: bool


@register
class CNN1DSpace(ConvStackSpace):
    """Time series ``(T, C)`` become ``(T, 1, C)``; audio features ``(frames, coeffs, 1)`` become
    ``(frames, 1, coeffs)``, the coefficients acting as channels."""

    family = "cnn1d"
    arch_type = CNN1DArch
    spatial_dims = 1
    block_kind = "choice"
