"""User data as a NumPy ``.npz`` archive."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from tinynas.datasets._base import (
    MODALITIES,
    Dataset,
    apply_limit,
    build_dataset,
    encode_labels,
    stratified_split,
    with_test_split,
)
from tinynas.errors import DatasetError

KEYS = ("x", "y", "class_names", "modality", "x_test", "y_test")
_RANK_MODALITY = {1: "timeseries", 2: "timeseries", 3: "image"}


def load_npz(path: Path, seed: int = 0, limit: int | None = None) -> Dataset:
    """Load ``x`` (samples first) and ``y`` from a ``.npz`` file.

    Optional arrays: ``class_names`` (then ``y`` holds indices into it), ``modality`` (one of
    ``image``, ``timeseries``, ``audio``; inferred from the sample rank otherwise: 3-D images,
    1-D or 2-D time series), and ``x_test``/``y_test`` as a fixed test split. 1-D samples become
    ``(T, 1)`` series.

    Raises:
        DatasetError: Unreadable file, missing or unknown arrays, wrong shapes, NaN or infinite
            values, a single class or an empty class.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: np.asarray(archive[k]) for k in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable .npz file ({exc})") from None
    unknown = sorted(set(arrays) - set(KEYS))
    if unknown:
        raise DatasetError(f"{path}: unknown array {unknown[0]!r}; allowed: {', '.join(KEYS)}")
    for key in ("x", "y"):
        if key not in arrays:
            raise DatasetError(f"{path}: missing array {key!r}; expected x (samples first) and y "
                               "(one label per sample)")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DatasetError(f"{path}: x_test and y_test must be given together")
    x, labels = arrays["x"], arrays["y"]
    has_test = "x_test" in arrays
    if has_test:
        if arrays["x_test"].shape[1:] != x.shape[1:]:
            raise DatasetError(f"{path}: x_test samples have shape {arrays['x_test'].shape[1:]} "
                               f"but x samples {x.shape[1:]}")
        n_train = len(x)
        x = np.concatenate([x, arrays["x_test"]])
        labels = np.concatenate([labels, arrays["y_test"]])
    if labels.ndim != 1:
        raise DatasetError(f"{path}: y must have shape (samples,) with one class label each, "
                           f"got shape {labels.shape}")
    y, names = _labels(path, labels, arrays.get("class_names"))
    if x.ndim == 2:
        x = x[..., None]
    modality = _modality(path, arrays.get("modality"), x)
    where = str(path)
    if len(x) != len(y):
        raise DatasetError(f"{path}: {len(x)} samples in x but {len(y)} labels in y")
    if has_test:
        split = with_test_split(y, n_train, seed, where, names)
    else:
        split = stratified_split(y, seed, where, class_names=names)
    x, y, split = apply_limit(x, y, split, limit, seed)
    return build_dataset(name=str(path), modality=modality, x=x, y=y, class_names=names,
                         source=f"npz file {path}", seed=seed, where=where, split=split,
                         norm_axis=1 if modality == "audio" else -1)


def _labels(path: Path, labels: np.ndarray,
            class_names: np.ndarray | None) -> tuple[np.ndarray, list[str]]:
    if class_names is None:
        return encode_labels(labels, str(path))
    names = [str(n) for n in np.atleast_1d(class_names)]
    if not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{path}: with class_names, y must hold integer class indices, got "
                           f"dtype {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(names)):
        raise DatasetError(f"{path}: y must lie in [0, {len(names) - 1}] to index class_names, "
                           f"got {int(labels.min())}..{int(labels.max())}")
    return labels.astype(np.int64), names


def _modality(path: Path, given: np.ndarray | None, x: np.ndarray) -> str:
    if given is not None:
        value = str(given)
        if value not in MODALITIES:
            raise DatasetError(f"{path}: modality must be one of {', '.join(MODALITIES)}, got "
                               f"{value!r}")
        return value
    rank = x.ndim - 1
    if rank not in _RANK_MODALITY:
        raise DatasetError(f"{path}: samples of shape {x.shape[1:]} are not supported; use "
                           "(T,) or (T, C) series or (H, W, C) images")
    return _RANK_MODALITY[rank]
