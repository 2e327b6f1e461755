"""Cross-validated selection: the folds, their pooling, and a search that selects on them."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import optuna
import pytest

from tinynas import study as studies
from tinynas.cli import main
from tinynas.datasets._base import Dataset
from tinynas.errors import StudyError
from tinynas.folds import (
    CHUNKS_KEY,
    FOLDS_KEY,
    MAX_AUTO_FOLDS,
    MIN_SELECTION_SAMPLES,
    SIZED_CHUNKS,
    auto_folds,
    check_folds,
    fold_dataset,
    fold_summary,
    held_out,
    held_out_total,
    parse_folds,
    pooled,
    resolve_folds,
    selection_note,
    sized_chunks,
    ungrouped_split,
)


def _dataset(train: int, val: int, classes: int = 3) -> Dataset:
    """Samples whose single feature is their own id, so a split can be traced back."""
    ids = np.arange(train + val + 4, dtype=np.float32)
    labels = (np.arange(len(ids)) % classes).astype(np.int64)
    return Dataset(name="ids", modality="timeseries",
                   x_train=ids[:train, None], y_train=labels[:train],
                   x_val=ids[train:train + val, None], y_val=labels[train:train + val],
                   x_test=ids[train + val:, None], y_test=labels[train + val:],
                   input_shape=(1,), class_names=[str(c) for c in range(classes)],
                   preprocessing={}, source="test")


def test_auto_folds_cross_validates_only_small_validation_splits() -> None:
    assert auto_folds(train=5000, val=MIN_SELECTION_SAMPLES) == 1
    assert auto_folds(train=32, val=8) == 5      # basic_motions: 4 chunks of 8, plus validation
    assert auto_folds(train=20, val=8) == 3      # two chunks of the validation split's size
    assert auto_folds(train=1000, val=12) == MAX_AUTO_FOLDS
    assert auto_folds(train=3, val=8) == 1       # no chunk the size of the validation split
    assert auto_folds(train=10, val=0) == 1


def test_a_new_study_uses_the_validation_split_alone_unless_asked() -> None:
    assert resolve_folds(None, train=32, val=8) == 1
    assert resolve_folds("auto", train=32, val=8) == 5
    assert resolve_folds("auto", train=5000, val=500) == 1
    assert resolve_folds(3, train=5000, val=500) == 3


def test_parse_and_check_folds_refuse_in_one_line() -> None:
    assert parse_folds("auto") == parse_folds(" AUTO ") == "auto" and parse_folds("4") == 4
    for bad in ("0", "-2", "five", "2.5"):
        with pytest.raises(StudyError, match="--folds must be 'auto' or a whole number"):
            parse_folds(bad)
    check_folds(5, np.zeros(4), "dataset d")
    with pytest.raises(StudyError, match="--folds 6: dataset d has 4 training samples, so at "
                                         "most 5 folds"):
        check_folds(6, np.zeros(4), "dataset d")


def test_held_out_chunks_partition_the_training_split_by_class() -> None:
    y = np.array([0] * 10 + [1] * 7 + [2] * 5)
    chunks = held_out(y, folds=4, seed=3)
    assert len(chunks) == 3
    joined = np.concatenate(chunks)
    assert sorted(joined.tolist()) == list(range(len(y)))          # each sample once
    sizes = [len(c) for c in chunks]
    assert max(sizes) - min(sizes) <= 1
    for label, count in ((0, 10), (1, 7), (2, 5)):
        per_chunk = [int(np.sum(y[c] == label)) for c in chunks]
        assert max(per_chunk) - min(per_chunk) <= 1 and sum(per_chunk) == count
    # The same seed gives the same folds (every candidate of a study meets the same chunks),
    # another seed other folds.
    assert all(np.array_equal(a, b) for a, b in zip(chunks, held_out(y, 4, 3), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(chunks, held_out(y, 4, 4), strict=True))
    assert held_out(y, folds=1, seed=0) == []


def test_held_out_chunks_are_validation_sized_where_the_training_split_allows() -> None:
    rng = np.random.default_rng(0)
    y = rng.permutation(np.array([0] * 600 + [1] * 300 + [2] * 100))
    chunks = held_out(y, folds=3, seed=1, size=100)
    assert [len(c) for c in chunks] == [100, 100]
    assert held_out_total(len(y), 100, 3) == 200
    joined = np.concatenate(chunks)
    assert len(set(joined.tolist())) == 200                         # disjoint
    for label, share in ((0, 0.6), (1, 0.3), (2, 0.1)):           # each class keeps its share
        assert [int(np.sum(y[c] == label)) for c in chunks] == [round(100 * share)] * 2
    # A fold then trains on as many samples as the trial's own model: 1000 - 100 + 100.
    # Too many folds for chunks of that size: they share out the whole training split.
    many = held_out(y, folds=12, seed=1, size=100)
    assert sum(len(c) for c in many) == len(y) and held_out_total(len(y), 100, 12) == len(y)
    # Without a size, or when the size fills the training split, the chunks are the partition.
    assert all(np.array_equal(a, b) for a, b in zip(held_out(y, 3, 1), held_out(y, 3, 1, 500),
                                                      strict=True))


def test_held_out_chunks_keep_whole_speakers_where_the_dataset_names_them() -> None:
    rng = np.random.default_rng(2)
    groups = np.repeat([f"spk{k}" for k in range(40)], rng.integers(5, 15, size=40))
    y = rng.integers(0, 3, size=len(groups))
    chunks = held_out(y, folds=3, seed=5, size=60, groups=groups)
    assert len(chunks) == 2
    held = [set(groups[c]) for c in chunks]
    assert not held[0] & held[1]                                   # disjoint speakers
    for c, speakers in zip(chunks, held, strict=True):             # each speaker whole
        assert all(np.sum(groups[c] == g) == np.sum(groups == g) for g in speakers)
        assert 60 <= len(c) < 60 + 15 + 15                        # about the validation size
    assert all(np.array_equal(a, b) for a, b in
               zip(chunks, held_out(y, 3, 5, size=60, groups=groups), strict=True))
    # Without a size the speakers share out the whole training split.
    assert sum(len(c) for c in held_out(y, 3, 5, groups=groups)) == len(y)
    check_folds(41, y, "dataset d", groups)
    with pytest.raises(StudyError, match="--folds 42: dataset d has 40 training speakers or "
                                         "recordings, so at most 41 folds"):
        check_folds(42, y, "dataset d", groups)


def test_a_study_from_before_sized_chunks_keeps_its_chunks_when_resumed() -> None:
    assert sized_chunks(None)                                      # a new study
    assert sized_chunks({FOLDS_KEY: 3, CHUNKS_KEY: SIZED_CHUNKS})
    assert not sized_chunks({FOLDS_KEY: 3})                        # created before


def test_a_fold_trains_on_everything_but_its_held_out_chunk() -> None:
    data = _dataset(train=12, val=4)
    held = held_out(data.y_train, folds=3, seed=0)[1]
    fold = fold_dataset(data, held)
    val_ids = set(fold.x_val[:, 0].tolist())
    train_ids = set(fold.x_train[:, 0].tolist())
    assert val_ids == set(data.x_train[held, 0].tolist())
    assert not val_ids & train_ids
    assert train_ids | val_ids == set(data.x_train[:, 0].tolist()) | set(data.x_val[:, 0].tolist())
    assert np.array_equal(fold.x_test, data.x_test) and np.array_equal(fold.y_test, data.y_test)
    assert replace(data, train_groups=np.arange(12)).train_groups is not None
    assert fold_dataset(replace(data, train_groups=np.arange(12)), held).train_groups is None
    # Labels travel with their samples.
    lookup = {int(i): int(c) for i, c in zip(np.concatenate([data.x_train, data.x_val])[:, 0],
                                             np.concatenate([data.y_train, data.y_val]),
                                             strict=True)}
    assert all(lookup[int(i)] == int(c) for i, c in zip(fold.x_train[:, 0], fold.y_train,
                                                          strict=True))


def test_pooled_accuracy_weights_each_fold_by_its_size() -> None:
    assert pooled([1.0, 0.5], [8, 32]) == pytest.approx((8 + 16) / 40)
    assert math.isnan(pooled([], []))


def test_fold_summary_only_for_cross_validated_trials() -> None:
    assert fold_summary({"fold_sizes": [8, 8, 8, 8, 8]}) == "5-fold cross-validated over 40 samples"
    assert fold_summary({"fold_sizes": [8]}) is None
    assert fold_summary({"accuracy_int8_val": 0.9}) is None


def test_selection_note_names_the_samples_and_the_noise() -> None:
    assert selection_note(MIN_SELECTION_SAMPLES, 1000, 1, "d") is None
    note = selection_note(25, 100, 1, "dataset x.csv")
    assert note is not None and note.startswith("dataset x.csv: the validation split has 25 ")
    assert "about 6 points by chance alone" in note and "--folds" in note
    note = selection_note(8, 32, 5, "dataset basic_motions")
    assert note is not None
    assert "5-fold cross-validated accuracy over 40 samples" in note
    assert "each candidate 5 times" in note and "about 5 points" in note
    # Two validation-sized chunks of the training split beside the validation split.
    note = selection_note(400, 2000, 3, "d")
    assert note is not None and "over 1200 samples" in note and "by chance" not in note
    assert "optimistic" not in note
    # A validation split that keeps voices apart, folds that do not: said.
    note = selection_note(180, 840, 3, "dataset kws_synth", "lists")
    assert note is not None and "split 'lists'" in note and "read optimistic" in note
    # Which datasets that is: a split that keeps groups apart, with no group per sample.
    data = _dataset(train=12, val=4)
    lists = {"split": {"method": "lists"}}
    assert ungrouped_split(replace(data, preprocessing=lists)) == "lists"
    assert ungrouped_split(replace(data, preprocessing=lists,
                                   train_groups=np.arange(12) // 3)) is None
    assert ungrouped_split(replace(data, preprocessing={"split": {"method": "stratified"}})) is None
    assert selection_note(180, 840, 1, "d", "lists") is None
    front = selection_note(400, 2000, 3, "d", front_only=True)
    assert front is not None and "each candidate that reaches the front on the validation " \
        "split 3 times" in front


@pytest.mark.slow
def test_a_search_selects_on_cross_validated_accuracy(tmp_path, capsys) -> None:
    storage = f"sqlite:///{tmp_path}/f.db"
    assert main(["search", "--board", "arduino_nano33_ble", "--space", "ds_cnn", "--dataset",
                 "digits", "--trials", "1", "--storage", storage, "--study", "f", "--folds",
                 "3", "--sampler", "random", "--seed", "4", "--epochs", "1"]) == 0
    study = studies.open_study(storage, "f")
    assert study.user_attrs["selection_folds"] == 3
    assert study.user_attrs["selection_fold_chunks"] == "validation-sized"
    train, val, _ = study.user_attrs["split_sizes"]
    (trial,) = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    attrs = trial.user_attrs
    assert attrs["trained"]
    folds, sizes = attrs["fold_accuracy_int8_val"], attrs["fold_sizes"]
    assert len(folds) == 3 and len(attrs["fold_accuracy_float_val"]) == 3
    # Each extra fold holds out a validation-sized chunk of the training split.
    assert sizes == [val, val, val] and 2 * val < train
    # The first fold is the kept model on the validation split; the selection pools them all.
    assert folds[0] == pytest.approx(attrs["stages"][-1]["val_accuracy"], abs=1e-4)
    assert attrs["accuracy_int8_val"] == pytest.approx(pooled(folds, sizes), abs=1e-3)
    assert trial.values[0] == attrs["accuracy_int8_val"]
    assert all(0.0 <= a <= 1.0 for a in folds)
    assert fold_summary(attrs) == f"3-fold cross-validated over {3 * val} samples"
    # The test accuracy is the kept model's, untouched by the extra folds.
    assert attrs["accuracy_int8"] == attrs["stages"][-1]["accuracy"]
    # A study keeps the folds it was created with.
    capsys.readouterr()
    assert main(["search", "--board", "arduino_nano33_ble", "--space", "ds_cnn", "--dataset",
                 "digits", "--trials", "2", "--storage", storage, "--study", "f",
                 "--folds", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was created with --folds 3, not 2" in err[0]
    assert len(studies.open_study(storage, "f").trials) == 1


@pytest.mark.slow
def test_only_candidates_that_reach_the_front_are_cross_validated(tmp_path, caplog) -> None:
    storage = f"sqlite:///{tmp_path}/f.db"
    assert main(["search", "--board", "arduino_nano33_ble", "--space", "ds_cnn", "--dataset",
                 "digits", "--trials", "4", "--storage", storage, "--study", "f", "--folds",
                 "2", "--fold-trials", "front", "--sampler", "random", "--seed", "1",
                 "--epochs", "1"]) == 0
    assert "each candidate that reaches the front on the validation split 2 times" in caplog.text
    study = studies.open_study(storage, "f")
    assert study.user_attrs["selection_fold_trials"] == "front"
    trained = studies.trained_trials(study)
    assert len(trained) >= 2
    # The first trained candidate meets an empty front.
    assert trained[0].user_attrs["cross_validated"]
    for trial in trained:
        attrs = trial.user_attrs
        assert attrs["cross_validated"] == ("fold_accuracy_int8_val" in attrs)
        if not attrs["cross_validated"]:
            # Scored on the validation split alone, and dominated by an earlier trial.
            earlier = [t for t in trained if t.number < trial.number]
            assert any(e.user_attrs["accuracy_int8_val"] >= attrs["accuracy_int8_val"]
                       and e.user_attrs["estimated_ram_bytes"] <= attrs["estimated_ram_bytes"]
                       for e in earlier)
    # Every model the front offers was cross-validated.
    assert all(t.user_attrs["cross_validated"] for t in studies.pareto_trials(study))


def test_fold_trials_is_refused_in_one_line_without_folds(tmp_path, capsys) -> None:
    storage = f"sqlite:///{tmp_path}/f.db"
    base = ["search", "--board", "arduino_nano33_ble", "--space", "ds_cnn", "--dataset",
            "digits", "--trials", "1", "--storage", storage, "--study", "f"]
    assert main([*base, "--fold-trials", "front"]) == 2
    assert main([*base, "--folds", "2", "--fold-trials", "some"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["tinynas search: error: --fold-trials front: cross-validates the candidates "
                   "that reach the front, so it needs --folds 2 or more (or auto)",
                   "tinynas search: error: --fold-trials must be one of all, front, got 'some'"]
    assert not studies.make_storage(storage).get_all_studies()


def test_the_study_report_says_what_the_search_selects_on() -> None:
    from tinynas.report._facts import StudyFacts

    def facts(attrs: dict) -> StudyFacts:
        return StudyFacts(name="s", attrs=attrs, limits=None, objectives=("accuracy",),
                          points=[], failed=0, hypervolume=[])

    assert facts({"selection_split": "validation"}).selection == "validation split"
    assert (facts({"selection_split": "validation", "selection_folds": 5}).selection
            == "validation split (5-fold cross-validated)")
    assert facts({}).selection == "test split"
    assert (facts({"selection_split": "validation", "selection_folds": 3,
                   "selection_fold_trials": "front"}).selection
            == "validation split (3-fold cross-validated on the front)")
