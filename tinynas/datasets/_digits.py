"""scikit-learn's 8x8 handwritten digits, shipped with scikit-learn (offline)."""

from __future__ import annotations

import numpy as np

from tinynas.datasets._base import Dataset, apply_limit, build_dataset, stratified_split

SOURCE = "scikit-learn load_digits (UCI optical recognition of handwritten digits, 8x8)"


def load_digits(seed: int = 0, limit: int | None = None) -> Dataset:
    """The 1,797 digit images as ``(8, 8, 1)`` samples, pixel values 0..16 before normalization.

    Args:
        seed: Fixes the stratified train/validation/test split.
        limit: About this many samples in all (see :func:`load_dataset`).
    """
    # scikit-learn takes about a second to import; only this loader needs it.
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = bunch.images.astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    names = [str(i) for i in range(10)]
    split = stratified_split(y, seed, "digits", class_names=names)
    x, y, split = apply_limit(x, y, split, limit, seed)
    return build_dataset(name="digits", modality="image", x=x, y=y, class_names=names,
                         source=SOURCE, seed=seed, where="digits", split=split)
