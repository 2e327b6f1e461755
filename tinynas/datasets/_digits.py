"""scikit-learn's 8x8 handwritten digits, shipped with scikit-learn (offline)."""

from __future__ import annotations

import numpy as np

from tinynas.datasets._base import Dataset, build_dataset, stratified_subset

SOURCE = "scikit-learn load_digits (UCI optical recognition of handwritten digits, 8x8)"


def load_digits(seed: int = 0, limit: int | None = None) -> Dataset:
    """The 1,797 digit images as ``(8, 8, 1)`` samples, pixel values 0..16 before normalization.

    Args:
        seed: Fixes the stratified train/validation/test split.
        limit: Keep at most this many samples (stratified), for quick runs.
    """
    # scikit-learn takes about a second to import; only this loader needs it.
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = bunch.images.astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    if limit is not None:
        keep = stratified_subset(y, limit, seed)
        x, y = x[keep], y[keep]
    return build_dataset(name="digits", modality="image", x=x, y=y,
                         class_names=[str(i) for i in range(10)], source=SOURCE, seed=seed,
                         where="digits")
