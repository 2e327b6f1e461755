"""``cnn``: a plain CNN over the same depth range as ``ds_cnn``, the baseline that shows what
depthwise-separable blocks save."""

from __future__ import annotations

from dataclasses import dataclass

from tinynas.spaces._base import register
from tinynas.spaces._convnet import ConvArch, ConvStackSpace


@dataclass(frozen=True)
class CNNArch(ConvArch):
    """A first convolution followed by full convolution blocks (see :class:`ConvArch`)."""


@register
class CNNSpace(ConvStackSpace):
    """Each block is one full convolution with batch norm and ReLU."""

    family = "cnn"
    arch_type = CNNArch
    spatial_dims = 2
    block_kind = "plain"
