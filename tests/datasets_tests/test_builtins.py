"""Every built-in dataset loads offline, with the documented shapes, classes and splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinynas.datasets import Dataset, builtins, dataset_names, load_dataset
from tinynas.datasets._kws_synth import KEYWORDS, MANIFEST
from tinynas.errors import DatasetError, UnknownNameError

from .conftest import TINY_PER_WORD


def _check_dataset(data: Dataset) -> None:
    """Properties every loader promises."""
    for x, y in ((data.x_train, data.y_train), (data.x_val, data.y_val),
                 (data.x_test, data.y_test)):
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.shape[1:] == data.input_shape and len(x) == len(y) > 0
        assert np.isfinite(x).all()
        assert set(np.unique(y)) == set(range(data.num_classes))
    json.dumps(data.preprocessing)
    assert data.source


def test_names_match_the_table() -> None:
    assert dataset_names() == sorted(b.name for b in builtins())
    assert set(dataset_names()) == {"digits", "fashion_mnist", "basic_motions", "kws_synth"}


def test_digits() -> None:
    data = load_dataset("digits", seed=0)
    _check_dataset(data)
    assert data.modality == "image" and data.input_shape == (8, 8, 1)
    assert sum(data.split_sizes().values()) == 1797
    assert data.class_names == [str(i) for i in range(10)]


def test_fashion_mnist_from_the_debian_package() -> None:
    data = load_dataset("fashion_mnist:1000", seed=0)
    _check_dataset(data)
    assert data.input_shape == (28, 28, 1) and data.class_names[9] == "ankle boot"
    assert data.preprocessing["split"]["method"] == "official test"
    assert 950 <= sum(data.split_sizes().values()) <= 1050


def test_basic_motions_from_aeon() -> None:
    data = load_dataset("basic_motions", seed=1)
    _check_dataset(data)
    assert data.modality == "timeseries" and data.input_shape == (100, 6)
    assert data.class_names == ["badminton", "running", "standing", "walking"]
    assert data.split_sizes() == {"train": 32, "val": 8, "test": 40}


def test_kws_synth(data_home: Path) -> None:
    data = load_dataset("kws_synth", seed=0)
    _check_dataset(data)
    assert data.modality == "audio" and data.input_shape == (49, 10, 1)
    assert set(data.class_names) == set(KEYWORDS) | {"silence", "unknown"}
    assert sum(data.split_sizes().values()) == 12 * TINY_PER_WORD
    assert data.preprocessing["features"]["shape"] == [49, 10, 1]
    assert data.background is not None and data.background.shape[1:] == (49, 10, 1)


def test_kws_synth_test_voices_are_never_trained_on(data_home: Path) -> None:
    root = data_home / "kws_synth"
    manifest = json.loads((root / MANIFEST).read_text())
    voices = {split: set(v) for split, v in manifest["speakers"].items()}
    assert not voices["train"] & voices["test"] and not voices["train"] & voices["val"]
    test_files = (root / "testing_list.txt").read_text().split()
    train_speakers = {p.name.split("_nohash_")[0]
                      for p in root.glob("*/*.wav") if p.relative_to(root).as_posix()
                      not in test_files and "_background_noise_" not in p.parts
                      and "_silence_" not in p.parts}
    test_speakers = {Path(f).name.split("_nohash_")[0] for f in test_files
                     if not f.startswith("_silence_")}
    assert test_speakers and not test_speakers & train_speakers


def test_unknown_name_lists_the_built_ins() -> None:
    with pytest.raises(UnknownNameError, match="unknown dataset 'mnist'; available: "
                                               "basic_motions, digits, fashion_mnist, kws_synth"):
        load_dataset("mnist")


def test_missing_path_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_dataset(str(tmp_path / "absent"))
