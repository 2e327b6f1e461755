"""The :class:`Dataset` record and what every loader shares: validation, stratified splitting
and normalization fitted on the training split only."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinynas.errors import DatasetError

MODALITIES = ("image", "timeseries", "audio")

#: Default share of all samples held out for validation and for test.
VAL_FRACTION = 0.15
TEST_FRACTION = 0.15


@dataclass
class Dataset:
    """A labelled dataset split three ways, normalized and ready for training.

    The arrays are float32 (samples first) and already normalized with statistics fitted on the
    training split only; labels are int64 class indices into :attr:`class_names`. The test split
    never takes part in training or model selection.

    Attributes:
        name: Built-in name or the path it was read from.
        modality: ``"image"``, ``"timeseries"`` or ``"audio"``.
        x_train: Training samples.
        y_train: Training labels.
        x_val: Validation samples (early stopping, model selection).
        y_val: Validation labels.
        x_test: Held-out test samples.
        y_test: Held-out test labels.
        input_shape: Shape of one sample: images ``(H, W, C)``, time series ``(T, C)``, audio
            features ``(frames, coefficients, 1)``.
        class_names: One name per class index.
        preprocessing: JSON-ready description of what turns a raw sample into a model input:
            ``normalization`` (``axis`` of the sample shape, per-index ``mean`` and ``std``,
            applied as ``(x - mean) / std``), ``split`` (method, seed, sizes) and, per loader,
            ``features`` (audio front end) or ``window`` (sensor windows).
        source: Where the data came from.
        background: Audio only: normalized feature clips of background noise, for the
            ``noise`` augmentation; ``None`` elsewhere.
        train_groups: The speaker, recording or stretch of a recording of each training sample,
            where the splits keep them apart (cross-validated selection then holds out whole
            groups); ``None`` where samples stand alone or the loader does not know.
    """

    name: str
    modality: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple[int, ...]
    class_names: list[str]
    preprocessing: dict[str, Any]
    source: str
    background: np.ndarray | None = field(default=None, repr=False)
    train_groups: np.ndarray | None = field(default=None, repr=False)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def split_sizes(self) -> dict[str, int]:
        """Samples per split."""
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def summary(self) -> dict[str, Any]:
        """JSON-ready facts about the dataset (no sample data)."""
        counts = {split: np.bincount(y, minlength=self.num_classes).tolist()
                  for split, y in (("train", self.y_train), ("val", self.y_val),
                                   ("test", self.y_test))}
        return {"name": self.name, "modality": self.modality,
                "input_shape": list(self.input_shape), "class_names": list(self.class_names),
                "split_sizes": self.split_sizes(), "class_counts": counts, "source": self.source,
                "preprocessing": self.preprocessing}


@dataclass(frozen=True)
class Split:
    """Indices of each split into the arrays a loader produced, and how they were chosen."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    method: str


def check_samples(x: np.ndarray, y: np.ndarray, class_names: Sequence[str], where: str) -> None:
    """Refuse data a classifier cannot be trained on, naming the file and the problem.

    Args:
        x: Samples, samples first.
        y: Integer class indices.
        class_names: One name per class index.
        where: The file or folder the data came from (starts every message).

    Raises:
        DatasetError: Wrong shapes, NaN or infinite values, labels out of range, fewer than two
            classes, or a class without samples.
    """
    if x.ndim < 2 or x.shape[0] == 0:
        raise DatasetError(f"{where}: samples must have shape (samples, ...) with at least one "
                           f"sample and one value each, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DatasetError(f"{where}: samples must be real numbers, got dtype {x.dtype}")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DatasetError(f"{where}: labels must have shape ({x.shape[0]},) to match the "
                           f"samples, got shape {y.shape}")
    if np.issubdtype(x.dtype, np.floating):
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            kind = "NaN" if np.isnan(x[i]).any() else "infinite values"
            raise DatasetError(f"{where}: sample {i} contains {kind} "
                               f"({int(bad.sum())} bad samples in all); clean or drop them")
    if len(class_names) < 2:
        only = f" ({class_names[0]!r})" if class_names else ""
        raise DatasetError(f"{where}: only one class{only}; a classifier needs at least 2")
    if y.min() < 0 or y.max() >= len(class_names):
        raise DatasetError(f"{where}: labels must lie in [0, {len(class_names) - 1}], got "
                           f"{int(y.min())}..{int(y.max())}")
    counts = np.bincount(y, minlength=len(class_names))
    if (counts == 0).any():
        empty = class_names[int(np.argmin(counts))]
        raise DatasetError(f"{where}: class {empty!r} has no samples")


def encode_labels(labels: Sequence[Any] | np.ndarray,
                  where: str) -> tuple[np.ndarray, list[str]]:
    """Turn arbitrary labels (strings or integers) into indices and sorted class names."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise DatasetError(f"{where}: labels must be one-dimensional, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
            raise DatasetError(f"{where}: labels must be integers or strings, got non-integer "
                               "numbers")
        arr = arr.astype(np.int64)
    names, y = np.unique(arr, return_inverse=True)
    return y.astype(np.int64), [str(n) for n in names]


def stratified_split(y: np.ndarray, seed: int, where: str, val: float = VAL_FRACTION,
                     test: float = TEST_FRACTION,
                     class_names: Sequence[str] | None = None) -> Split:
    """Split indices per class so every split keeps the class balance.

    Args:
        y: Class index per sample.
        seed: Fixes the shuffle, so a split is reproducible.
        where: Names the data in errors.
        val: Share of each class for validation (0 allowed when ``test`` is 0 too).
        test: Share of each class for test (0: no test split, e.g. an official one exists).
        class_names: For error messages.

    Returns:
        Disjoint index arrays covering every sample.

    Raises:
        DatasetError: A class has too few samples to appear in every split.
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    needed = 1 + (val > 0) + (test > 0)
    for c in range(int(y.max()) + 1):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < needed:
            name = class_names[c] if class_names is not None else str(c)
            raise DatasetError(f"{where}: class {name!r} has {len(idx)} sample(s); at least "
                               f"{needed} are needed to put one in each split")
        n_test = max(1, round(len(idx) * test)) if test > 0 else 0
        n_val = max(1, round(len(idx) * val)) if val > 0 else 0
        while len(idx) - n_test - n_val < 1:
            if n_val >= n_test and n_val > 1:
                n_val -= 1
            else:
                n_test -= 1
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    out = {k: np.sort(np.concatenate(v)).astype(np.int64) for k, v in parts.items()}
    return Split(out["train"], out["val"], out["test"], "stratified")


def group_split(y: np.ndarray, groups: np.ndarray, seed: int, where: str,
                val: float = VAL_FRACTION, test: float = TEST_FRACTION) -> Split:
    """Split whole groups (a speaker, a recording) so no group lands in two splits.

    Groups are shuffled and each goes to the split furthest below its target share of samples.

    Raises:
        DatasetError: Some class ends up missing from a split (too few groups).
    """
    rng = np.random.default_rng(seed)
    names, inverse = np.unique(groups, return_inverse=True)
    sizes = np.bincount(inverse)
    targets = np.array([1.0 - val - test, val, test]) * len(y)
    filled = np.zeros(3)
    choice = np.zeros(len(names), dtype=np.int64)
    for g in rng.permutation(len(names)):
        k = int(np.argmax(targets - filled))
        choice[g] = k
        filled[k] += sizes[g]
    split_of = choice[inverse]
    out = [np.flatnonzero(split_of == k).astype(np.int64) for k in range(3)]
    split = Split(out[0], out[1], out[2], "grouped")
    require_all_classes(y, split, where, f"after splitting {len(names)} groups, ")
    return split


def require_all_classes(y: np.ndarray, split: Split, where: str, context: str = "",
                        class_names: Sequence[str] | None = None) -> None:
    """Refuse a split where some class is missing from train, validation or test."""
    for part, indices in (("train", split.train), ("validation", split.val),
                          ("test", split.test)):
        missing = set(range(int(y.max()) + 1)) - set(np.unique(y[indices]).tolist())
        if missing:
            c = min(missing)
            name = repr(class_names[c]) if class_names is not None else f"index {c}"
            raise DatasetError(f"{where}: {context}the {part} split has no sample of class "
                               f"{name}; add more recordings or speakers per class")


def stratified_subset(y: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """About ``limit`` indices, keeping each class's share and at least one of each class."""
    if limit >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    picked = []
    for c, n in enumerate(counts):
        take = min(n, max(1, round(n * limit / len(y))))
        picked.append(rng.choice(np.flatnonzero(y == c), size=take, replace=False))
    return np.sort(np.concatenate(picked))


def build_dataset(*, name: str, modality: str, x: np.ndarray, y: np.ndarray,
                  class_names: Sequence[str], source: str, seed: int, where: str,
                  split: Split | None = None, norm_axis: int = -1,
                  preprocessing: dict[str, Any] | None = None,
                  background: np.ndarray | None = None,
                  groups: np.ndarray | None = None) -> Dataset:
    """Validate, split (stratified unless ``split`` is given) and normalize a loaded dataset.

    Args:
        name: Dataset name.
        modality: One of :data:`MODALITIES`.
        x: All samples.
        y: All labels (class indices).
        class_names: One name per class.
        source: Where the data came from.
        seed: Fixes the split.
        where: The file or folder, for error messages.
        split: A split chosen by the loader (official test set, speaker lists); stratified
            otherwise.
        norm_axis: The sample axis normalized per index (channels, or audio coefficients).
        preprocessing: Loader-specific entries (features, window) merged into
            :attr:`Dataset.preprocessing`.
        background: Audio background-noise clips, normalized like the samples.
        groups: The speaker or recording of every sample (aligned with ``x``), kept for the
            training split as :attr:`Dataset.train_groups`.

    Returns:
        The dataset, float32 samples and int64 labels.

    Raises:
        DatasetError: The data fails :func:`check_samples` or cannot be split.
    """
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    y = np.asarray(y, dtype=np.int64)
    check_samples(x, y, list(class_names), where)
    if split is None:
        split = stratified_split(y, seed, where, class_names=class_names)
    x = x.astype(np.float32, copy=False)
    axis = norm_axis % (x.ndim - 1)
    reduce = tuple(a for a in range(x.ndim) if a != axis + 1)
    train = x[split.train]
    mean = train.mean(axis=reduce, dtype=np.float64)
    std = train.std(axis=reduce, dtype=np.float64)
    # A constant channel carries no information; dividing by ~0 would blow up the others' scale.
    std = np.where(std < 1e-6, 1.0, std)
    shape = [1] * x.ndim
    shape[axis + 1] = -1

    def norm(a: np.ndarray) -> np.ndarray:
        return np.asarray((a - mean.reshape(shape)) / std.reshape(shape), dtype=np.float32)

    info = dict(preprocessing or {})
    info["normalization"] = {"axis": axis, "mean": [float(v) for v in mean],
                             "std": [float(v) for v in std], "formula": "(x - mean) / std"}
    info["split"] = {"method": split.method, "seed": seed, "train": len(split.train),
                     "val": len(split.val), "test": len(split.test)}
    bg = None
    if background is not None and len(background):
        bg = norm(background.astype(np.float32))
    return Dataset(name=name, modality=modality,
                   x_train=norm(train), y_train=y[split.train],
                   x_val=norm(x[split.val]), y_val=y[split.val],
                   x_test=norm(x[split.test]), y_test=y[split.test],
                   input_shape=tuple(int(d) for d in x.shape[1:]),
                   class_names=[str(c) for c in class_names], preprocessing=info,
                   source=source, background=bg,
                   train_groups=None if groups is None else np.asarray(groups)[split.train])


def data_home() -> Path:
    """Where generated datasets and feature caches live: ``$TINYNAS_DATA`` or
    ``~/.cache/tinynas``."""
    return Path(os.environ.get("TINYNAS_DATA") or Path.home() / ".cache" / "tinynas")


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write a ``.npz`` so that readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **arrays)
        # mkstemp creates owner-only files; a cache is as readable as any other output.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def apply_limit(x: np.ndarray, y: np.ndarray, split: Split, limit: int | None,
                seed: int) -> tuple[np.ndarray, np.ndarray, Split]:
    """Keep at most ``limit`` samples, shrinking each split in proportion, stratified by class.

    Returns:
        The kept samples and labels, and the split re-indexed into them.
    """
    if limit is None or limit >= len(y):
        return x, y, split
    parts = (split.train, split.val, split.test)
    kept = [p[stratified_subset(y[p], max(1, round(limit * len(p) / len(y))), seed)]
            if len(p) else p for p in parts]
    order = np.concatenate(kept)
    bounds = np.cumsum([0] + [len(p) for p in kept])
    new = [np.arange(bounds[i], bounds[i + 1]) for i in range(3)]
    return x[order], y[order], Split(new[0], new[1], new[2], split.method)


def with_test_split(y: np.ndarray, n_train: int, seed: int, where: str,
                    class_names: Sequence[str]) -> Split:
    """The first ``n_train`` samples split into train and validation (stratified), the rest
    kept as the official test split."""
    within = stratified_split(y[:n_train], seed, where, test=0.0, class_names=class_names)
    return Split(within.train, within.val, np.arange(n_train, len(y)), "official test")
