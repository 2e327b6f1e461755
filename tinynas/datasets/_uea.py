"""UEA multivariate time-series sets shipped inside aeon (offline)."""

from __future__ import annotations

import importlib.util

import numpy as np

from tinynas.datasets._base import Dataset, Split, build_dataset, encode_labels, \
    stratified_split, stratified_subset
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
    n_tr = len(labels_tr)
    train_pool, test_pool = np.arange(n_tr), np.arange(n_tr, len(y))
    if limit is not None:
        share = n_tr / len(y)
        train_pool = train_pool[stratified_subset(y[:n_tr], max(1, round(limit * share)), seed)]
        test_pool = test_pool[stratified_subset(y[n_tr:], max(1, limit - len(train_pool)), seed)]
    within = stratified_split(y[train_pool], seed, "basic_motions", test=0.0, class_names=names)
    keep = np.concatenate([train_pool, test_pool])
    n = len(train_pool)
    split = Split(within.train, within.val, np.arange(n, len(keep)), "official test")
    return build_dataset(name="basic_motions", modality="timeseries", x=x[keep], y=y[keep],
                         class_names=names, source=BASIC_MOTIONS_SOURCE, seed=seed,
                         where="basic_motions", split=split)
