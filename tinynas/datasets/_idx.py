"""MNIST-format IDX files: Fashion-MNIST from the Debian package, or any MNIST-like folder."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from tinynas.datasets._base import (
    Dataset,
    apply_limit,
    build_dataset,
    stratified_split,
    with_test_split,
)
from tinynas.errors import DatasetError, MissingDependencyError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle boot"]
FASHION_SOURCE = "Fashion-MNIST (Zalando Research), Debian package dataset-fashion-mnist"

#: IDX type codes -> NumPy dtypes (big-endian as stored).
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_STEMS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed).

    Raises:
        DatasetError: The file is missing, truncated or not IDX.
    """
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES or raw[3] == 0:
        raise DatasetError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(f"{path}: IDX header promises shape {shape} ({expected} bytes) but "
                           f"the file has {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def is_idx_folder(folder: Path) -> bool:
    """Whether ``folder`` holds MNIST-format training images."""
    return _find(folder, _STEMS["train"][0]) is not None


def _read_pair(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_stem, labels_stem = _STEMS[split]
    images_path, labels_path = _find(folder, images_stem), _find(folder, labels_stem)
    if images_path is None or labels_path is None:
        missing = images_stem if images_path is None else labels_stem
        raise DatasetError(f"{folder}: {missing}[.gz] not found; an MNIST-format folder needs "
                           "train-images-idx3-ubyte and train-labels-idx1-ubyte (t10k-* optional)")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim not in (3, 4):
        raise DatasetError(f"{images_path}: images must be (N, H, W) or (N, H, W, C), got "
                           f"shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DatasetError(f"{labels_path}: expected {len(images)} labels to match "
                           f"{images_path.name}, got shape {labels.shape}")
    if images.ndim == 3:
        images = images[..., None]
    return images, labels.astype(np.int64)


def load_idx_folder(folder: Path, seed: int = 0, limit: int | None = None, *,
                    name: str | None = None, class_names: list[str] | None = None,
                    source: str | None = None) -> Dataset:
    """Load an MNIST-format folder; its ``t10k-*`` files, when present, are the test split.

    Args:
        folder: Holds ``train-images-idx3-ubyte[.gz]`` and ``train-labels-idx1-ubyte[.gz]``.
        seed: Fixes the validation split (and a stratified test split without t10k files).
        limit: About this many samples in all (see :func:`load_dataset`).
        name: Dataset name (defaults to the folder).
        class_names: Names of the label values 0..K-1 (default: the numbers).
        source: Provenance text.
    """
    x_tr, y_tr = _read_pair(folder, "train")
    has_test = _find(folder, _STEMS["test"][0]) is not None
    if has_test:
        x_te, y_te = _read_pair(folder, "test")
        if x_te.shape[1:] != x_tr.shape[1:]:
            raise DatasetError(f"{folder}: test images have shape {x_te.shape[1:]} but training "
                               f"images {x_tr.shape[1:]}")
    else:
        x_te, y_te = x_tr[:0], y_tr[:0]
    num = int(max(y_tr.max(), y_te.max() if len(y_te) else 0)) + 1
    names = class_names or [str(i) for i in range(num)]
    if num > len(names):
        raise DatasetError(f"{folder}: label {num - 1} found but only {len(names)} classes known")
    x = np.concatenate([x_tr, x_te])
    y = np.concatenate([y_tr, y_te])
    if has_test:
        split = with_test_split(y, len(y_tr), seed, str(folder), names)
    else:
        split = stratified_split(y, seed, str(folder), class_names=names)
    x, y, split = apply_limit(x, y, split, limit, seed)
    return build_dataset(name=name or str(folder), modality="image", x=x, y=y,
                         class_names=names, source=source or f"IDX files in {folder}",
                         seed=seed, where=str(folder), split=split)


def fashion_mnist_missing() -> str | None:
    """Why Fashion-MNIST cannot load here, with the fix; ``None`` when it can."""
    if is_idx_folder(FASHION_DIR):
        return None
    return (f"Fashion-MNIST not found in {FASHION_DIR}; install it with "
            "'sudo apt-get install dataset-fashion-mnist'")


def load_fashion_mnist(seed: int = 0, limit: int | None = None) -> Dataset:
    """Fashion-MNIST: 60,000 training and 10,000 test images 28x28, pixels 0..255.

    Raises:
        MissingDependencyError: The Debian package is not installed.
    """
    missing = fashion_mnist_missing()
    if missing:
        raise MissingDependencyError(missing)
    return load_idx_folder(FASHION_DIR, seed, limit, name="fashion_mnist",
                           class_names=FASHION_CLASSES, source=FASHION_SOURCE)
