"""Built-in dataset names and the dispatch from a name or path to its loader."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinynas.datasets._base import Dataset
from tinynas.errors import DatasetError, unknown_name


@dataclass(frozen=True)
class Builtin:
    """A dataset that ships with the tool or with a system package.

    Attributes:
        name: The ``--dataset`` name.
        modality: ``"image"``, ``"timeseries"`` or ``"audio"``.
        shape: Sample shape as shown by ``tinynas data list``.
        classes: Number of classes.
        description: One line.
        loader: ``loader(seed, limit) -> Dataset``.
        missing: Returns why the data cannot be loaded here (with the fix), or ``None``.
    """

    name: str
    modality: str
    shape: tuple[int, ...]
    classes: int
    description: str
    loader: Callable[[int, int | None], Dataset]
    missing: Callable[[], str | None]


def _builtins() -> dict[str, Builtin]:
    from tinynas.datasets import _digits, _idx, _kws_synth, _uea

    entries = [
        Builtin("digits", "image", (8, 8, 1), 10, "handwritten digits 8x8 (scikit-learn)",
                _digits.load_digits, lambda: None),
        Builtin("fashion_mnist", "image", (28, 28, 1), 10,
                "Fashion-MNIST clothing images 28x28 (Debian dataset-fashion-mnist)",
                _idx.load_fashion_mnist, _idx.fashion_mnist_missing),
        Builtin("basic_motions", "timeseries", (100, 6), 4,
                "UEA BasicMotions accelerometer+gyroscope, 4 activities (aeon)",
                _uea.load_basic_motions, _uea.basic_motions_missing),
        Builtin("kws_synth", "audio", (49, 10, 1), 12,
                "synthetic keyword spotting, 10 words + silence + unknown (espeak-ng, sox)",
                _kws_synth.load_kws_synth, _kws_synth.kws_synth_missing),
    ]
    return {b.name: b for b in entries}


def builtins() -> list[Builtin]:
    """The built-in datasets, in display order."""
    return list(_builtins().values())


def dataset_names() -> list[str]:
    """Names accepted by :func:`load_dataset` besides paths."""
    return sorted(_builtins())


_LIMIT = re.compile(r"^(?P<base>.+):(?P<limit>\d+)$")


def parse_name(name_or_path: str) -> tuple[str, int | None]:
    """Split an optional ``:N`` sample limit off a dataset name or path."""
    match = _LIMIT.match(name_or_path)
    if not match:
        return name_or_path, None
    limit = int(match["limit"])
    if limit < 1:
        raise DatasetError(f"dataset {name_or_path!r}: the sample limit after ':' must be >= 1")
    return match["base"], limit


def load_dataset(name_or_path: str, seed: int = 0, *, limit: int | None = None,
                 window: int | None = None, stride: int | None = None) -> Dataset:
    """Load a built-in dataset by name, or user data from a path.

    Paths may be a ``.npz`` file (``x``, ``y``, optional ``class_names``, ``modality``,
    ``x_test``/``y_test``), a folder of WAV files per class (Speech Commands layout), a folder of
    CSV sensor logs per class (cut into windows), or a folder of MNIST-format IDX files.
    A ``:N`` suffix (``fashion_mnist:2000``) keeps about N samples: each split shrinks in
    proportion, stratified by class, keeping at least one sample of each class in each split.

    Args:
        name_or_path: A name from :func:`dataset_names` or a path.
        seed: Fixes the train/validation/test split and any subsampling.
        limit: About this many samples in all (overrides a ``:N`` suffix).
        window: CSV folders: samples per window (default from the folder's ``dataset.toml``,
            else one second at the detected rate, else 100).
        stride: CSV folders: samples between window starts (default half a window).

    Returns:
        The normalized, split dataset.

    Raises:
        UnknownNameError: Not a built-in name and not a path.
        DatasetError: The data is missing, malformed or unfit for training.
        MissingDependencyError: A system package the dataset needs is not installed.
    """
    base, suffix_limit = parse_name(name_or_path)
    limit = limit if limit is not None else suffix_limit
    if limit is not None and limit < 1:
        raise DatasetError(f"dataset {name_or_path!r}: limit must be >= 1, got {limit}")
    table = _builtins()
    if base in table:
        return table[base].loader(seed, limit)
    if "/" not in base and not base.endswith(".npz") and not Path(base).exists():
        raise unknown_name("dataset", base, list(table))
    return _load_path(Path(base), seed, limit, window, stride)


def _load_path(path: Path, seed: int, limit: int | None, window: int | None,
               stride: int | None) -> Dataset:
    from tinynas.datasets import _csv, _idx, _npz, _wav

    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix == ".npz":
            return _npz.load_npz(path, seed, limit)
        raise DatasetError(f"{path}: not a dataset; expected a .npz file or a folder of WAV, "
                           "CSV or IDX files")
    if _idx.is_idx_folder(path):
        return _idx.load_idx_folder(path, seed, limit)
    kinds = {p.suffix.lower() for p in path.rglob("*") if p.is_file()}
    if ".wav" in kinds:
        return _wav.load_wav_folder(path, seed, limit)
    if ".csv" in kinds:
        return _csv.load_csv_folder(path, seed, limit, window, stride)
    raise DatasetError(f"{path}: no WAV, CSV or IDX files found; expected one folder per class "
                       "of .wav or .csv files, or MNIST-format IDX files")
