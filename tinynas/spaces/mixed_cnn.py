"""``mixed_cnn``: a convolution stack whose blocks are each a full or a depthwise-separable
convolution, chosen per block.

A depthwise-separable block saves weights and MACs where a layer has many channels, but on the
narrow, high-resolution early layers of a small image model it saves little and costs accuracy:
a plain convolution is often the better block there. This space lets the search decide block by
block. Its zero-block models (the first convolution straight into the classifier) reach the
smallest arenas of any convolution stack; its dense-only models (no convolution, see
:mod:`tinynas.spaces._convnet`) go lower still on small inputs such as 8x8 digits.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinynas.errors import SearchSpaceError
from tinynas.spaces._base import register
from tinynas.spaces._convnet import ConvArch, ConvStackSpace


@dataclass(frozen=True)
class MixedCNNArch(ConvArch):
    """A first convolution followed by plain or depthwise-separable blocks (see
    :class:`ConvArch`).

    Attributes:
        separable: For each block, whether it is depthwise-separable (depthwise then 1x1
            convolution) instead of one full convolution.
    """

    separable: tuple[bool, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.separable) != len(self.filters):
            raise SearchSpaceError(
                f"architecture: separable must have one entry per block, got "
                f"{len(self.separable)} for {len(self.filters)} blocks")


@register
class MixedCNNSpace(ConvStackSpace):
    """Each block is either one full convolution or a depthwise then a 1x1 convolution, each
    convolution with batch norm and ReLU."""

    family = "mixed_cnn"
    arch_type = MixedCNNArch
    spatial_dims = 2
    block_kind = "per_block"
