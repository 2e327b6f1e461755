"""User data in every format: npz, MNIST-format IDX folders, WAV folders, CSV sensor logs."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tinynas.datasets import load_dataset
from tinynas.folds import ungrouped_split

from .writers import tone, write_csv, write_wav


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big")
                                                          for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _sensor_folder(root: Path, files_per_class: int = 1, samples: int = 400) -> None:
    """Three activities with distinct 3-axis patterns, sampled at 50 Hz."""
    rng = np.random.default_rng(0)
    t = np.arange(samples)[:, None] / 50.0
    for c, label in enumerate(("idle", "shake", "wave")):
        for k in range(files_per_class):
            signal = np.sin(2 * np.pi * (c + 0.5) * t * np.array([1.0, 2.0, 3.0])) * c
            write_csv(root / label / f"{label}.{k}.csv",
                      signal + rng.normal(0, 0.1, size=(samples, 3)))


def test_npz_with_string_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = np.array(["cat", "dog", "eel"] * 20)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(60, 16)), y=labels)
    data = load_dataset(str(tmp_path / "d.npz"))
    assert data.class_names == ["cat", "dog", "eel"]
    assert data.modality == "timeseries" and data.input_shape == (16, 1)
    assert sum(data.split_sizes().values()) == 60


def test_npz_with_class_names_modality_and_test_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(40, 6, 6, 1)), y=np.arange(40) % 2,
             x_test=rng.normal(size=(10, 6, 6, 1)), y_test=np.arange(10) % 2,
             class_names=np.array(["off", "on"]), modality=np.array("image"))
    data = load_dataset(str(tmp_path / "d.npz"))
    assert data.class_names == ["off", "on"] and data.modality == "image"
    assert data.split_sizes()["test"] == 10
    assert data.preprocessing["split"]["method"] == "official test"


def test_idx_folder_reads_like_mnist(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 255, (60, 5, 5)))
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(60) % 3)
    data = load_dataset(str(tmp_path))
    assert data.input_shape == (5, 5, 1) and data.class_names == ["0", "1", "2"]
    assert data.preprocessing["split"]["method"] == "stratified"


def test_wav_folder_in_speech_commands_layout(tmp_path: Path) -> None:
    for c, (word, freq) in enumerate((("low", 300.0), ("high", 2000.0))):
        for k in range(6):
            speaker = f"spk{k}"
            write_wav(tmp_path / word / f"{speaker}_nohash_0.wav", tone(freq + 10 * k, 0.8))
        assert c in (0, 1)
    write_wav(tmp_path / "_background_noise_" / "hum.wav", tone(50.0, 3.0))
    data = load_dataset(str(tmp_path))
    assert data.class_names == ["high", "low"] and data.input_shape == (49, 10, 1)
    assert data.preprocessing["split"]["method"] == "grouped"
    assert data.background is not None and len(data.background) == 12
    # Grouped by speaker: a speaker's clips never sit in two splits.
    assert sum(data.split_sizes().values()) == 12
    # Each training clip names its speaker, for folds that hold out whole speakers.
    assert data.train_groups is not None and len(data.train_groups) == len(data.y_train)
    assert set(data.train_groups) <= {f"spk{k}" for k in range(6)}
    assert all(np.sum(data.train_groups == g) == 2 for g in set(data.train_groups))


def test_csv_folder_split_in_time(tmp_path: Path) -> None:
    _sensor_folder(tmp_path)
    data = load_dataset(str(tmp_path), window=40, stride=20)
    assert data.input_shape == (40, 3) and data.class_names == ["idle", "shake", "wave"]
    window = data.preprocessing["window"]
    assert window["length"] == 40 and window["stride"] == 20
    assert window["sample_rate_hz"] == pytest.approx(50.0, rel=1e-3)
    assert data.preprocessing["split"]["method"] == "by time"
    # Each recording's 13 training windows (280 samples) in stretches as long as its 2
    # validation windows (60 samples): folds hold out contiguous time, as validation does.
    assert data.train_groups is not None and len(data.train_groups) == len(data.y_train)
    names, counts = np.unique(data.train_groups, return_counts=True)
    assert sorted(counts.tolist()) == [1] * 3 + [2] * 18
    for label in range(3):
        runs = data.train_groups[data.y_train == label]
        assert (np.diff(runs) >= 0).all() and len(set(runs)) == 7
    assert ungrouped_split(data) is None


def test_csv_folder_split_by_recording_with_default_window(tmp_path: Path) -> None:
    _sensor_folder(tmp_path, files_per_class=3, samples=120)
    data = load_dataset(str(tmp_path))
    # One second at the detected 50 Hz, stride half a window: (120 - 50) // 25 + 1 per file.
    assert data.input_shape == (50, 3)
    assert sum(data.split_sizes().values()) == 9 * 3
    assert data.preprocessing["split"]["method"] == "by recording"
    # The recording of each training window: 9 files, 7 of them (70 %) train, 3 windows each.
    assert data.train_groups is not None and len(data.train_groups) == len(data.y_train)
    counts = np.unique(data.train_groups, return_counts=True)[1]
    assert counts.tolist() == [3] * (len(data.y_train) // 3)


def test_csv_flat_files_and_dataset_toml(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for label in ("a", "b"):
        write_csv(tmp_path / f"{label}.rec1.csv", rng.normal(size=(300, 2)), rate_hz=None)
    (tmp_path / "dataset.toml").write_text("[window]\nlength = 30\nstride = 30\n")
    data = load_dataset(str(tmp_path))
    assert data.input_shape == (30, 2) and data.class_names == ["a", "b"]
    assert data.preprocessing["window"]["sample_rate_hz"] is None
