"""``tinynas bench`` and ``tinynas calibrate`` on a real trained model under QEMU."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinynas.cli import main
from tinynas.convert import evaluate_tflite
from tinynas.datasets import load_dataset
from tinynas.device.build import build_firmware
from tinynas.device.emulator import Emulator
from tinynas.estimator import estimate_tflite
from tinynas.export import ExportInfo, export_bundle
from tinynas.latency import CoreProfile

pytestmark = pytest.mark.slow


def _bench_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["bench", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def digits_result(digits_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results") / "digits.json"
    # No --dataset: the export's manifest names digits and its split seed.
    assert main(["bench", "--model", str(digits_bundle), "--emulate", "cortex-m4",
                 "--board", "nucleo_l4r5zi", "--out", str(out)]) == 0
    return out


def test_device_accuracy_equals_the_host_interpreter(digits_bundle: Path,
                                                     digits_result: Path) -> None:
    result = json.loads(digits_result.read_text())
    tflite = (digits_bundle / "model.tflite").read_bytes()
    data = load_dataset("digits", 0)
    # The study's int8 accuracy, computed from the float test split by another code path.
    reference = evaluate_tflite(tflite, data.x_test.reshape(len(data.x_test), 8, 8, 1),
                                data.y_test)
    assert result["samples"] == len(data.y_test)
    assert result["mismatches"] == 0
    assert result["accuracy"] == pytest.approx(reference, abs=1e-9)
    assert result["accuracy"] == result["host_accuracy"] > 0.3
    assert result["count_unit"] == "instructions" and result["emulated"] is True
    # Only branches on data (max searches, clamps) make counts vary: by well under 1%.
    assert 0 < result["cycles_min"] <= result["cycles_per_inference"] <= result["cycles_max"]
    assert result["cycles_max"] < 1.01 * result["cycles_min"]
    estimate = estimate_tflite(tflite)
    assert result["macs"] == estimate.macs > 0
    assert result["cycles_per_mac"] == pytest.approx(result["cycles_per_inference"] / estimate.macs)
    assert result["latency_ms"] == pytest.approx(result["cycles_per_inference"] / 120e3)
    sections = result["sections"]
    assert result["flash_bytes"] >= sections[".text"] + sections[".rodata"] > len(tflite) // 4
    assert result["ram_bytes"] == sections[".data"] + sections[".bss"] + result["stack_used"]
    assert 0 < result["stack_used"] < sections[".stack"]


def test_calibrate_writes_a_profile_that_reproduces_the_measurement(
        digits_result: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile_path = tmp_path / "m4.json"
    assert main(["calibrate", "--results", str(digits_result), "--out", str(profile_path),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    measured = json.loads(digits_result.read_text())["cycles_per_inference"]
    (row,) = report["rows"]
    assert row["measured"] == measured
    assert abs(row["error_after"]) < abs(row["error_before"])
    profile = CoreProfile.load(profile_path)
    assert profile.core == "cortex-m4" and profile.observations == 1


def test_port_path_against_qemu_with_a_calibrated_profile(
        digits_bundle: Path, digits_result: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "m4.json"
    assert main(["calibrate", "--results", str(digits_result), "--out", str(profile)]) == 0
    assert "worst error" in capsys.readouterr().out
    firmware = build_firmware(digits_bundle, tmp_path / "fw", "cortex-m4")
    with Emulator(firmware.elf, "cortex-m4") as emulator:
        result = _bench_json(capsys, "--model", str(digits_bundle), "--port", emulator.url,
                             "--limit", "20", "--profile", str(profile))
    emulated = json.loads(digits_result.read_text())
    # The firmware's timing loop tells QEMU from silicon through a plain port too.
    assert (result["emulated"], result["count_unit"]) == (True, "instructions")
    assert result["instructions_per_tick"] == 40.0
    assert result["mismatches"] == 0 and result["samples"] == 20
    assert result["cycles_min"] >= emulated["cycles_min"] - 40
    assert result["cycles_max"] <= emulated["cycles_max"] + 40
    measured = result["cycles_per_inference"]
    assert abs(result["calibrated_cycles"] - measured) < abs(result["estimated_cycles"] - measured)


def test_absent_device_is_one_line_and_quick(digits_bundle: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    code = main(["bench", "--model", str(digits_bundle), "--port", f"socket://127.0.0.1:{port}",
                 "--random", "2"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tinynas bench: error: cannot open device 'socket://127.0.0.1:")
    assert err.count("\n") == 1
    assert time.monotonic() - start < 10


def test_bad_input_is_one_line(digits_bundle: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    anonymous = tmp_path / "anonymous"
    export_bundle((digits_bundle / "model.tflite").read_bytes(), anonymous, ExportInfo())
    cases = [
        (["bench", "--model", str(tmp_path / "none"), "--emulate", "cortex-m4", "--random", "1"],
         "no such file"),
        (["bench", "--model", str(anonymous), "--emulate", "cortex-m4"], "give --dataset"),
        (["bench", "--model", str(digits_bundle), "--emulate", "cortex-m4", "--dataset",
          "fashion_mnist:100", "--limit", "2"], "wrong --dataset"),
        (["bench", "--model", str(digits_bundle), "--emulate", "cortex-m4", "--timeout", "0",
          "--random", "1"], "--timeout must be > 0"),
        (["calibrate", "--results", str(tmp_path / "missing.json"), "--out",
          str(tmp_path / "p.json")], "cannot read"),
        (["calibrate", "--results", str(digits_bundle / "model.tflite"), "--out",
          str(tmp_path / "p.json")], "not a JSON file"),
        (["calibrate", "--results", str(digits_bundle / "model.tflite"), "--out",
          str(tmp_path / "no" / "p.json")], "does not exist"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "p.json").exists()


def test_text_report_without_tensorflow(digits_bundle: Path) -> None:
    code = (
        "import sys\n"
        "from tinynas.cli import main\n"
        f"assert main(['bench', '--model', {str(digits_bundle)!r}, '--emulate', 'cortex-m3',"
        " '--random', '3']) == 0\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "counts are instructions, not cycles" in run.stdout
    assert "3/3 outputs identical" in run.stdout
    assert "(cortex-m3)" in run.stdout
