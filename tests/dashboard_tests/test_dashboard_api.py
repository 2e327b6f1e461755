"""``tinynas dashboard`` serves a finished study: objective names, constraints, every foundation
user attribute and each trial's artifacts, checked through optuna-dashboard's HTTP API."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest
from dashboard_process import start_dashboard, stop_dashboard

from tinynas import study as studies
from tinynas.cli import main

FOUNDATION_ATTRS = ("arch", "estimated_ram_bytes", "estimated_flash_bytes",
                    "estimated_latency_ms", "macs", "params")
TRAINED_ATTRS = ("accuracy_float", "accuracy_int8", "tflite_bytes", "measured_arena_bytes")
TRIAL_ARTIFACTS = ("model.tflite", "report.html", "report.md", "stages.png", "budget.png")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


@pytest.fixture(scope="module")
def served(fab, dashboard):
    """The study as stored, and the study as the dashboard serves it."""
    storage, name, _ = fab
    study = studies.open_study(storage, name)
    summaries = json.loads(_get(f"{dashboard}/api/studies"))["study_summaries"]
    study_id = next(s["study_id"] for s in summaries if s["study_name"] == name)
    detail = json.loads(_get(f"{dashboard}/api/studies/{study_id}"))
    return study, study_id, detail


def test_objectives_are_named(served) -> None:
    study, _, detail = served
    objectives = study.user_attrs["objectives"]
    assert detail["objective_names"] == [studies.OBJECTIVES[o][2] for o in objectives]
    assert detail["directions"] == [studies.OBJECTIVES[o][0] for o in objectives]


def test_constraints_tell_feasible_from_infeasible(served) -> None:
    study, _, detail = served
    by_number = {t["number"]: t for t in detail["trials"]}
    assert sorted(by_number) == [t.number for t in study.trials]
    for t in study.trials:
        assert by_number[t.number]["constraints"] == pytest.approx(
            t.system_attrs[studies.CONSTRAINTS_KEY])
    served_infeasible = {n for n, t in by_number.items() if any(c > 0 for c in t["constraints"])}
    stored_infeasible = {t.number for t in study.trials if not studies.is_feasible(t)}
    assert served_infeasible == stored_infeasible
    assert 0 < len(served_infeasible) < len(by_number)


def test_every_foundation_attribute_is_shown(served) -> None:
    study, _, detail = served
    by_number = {t["number"]: {a["key"]: a["value"] for a in t["user_attrs"]}
                 for t in detail["trials"]}
    for t in study.trials:
        shown = by_number[t.number]
        expected = FOUNDATION_ATTRS + (TRAINED_ATTRS if "accuracy_int8" in t.user_attrs else ())
        for key in expected:
            assert key in shown, (t.number, key)
        assert json.loads(shown["arch"]) == t.user_attrs["arch"]
        assert float(shown["estimated_ram_bytes"]) == t.user_attrs["estimated_ram_bytes"]


def test_trial_artifacts_are_served(served, dashboard) -> None:
    study, study_id, detail = served
    trained = [t for t in study.trials if "accuracy_int8" in t.user_attrs]
    assert trained
    by_number = {t["number"]: t for t in detail["trials"]}
    for t in trained:
        artifacts = {a["filename"]: a for a in by_number[t.number]["artifacts"]}
        for name in TRIAL_ARTIFACTS:
            assert name in artifacts, (t.number, name)
        assert artifacts["stages.png"]["mimetype"] == "image/png"
    first = by_number[trained[0].number]
    ids = {a["filename"]: a["artifact_id"] for a in first["artifacts"]}
    base = f"{dashboard}/artifacts/{study_id}/{first['trial_id']}"
    assert _get(f"{base}/{ids['model.tflite']}") == studies.download_bytes(
        study, trained[0], "model.tflite")
    assert _get(f"{base}/{ids['stages.png']}").startswith(b"\x89PNG\r\n\x1a\n")
    report = _get(f"{base}/{ids['report.html']}").decode()
    assert f"Trial {trained[0].number} of {study.study_name}" in report


def test_ctrl_c_stops_the_dashboard(fab) -> None:
    proc, url = start_dashboard(fab[0], fab[2] / "dashboard-stop.log")
    assert b"<html" in _get(url).lower()
    port = int(url.split(":")[2].split("/")[0])
    assert stop_dashboard(proc) == 0
    assert "stopped" in (fab[2] / "dashboard-stop.log").read_text()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the port is still served"


def _one_line_error(capsys, argv: list[str], *expect: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for text in expect:
        assert text in err, err


def test_bad_dashboard_arguments(capsys, fab, tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    _one_line_error(capsys, ["dashboard", "--storage", f"sqlite:///{missing}"],
                    "no database file", str(missing))
    assert not missing.exists()
    with pytest.raises(SystemExit) as exc:
        main(["dashboard", "--storage", fab[0], "--port", "70000"])
    assert exc.value.code == 2
    assert "--port" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        _one_line_error(capsys, ["dashboard", "--storage", fab[0], "--port", str(port)],
                        f"--port {port}", "cannot listen")
