"""Datasets: built-ins that load offline, user data (npz, WAV, CSV, IDX), one split and
normalization policy for all. NumPy only, so commands that import it stay fast."""

from __future__ import annotations

from tinynas.datasets._base import MODALITIES, Dataset, check_samples
from tinynas.datasets._registry import Builtin, builtins, dataset_names, load_dataset

__all__ = [
    "MODALITIES",
    "Builtin",
    "Dataset",
    "builtins",
    "check_samples",
    "dataset_names",
    "load_dataset",
]
