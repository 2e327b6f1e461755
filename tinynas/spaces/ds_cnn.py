"""``ds_cnn``: depthwise-separable CNN for keyword spotting on MFCC frames and small images."""

from __future__ import annotations

from dataclasses import dataclass

from tinynas.spaces._base import register
from tinynas.spaces._convnet import ConvArch, ConvStackSpace


@dataclass(frozen=True)
class DSCNNArch(ConvArch):
    """A first convolution followed by depthwise-separable blocks (see :class:`ConvArch`)."""


@register
class DSCNNSpace(ConvStackSpace):
    """Each block is a depthwise convolution then a 1x1 convolution, both with batch norm and
    ReLU: far fewer MACs and weights than a full convolution of the same width."""

    family = "ds_cnn"
    arch_type = DSCNNArch
    spatial_dims = 2
    block_kind = "separable"
