"""``collect`` against simulated sensors on a pseudo-terminal and on a local socket."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tinynas.cli import main
from tinynas.collect import parse_sample, record
from tinynas.datasets import load_dataset

from .sim_sensor import SimulatedSensor, sample_line


def _rows(path: Path) -> list[list[float]]:
    with path.open() as f:
        reader = csv.reader(f)
        assert next(reader) == ["timestamp", "ch0", "ch1", "ch2", "ch3"]
        return [[float(v) for v in row] for row in reader]


def test_parse_sample() -> None:
    assert parse_sample("1, 2.5,\t-3\r") == [1.0, 2.5, -3.0]
    assert parse_sample("1\t2\t3") == [1.0, 2.0, 3.0]
    for garbled in ("", "acc: 1,2", "1,,2", "1,nan,2", "\x00\xff"):
        assert parse_sample(garbled) is None


def test_pty_stream_is_contiguous_and_its_rate_detected(tmp_path: Path) -> None:
    with SimulatedSensor("pty", rate_hz=200.0) as sensor:
        result = record(sensor.port, "walk", tmp_path, seconds=1.2)
    assert result.stopped == "time" and result.path is not None
    assert result.path.parent == tmp_path / "walk" and result.channels == 4
    rows = _rows(result.path)
    assert len(rows) == result.samples > 100
    # Nothing dropped between the first and the last received sample (the very first line may
    # be the tail of one cut when the port opened).
    index = [r[1] for r in rows[1:]]
    assert index == list(np.arange(index[0], index[0] + len(index)))
    assert result.rate_hz == pytest.approx(200.0, rel=0.15)


def test_pty_device_that_disappears_keeps_what_arrived(tmp_path: Path) -> None:
    with SimulatedSensor("pty", rate_hz=300.0, count=150) as sensor:
        result = record(sensor.port, "gone", tmp_path, seconds=20)
    assert result.stopped == "disconnected" and result.path is not None
    rows = _rows(result.path)
    assert rows and rows[-1][1:] == [float(v) for v in sample_line(int(rows[-1][1]))
                                     .decode().split(",")]


def _garbled(i: int) -> bytes:
    if i % 20 == 7:
        return b"3.2,1.1\n"  # short line
    if i % 20 == 13:
        return b"\x00\xfe\xff garbage\n"
    return sample_line(i)


def test_socket_garbled_lines_and_a_cut_last_line(tmp_path: Path) -> None:
    with SimulatedSensor("socket", rate_hz=500.0, count=200, line=_garbled,
                         tail=b"199.5,0.12") as sensor:
        result = record(sensor.port, "shake", tmp_path)
        sent = list(sensor.sent)
    good = [line for line in sent if parse_sample(line.decode(errors="replace")) is not None
            and len(parse_sample(line.decode(errors="replace")) or []) == 4]
    assert result.stopped == "disconnected"
    assert result.samples == len(good) == 180
    assert result.skipped == len(sent) - len(good) + 1
    rows = _rows(result.path) if result.path else []
    assert [r[1:] for r in rows] == [[float(v) for v in line.decode().split(",")] for line in good]
    timestamps = [r[0] for r in rows]
    assert timestamps[0] == 0.0 and timestamps == sorted(timestamps)


def test_collect_cli_round_trips_into_a_dataset_that_trains(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sklearn.linear_model import LogisticRegression

    for pattern, label in enumerate(("idle", "walk", "run")):
        with SimulatedSensor("socket", rate_hz=1000.0, count=400,
                             line=lambda i, p=pattern: sample_line(i, p)) as sensor:
            code = main(["collect", "--port", sensor.port, "--label", label, "--out",
                         str(tmp_path), "--seconds", "20"])
        out = capsys.readouterr().out
        assert code == 0 and "400 samples x 4 values" in out and "stopped: disconnected" in out
    (tmp_path / "dataset.toml").write_text("[window]\nlength = 20\nstride = 10\n")
    data = load_dataset(str(tmp_path))
    assert data.class_names == ["idle", "run", "walk"] and data.input_shape == (20, 4)
    assert data.preprocessing["window"]["sample_rate_hz"] > 100
    flat = data.x_train.reshape(len(data.x_train), -1)
    model = LogisticRegression(max_iter=500).fit(flat, data.y_train)
    assert model.score(data.x_test.reshape(len(data.x_test), -1), data.y_test) > 0.9


def test_collect_cli_errors_are_one_line(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with SimulatedSensor("socket", count=20, line=lambda i: b"noise!\n") as sensor:
        code = main(["collect", "--port", sensor.port, "--label", "x", "--out", str(tmp_path)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and err[0].startswith("recording 'x' from socket://") and len(err) == 2
    assert "no samples received (20 unreadable lines, disconnected)" in err[1]
    assert not any(tmp_path.rglob("*.csv"))
    code = main(["collect", "--port", "socket://127.0.0.1:1", "--label", "x", "--out",
                 str(tmp_path), "--seconds", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("tinynas collect: error: --port socket://127.0.0.1:1: "
                                        "cannot open")
    code = main(["collect", "--port", "loop://", "--label", "a/b", "--out", str(tmp_path)])
    assert code == 2 and "--label 'a/b': use only letters" in capsys.readouterr().err
