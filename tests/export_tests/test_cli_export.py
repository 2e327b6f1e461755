"""``tinynas export`` through the command line: both forms, and one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinynas.cli import main
from tinynas.export import read_manifest
from tinynas.tflite_writer import serialize

from ._graphs import digits_classifier


def test_export_a_tflite_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.tflite"
    model.write_bytes(serialize(digits_classifier(9)))
    assert main(["export", str(model), "--out", str(tmp_path / "fw")]) == 0
    out = capsys.readouterr().out
    assert f"exported {model} to {tmp_path / 'fw'}" in out
    manifest = read_manifest(tmp_path / "fw")
    assert f"arena {manifest['runtime']['arena_bytes']} B" in out
    assert (tmp_path / "fw" / "tinynas_model.c").is_file()
    assert main(["export", "--tflite", str(model), "--out", str(tmp_path / "fw2")]) == 0


@pytest.mark.parametrize("trial", ["0", "best"])
def test_export_a_study_trial(trial: str, digits_study: tuple[str, str, bytes], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    storage, name, tflite = digits_study
    out = tmp_path / "fw"
    assert main(["export", "--storage", storage, "--study", name, "--trial", trial,
                 "--out", str(out)]) == 0
    assert "study 'digits', trial 0" in capsys.readouterr().out
    assert (out / "model.tflite").read_bytes() == tflite
    info = read_manifest(out)["info"]
    assert (info["dataset"], info["seed"], info["trial"]) == ("digits", 0, 0)
    config = (out / "model_config.h").read_text()
    assert "MODEL_NUM_CLASSES 10" in config and "NORMALIZATION_STD {6.0f}" in config
    assert "| int8 accuracy | 0.5 |" in (out / "report.md").read_text()


@pytest.mark.parametrize("argv,expect", [
    (["export", "--out", "fw"], "either a MODEL.tflite file or --study"),
    (["export", "m.tflite", "--study", "x", "--out", "fw"], "not both"),
    (["export", "m.tflite", "--tflite", "m.tflite", "--out", "fw"], "not both"),
    (["export", "missing.tflite", "--out", "fw"], "missing.tflite: no such file"),
    (["export", "--storage", "{storage}", "--study", "digits", "--trial", "x", "--out", "fw"],
     "--trial 'x'"),
    (["export", "--storage", "{storage}", "--study", "digits", "--trial", "5", "--out", "fw"],
     "has no trial 5"),
    (["export", "--storage", "{storage}", "--study", "nope", "--out", "fw"], "no study 'nope'"),
])
def test_refusals_are_one_line(argv: list[str], expect: str, digits_study: tuple[str, str, bytes],
                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{storage}", digits_study[0]) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expect in err[0], err
    assert not (tmp_path / "fw").exists()
