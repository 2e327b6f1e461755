"""Splits are stratified, disjoint and reproducible; normalization sees the training split only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinynas.datasets import load_dataset
from tinynas.datasets._base import apply_limit, build_dataset, group_split, stratified_split
from tinynas.errors import DatasetError


def _labels(counts: list[int]) -> np.ndarray:
    return np.concatenate([np.full(n, c) for c, n in enumerate(counts)])


def test_stratified_split_is_disjoint_complete_and_balanced() -> None:
    y = _labels([100, 40, 20])
    split = stratified_split(y, seed=5, where="t")
    parts = [split.train, split.val, split.test]
    joined = np.concatenate(parts)
    assert len(joined) == len(y) == len(np.unique(joined))
    for part in parts[1:]:
        share = np.bincount(y[part]) / len(part)
        assert np.allclose(share, [100 / 160, 40 / 160, 20 / 160], atol=0.03)


def test_split_depends_on_the_seed_only() -> None:
    y = _labels([30, 30])
    a, b = stratified_split(y, 1, "t"), stratified_split(y, 1, "t")
    c = stratified_split(y, 2, "t")
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)


def test_a_class_too_small_to_split_is_named() -> None:
    with pytest.raises(DatasetError, match="class 'rare' has 2 sample"):
        stratified_split(_labels([10, 2]), 0, "t", class_names=["common", "rare"])


def test_group_split_keeps_each_group_in_one_split() -> None:
    groups = np.repeat(np.arange(40), 6)
    y = np.tile(np.arange(3), 80)
    split = group_split(y, groups, seed=0, where="t")
    owners = [set(groups[p]) for p in (split.train, split.val, split.test)]
    assert not owners[0] & owners[1] and not owners[0] & owners[2] and not owners[1] & owners[2]
    assert sum(map(len, owners)) == 40


def test_normalization_is_fitted_on_the_training_split_only() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5, 2)).astype(np.float32) * [1.0, 10.0] + [0.0, 50.0]
    y = np.arange(300) % 3
    split = stratified_split(y, 0, "t")
    # Make test samples extreme: if they leaked into the statistics the mean would move.
    x[split.test] += 1000.0
    data = build_dataset(name="t", modality="timeseries", x=x, y=y, class_names=["a", "b", "c"],
                         source="t", seed=0, where="t", split=split)
    norm = data.preprocessing["normalization"]
    train = x[split.train]
    assert norm["axis"] == 1
    assert np.allclose(norm["mean"], train.mean(axis=(0, 1)), rtol=1e-4)
    assert np.allclose(norm["std"], train.std(axis=(0, 1)), rtol=1e-4)
    assert np.allclose(data.x_train.mean(axis=(0, 1)), 0.0, atol=1e-4)
    assert data.x_test.mean() > 50


def test_limit_shrinks_every_split_and_keeps_every_class() -> None:
    y = _labels([500, 300, 200])
    split = stratified_split(y, 0, "t")
    x = np.arange(len(y))
    kept_x, kept_y, kept = apply_limit(x, y, split, 100, seed=0)
    assert 95 <= len(kept_y) <= 105
    for part in (kept.train, kept.val, kept.test):
        assert set(kept_y[part]) == {0, 1, 2}
    # The limited split is a subset of the original one, split by split.
    assert set(kept_x[kept.test]) <= set(split.test)


def test_name_suffix_limits_samples() -> None:
    small = load_dataset("digits:150", seed=0)
    assert 140 <= sum(small.split_sizes().values()) <= 155


def test_dataset_toml_rejects_unknown_keys(tmp_path: Path) -> None:
    from .test_formats import _sensor_folder

    _sensor_folder(tmp_path)
    (tmp_path / "dataset.toml").write_text("[window]\nlength = 20\nstrides = 5\n")
    with pytest.raises(DatasetError, match="unknown key 'strides'"):
        load_dataset(str(tmp_path))
