"""``tinynas data list|info|synth-kws`` through the command-line entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from tinynas.cli import main


def test_list_shows_every_built_in(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name, shape in (("digits", "8x8x1"), ("fashion_mnist", "28x28x1"),
                        ("basic_motions", "100x6"), ("kws_synth", "49x10x1")):
        assert any(line.split()[:1] == [name] and shape in line for line in out.splitlines())
    assert main(["data", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["classes"] for r in rows] == [10, 10, 4, 12]
    assert all(r["missing"] is None for r in rows)


def test_list_does_not_import_heavy_libraries() -> None:
    code = ("import sys; from tinynas.cli import main; main(['data', 'list']); "
            "print(sorted(m for m in ('tensorflow', 'sklearn', 'aeon') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_info_prints_shapes_classes_and_splits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", "basic_motions"]) == 0
    out = capsys.readouterr().out
    assert "sample shape 100x6" in out
    assert "train 32, validation 8, test 40 (official test, seed 0)" in out
    assert "walking" in out
    assert main(["data", "info", "digits:300", "--json", "--seed", "2"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["input_shape"] == [8, 8, 1] and info["preprocessing"]["split"]["seed"] == 2
    assert sum(info["split_sizes"].values()) < 320


def test_info_of_an_unknown_dataset_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", "mnist"]) == 2
    assert capsys.readouterr().err == ("tinynas data: error: unknown dataset 'mnist'; available: "
                                       "basic_motions, digits, fashion_mnist, kws_synth\n")


def test_synth_kws_writes_the_speech_commands_layout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "kws"
    assert main(["data", "synth-kws", "--out", str(out_dir), "--per-word", "3",
                 "--seed", "1"]) == 0
    assert "wrote 36 clips" in capsys.readouterr().out
    folders = sorted(p.name for p in out_dir.iterdir() if p.is_dir())
    assert folders == sorted(["_background_noise_", "_silence_", "_unknown_", "down", "go",
                              "left", "no", "off", "on", "right", "stop", "up", "yes"])
    clip = next((out_dir / "yes").glob("*_nohash_*.wav"))
    with wave.open(str(clip)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == \
            (16000, 1, 2, 16000)
    assert len((out_dir / "testing_list.txt").read_text().split()) == 12
    # An existing, non-empty folder is refused, and nothing is left half-written.
    assert main(["data", "synth-kws", "--out", str(out_dir), "--per-word", "3"]) == 2
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kws"]
