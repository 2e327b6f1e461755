"""``tinynas analyze``: report, JSON, measurement, and one-line errors for bad input."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from int8_graphs import conv_net

from tinynas.cli import main
from tinynas.graph import Graph, Operator, Tensor
from tinynas.tflite_writer import serialize


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "kws.tflite"
    path.write_bytes(serialize(conv_net(8, 12)))
    return path


def test_table_and_board_limits(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(model), "--board", "nucleo_l432kc"]) == 0
    out = capsys.readouterr().out
    for text in ("CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "1x12x12x8", "arena", "flash",
                 "MACs", "latency", "board nucleo_l432kc", "headroom"):
        assert text in out
    assert "10,368" in out  # the convolution's MACs: 12 x 12 outputs x 8 channels x 3 x 3


def test_json_has_the_promised_keys(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(model), "--json", "--target", "host"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("arena_bytes", "model_bytes", "flash_bytes", "macs", "latency_ms", "ops"):
        assert key in data
    assert data["target"] == "host"
    assert data["model_bytes"] == model.stat().st_size
    assert [op["opcode"] for op in data["ops"]][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]


def test_mcu_and_host_targets_differ(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arenas = []
    for target in ("mcu", "host"):
        assert main(["analyze", str(model), "--json", "--target", target]) == 0
        arenas.append(json.loads(capsys.readouterr().out)["arena_bytes"])
    assert arenas[0] < arenas[1]


def test_measure_puts_tflite_micro_beside_the_estimate(
        model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(model), "--measure", "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)["measured"]
    # An arena whose end is not 16-byte aligned may save up to 8 bytes of tail padding.
    assert measured["min_working_arena_bytes"] >= measured["recorded_arena_bytes"] - 8
    assert abs(measured["host_arena_error"]) <= 0.02


def _run_bad(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["analyze", *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert captured.out == ""
    return lines[0]


def test_bad_files_give_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.tflite"
    text.write_text("not a model")
    assert "notes.tflite: not a TFLite flatbuffer" in _run_bad([str(text)], capsys)
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(serialize(conv_net())[:300])
    assert "cut.tflite: truncated or corrupt" in _run_bad([str(truncated)], capsys)
    float_model = tmp_path / "float.tflite"
    float_model.write_bytes(serialize(Graph(
        (Tensor(0, "", (1, 4), "float32"), Tensor(1, "", (1, 4), "float32")),
        (Operator("RELU", (0,), (1,)),), (0,), (1,))))
    assert "float.tflite: tensor 0 is float32" in _run_bad([str(float_model)], capsys)
    assert "missing.tflite: no such file" in _run_bad([str(tmp_path / "missing.tflite")], capsys)
    assert "unknown board 'nowhere'" in _run_bad([str(text), "--board", "nowhere"], capsys)


def test_unknown_operator_row_is_marked_and_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = conv_net(8, 12)
    ops = list(graph.operators)
    ops[4] = dataclasses.replace(ops[4], opcode="CEIL", options={})
    path = tmp_path / "odd.tflite"
    path.write_bytes(serialize(dataclasses.replace(graph, operators=tuple(ops))))
    assert main(["analyze", str(path)]) == 2
    captured = capsys.readouterr()
    assert "CEIL (unknown)" in captured.out and "FULLY_CONNECTED" in captured.out
    assert captured.err.strip() == (
        f"tinynas analyze: error: {path}: operators the estimator does not know: CEIL "
        "(rows marked unknown; their costs are generic guesses)")


def test_analyze_does_not_import_tensorflow(model: Path) -> None:
    code = ("import sys; from tinynas.cli import main; rc = main(['analyze', sys.argv[1]]); "
            "print('TF' if 'tensorflow' in sys.modules else 'noTF', rc)")
    result = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True,
                            text=True, timeout=120, check=True)
    assert result.stdout.strip().splitlines()[-1] == "noTF 0"
