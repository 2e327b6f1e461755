"""Short searches on the sensor and keyword built-ins complete and train int8 models."""

from __future__ import annotations

import optuna
import pytest

from tinynas import study as studies
from tinynas.cli import main
from tinynas.folds import selection_note

pytestmark = pytest.mark.slow


# basic_motions asks for cross-validation; kws_synth keeps the default (the validation split).
@pytest.mark.parametrize("dataset,space,flags", [("basic_motions", "cnn1d", ["--folds", "auto"]),
                                                ("kws_synth", "ds_cnn", [])])
def test_short_search_completes(tmp_path, capsys, caplog, dataset: str, space: str,
                                flags: list[str]) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    assert main(["search", "--board", "arduino_nano33_ble", "--space", space, "--dataset",
                 dataset, "--trials", "2", "--storage", storage, "--study", "s",
                 "--sampler", "random", "--seed", "2", "--epochs", "2", *flags]) == 0
    study = studies.open_study(storage, "s")
    # A validation split too small to choose on is named once, with its size.
    small = [r.getMessage() for r in caplog.records if "the validation split has" in r.getMessage()]
    train, val, _ = study.user_attrs["split_sizes"]
    folds = study.user_attrs["selection_folds"]
    expected = selection_note(val, train, folds, f"dataset {dataset}")
    assert small == ([expected] if expected else [])
    if dataset == "basic_motions":
        # 8 validation recordings are too few to choose on: the search cross-validates.
        assert val == 8 and folds == 5 and "has 8 samples" in small[0]
        assert "5-fold cross-validated accuracy over 40 samples" in small[0]
    else:
        assert folds == 1 and "--folds auto cross-validates" in small[0]
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 2
    trained = studies.trained_trials(study)
    assert trained, "at least one candidate fits the board and is trained"
    for t in trained:
        assert t.user_attrs["arch"]["space"] == space
        assert 0.0 <= t.user_attrs["accuracy_int8"] <= 1.0
        if folds > 1:
            assert len(t.user_attrs["fold_accuracy_int8_val"]) == folds
            assert sum(t.user_attrs["fold_sizes"]) == train + val
        # The estimate made before training is what the converted model measures (64-bit host
        # figures differ from the 32-bit estimate, but both are positive and of one scale).
        assert t.user_attrs["measured_arena_bytes"] > 0
        assert t.user_attrs["tflite_bytes"] == t.user_attrs["estimated_model_bytes"]
    assert study.user_attrs["dataset"] == dataset
