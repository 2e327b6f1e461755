"""Augmentation per modality."""

from __future__ import annotations

import numpy as np
import pytest

from tinynas.augment import augment, augment_dataset, augmentations, parse_options
from tinynas.datasets import load_dataset
from tinynas.errors import DatasetError


def test_names_per_modality() -> None:
    assert augmentations("image") == ["shift", "rotate", "noise", "flip"]
    assert augmentations("timeseries") == ["noise", "shift", "scale"]
    assert augmentations("audio") == ["shift", "noise", "speed", "mask"]
    assert parse_options(["none", "shift"], "image") == {"shift": 0.1}
    assert parse_options({"noise": 0.2}, "timeseries") == {"noise": 0.2}


def test_a_name_that_does_not_fit_the_modality() -> None:
    with pytest.raises(DatasetError, match="augmentation 'rotate' does not apply to timeseries "
                                           "data; allowed: noise, shift, scale, none"):
        augment(np.zeros((2, 10, 3)), np.zeros(2), "timeseries", ["rotate"],
                np.random.default_rng(0))


def test_image_rotation_keeps_the_centre_and_shift_moves_content() -> None:
    x = np.zeros((4, 9, 9, 1), dtype=np.float32)
    x[:, 4, 4] = 1.0
    x[:, 4, 6] = 2.0
    rotated, _ = augment(x, np.zeros(4), "image", {"rotate": 30.0}, np.random.default_rng(0))
    assert np.allclose(rotated[:, 4, 4, 0], 1.0, atol=1e-5)
    assert not np.allclose(rotated, x)
    shifted, _ = augment(x, np.zeros(4), "image", {"shift": 0.3}, np.random.default_rng(1))
    moved = [tuple(np.unravel_index(np.argmax(s[..., 0]), (9, 9))) != (4, 6) for s in shifted]
    assert any(moved)


def test_flip_mirrors_left_to_right_with_its_chance() -> None:
    x = np.tile(np.arange(5, dtype=np.float32).reshape(1, 1, 5, 1), (400, 3, 1, 1))
    out, _ = augment(x, np.zeros(400), "image", {"flip": 0.5}, np.random.default_rng(2))
    mirrored = np.all(out == x[:, :, ::-1], axis=(1, 2, 3))
    untouched = np.all(out == x, axis=(1, 2, 3))
    assert np.all(mirrored ^ untouched) and 150 < mirrored.sum() < 250
    halved, _ = augment(x, np.zeros(400), "image", ["flip"], np.random.default_rng(2))
    assert parse_options(["flip"], "image") == {"flip": 0.5}
    never, _ = augment(x, np.zeros(400), "image", {"flip": 0.0}, np.random.default_rng(2))
    assert np.array_equal(never, x) and not np.array_equal(halved, x)
    with pytest.raises(DatasetError, match="'flip': strength is a chance, from 0 to 1, got 1.5"):
        parse_options({"flip": 1.5}, "image")


def test_same_seed_same_result_and_input_untouched() -> None:
    data = load_dataset("basic_motions")
    before = data.x_train.copy()
    a, y = augment(data.x_train, data.y_train, "timeseries", ["noise", "shift", "scale"],
                   np.random.default_rng(7))
    b, _ = augment(data.x_train, data.y_train, "timeseries", ["noise", "shift", "scale"],
                   np.random.default_rng(7))
    assert np.array_equal(a, b) and np.array_equal(data.x_train, before)
    assert a.shape == before.shape and a.dtype == np.float32 and y is data.y_train
    assert not np.allclose(a, before)


def test_time_shift_repeats_edges() -> None:
    x = np.arange(20, dtype=np.float32).reshape(1, 20, 1)
    out, _ = augment(x, np.zeros(1), "timeseries", {"shift": 0.2}, np.random.default_rng(3))
    values = out[0, :, 0]
    assert set(values.tolist()) <= set(range(20))
    assert np.all(np.diff(values) >= 0)


def test_audio_noise_mixes_background_clips() -> None:
    data = load_dataset("kws_synth")
    rng = np.random.default_rng(0)
    noisy, _ = augment_dataset(data, {"noise": 1.0}, rng)
    assert noisy.shape == data.x_train.shape and np.isfinite(noisy).all()
    changed = np.abs(noisy - data.x_train).reshape(len(noisy), -1).max(axis=1) > 1e-3
    # Most clips get noise; the rest stay clean.
    assert 0.5 < changed.mean() < 1.0
    for name in ("shift", "speed", "mask"):
        out, _ = augment_dataset(data, [name], rng)
        assert out.shape == data.x_train.shape and not np.allclose(out, data.x_train)
