"""Search spaces: one family per module, registered by family name."""

from __future__ import annotations

from tinynas.spaces import cnn, cnn1d, ds_cnn, gru, mixed_cnn  # noqa: F401  (registration)
from tinynas.spaces._base import (
    LR_SCHEDULES,
    Arch,
    Compression,
    CompressionChoices,
    SearchSpace,
    SpaceConfig,
    TrainingConfig,
    families,
    load_space,
    load_space_file,
    register,
    space_names,
)

__all__ = [
    "LR_SCHEDULES",
    "Arch",
    "Compression",
    "CompressionChoices",
    "SearchSpace",
    "SpaceConfig",
    "TrainingConfig",
    "families",
    "load_space",
    "load_space_file",
    "register",
    "space_names",
]
