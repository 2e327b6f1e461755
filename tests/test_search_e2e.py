"""End to end on digits: search, resume, pareto, export; the exported model runs in the
tflite-micro interpreter with the accuracy the study recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinynas import study as studies_mod
from tinynas.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def searched(digits_study) -> tuple[str, str, Path]:
    return digits_study


def test_trials_record_the_contract_attributes(searched) -> None:
    import optuna

    from tinynas.study import open_study

    storage, name, _ = searched
    study = open_study(storage, name)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 3
    assert [m for m in study.metric_names] == ["int8 validation accuracy", "RAM bytes",
                                                "flash bytes", "latency ms"]
    assert study.user_attrs[studies_mod.SELECTION_KEY] == "validation"
    for t in complete:
        for key in ("arch", "estimated_ram_bytes", "estimated_flash_bytes",
                    "estimated_latency_ms", "macs", "params"):
            assert key in t.user_attrs, key
        assert len(t.system_attrs["constraints"]) == 3
        if t.user_attrs["trained"]:
            for key in ("accuracy_float", "accuracy_int8", "tflite_bytes",
                        "measured_arena_bytes", "accuracy_int8_val", "accuracy_float_val"):
                assert key in t.user_attrs, key
            assert 0.0 <= t.user_attrs["accuracy_int8"] <= 1.0
            # The search selects on validation accuracy: the test split stays unseen.
            assert t.values[0] == t.user_attrs["accuracy_int8_val"]
            assert t.user_attrs["measured_arena_bytes"] > 0
            # The estimate made before training predicted the converted file to the byte.
            assert t.user_attrs["tflite_bytes"] == t.user_attrs["estimated_model_bytes"]
    assert any(t.user_attrs["trained"] for t in complete)


def test_resume_tops_up(searched, capsys, tmp_path) -> None:
    import optuna

    from tinynas.study import open_study

    shared, name, _ = searched
    # Resume a copy: the shared study stays as other tests expect it.
    copy = tmp_path / "copy.db"
    shutil.copy(shared.removeprefix("sqlite:///"), copy)
    storage = f"sqlite:///{copy}"
    assert main(["search", "--board", "arduino_nano33_ble", "--space", "ds_cnn", "--dataset",
                 "digits", "--trials", "4", "--storage", storage, "--study", name,
                 "--sampler", "random", "--seed", "1", "--epochs", "3"]) == 0
    study = open_study(storage, name)
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 4
    capsys.readouterr()
    assert main(["search", "--board", "nucleo_l432kc", "--space", "ds_cnn", "--dataset",
                 "digits", "--trials", "4", "--storage", storage, "--study", name]) == 2
    assert "was created with --board arduino_nano33_ble" in capsys.readouterr().err


def test_pareto_and_export_round_trip(searched, capsys) -> None:
    from tflite_micro import runtime

    from tinynas.datasets import load_dataset

    storage, name, tmp = searched
    assert main(["pareto", "--storage", storage, "--study", name, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows, "at least one feasible trained trial"
    assert main(["pareto", "--storage", storage, "--study", name]) == 0
    table = capsys.readouterr().out
    assert f"{rows[0]['trial']:>5}" in table and "int8 acc" in table

    out = tmp / "export"
    assert main(["export", "--storage", storage, "--study", name, "--trial",
                 str(rows[0]["trial"]), "--out", str(out)]) == 0
    for file in ("model.tflite", "model_data.cc", "model_data.h", "model_config.h", "report.md"):
        assert (out / file).is_file(), file
    header = (out / "model_data.cc").read_text()
    assert "alignas(16)" in header
    config = (out / "model_config.h").read_text()
    assert "ARENA" in config.upper()

    data = load_dataset("digits", seed=1)
    model = (out / "model.tflite").read_bytes()
    it = runtime.Interpreter.from_bytes(model, arena_size=512 * 1024)
    d_in = it.get_input_details(0)
    scale = d_in["quantization_parameters"]["scales"][0]
    zero = d_in["quantization_parameters"]["zero_points"][0]

    def accuracy(xs: np.ndarray, ys: np.ndarray) -> float:
        correct = 0
        for x, y in zip(xs, ys, strict=True):
            q = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
            it.set_input(q.reshape(d_in["shape"]), 0)
            it.invoke()
            correct += int(np.argmax(it.get_output(0)) == y)
        return correct / len(ys)

    assert accuracy(data.x_test, data.y_test) == pytest.approx(rows[0]["accuracy_int8"], abs=1e-4)
    assert accuracy(data.x_val, data.y_val) == pytest.approx(rows[0]["accuracy_int8_val"],
                                                              abs=1e-4)


def test_export_errors(searched, capsys, tmp_path) -> None:
    storage, name, _ = searched
    assert main(["export", "--storage", storage, "--study", name, "--trial", "99",
                 "--out", str(tmp_path / "x")]) == 2
    assert "has no trial 99" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
