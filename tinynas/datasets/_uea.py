"""UEA multivariate time-series sets shipped inside aeon (offline)."""

from __future__ import annotations

import importlib.util

import numpy as np

from tinynas.datasets._base import (
    Dataset,
    apply_limit,
    build_dataset,
    encode_labels,
    with_test_split,
)
from tinynas.errors import DatasetError, MissingDependencyError

BASIC_MOTIONS_SOURCE = ("UEA BasicMotions (4 activities, 3-axis accelerometer + gyroscope at "
                        "10 Hz, 100 steps), shipped with aeon")


def basic_motions_missing() -> str | None:
    """Why BasicMotions cannot load here, with the fix; ``None`` when it can."""
    if importlib.util.find_spec("aeon") is None:
        return "basic_motions needs the aeon library; install it with 'pip install aeon==1.6.0'"
    return None


def load_basic_motions(seed: int = 0, limit: int | None = None) -> Dataset:
    """BasicMotions as ``(100, 6)`` windows (time, channel) with its official 40/40 split.

    Raises:
        MissingDependencyError: aeon is not installed.
    """
    missing = basic_motions_missing()
    if missing:
        raise MissingDependencyError(missing)
    from aeon.datasets import load_classification

    try:
        x_tr, labels_tr = load_classification("BasicMotions", split="train")
        x_te, labels_te = load_classification("BasicMotions", split="test")
    except Exception as exc:  # aeon raises bare exceptions for missing or corrupt files
        raise DatasetError(f"aeon BasicMotions: cannot load: {exc}") from None
    # aeon stores (cases, channels, time); models want time first.
    x = np.concatenate([x_tr, x_te]).transpose(0, 2, 1)
    y, names = encode_labels(np.concatenate([labels_tr, labels_te]), "aeon BasicMotions")
    split = with_test_split(y, len(labels_tr), seed, "basic_motions", names)
    x, y, split = apply_limit(x, y, split, limit, seed)
    return build_dataset(name="basic_motions", modality="timeseries", x=x, y=y,
                         class_names=names, source=BASIC_MOTIONS_SOURCE, seed=seed,
                         where="basic_motions", split=split)
