"""A real ``tinynas search`` (3 trials on digits, 3 epochs): each trained trial carries its
report and plots, the study report is written, and the dashboard serves all of it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tinynas import study as studies
from tinynas.cli import main
from tinynas.dashboard import Dashboard
from tinynas.report import _format as fmt

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real(digits_study) -> tuple[str, str, Path]:
    return digits_study


def test_report_of_a_real_search(real, capsys) -> None:
    storage, name, folder = real
    out = folder / "report"
    capsys.readouterr()
    assert main(["report", "--study", name, "--storage", storage, "--out", str(out)]) == 0
    assert str(out / "report.html") in capsys.readouterr().out
    md = (out / "report.md").read_text()
    study = studies.open_study(storage, name)
    trained = studies.trained_trials(study)
    assert trained, "the search trained at least one model"
    for t in studies.pareto_trials(study):
        assert f"| {t.number} | {fmt.acc(t.user_attrs['accuracy_int8'])} |" in md
        for stage in t.user_attrs["stages"]:
            assert f"| {stage['name']} | {fmt.acc(stage['accuracy'])} |" in md
    assert (out / "figures" / "pareto.png").read_bytes().startswith(b"\x89PNG")


def test_dashboard_serves_the_search_hook_artifacts(real) -> None:
    storage, name, _ = real
    study = studies.open_study(storage, name)
    with Dashboard(storage, port=0) as dashboard:
        base = dashboard.url.removesuffix("/dashboard/")
        with urllib.request.urlopen(f"{base}/api/studies/{study._study_id}", timeout=30) as r:
            detail = json.loads(r.read())
    assert detail["objective_names"] == list(study.metric_names)
    for served in detail["trials"]:
        frozen = study.trials[served["number"]]
        assert served["constraints"] == pytest.approx(frozen.system_attrs["constraints"])
        names = {a["filename"] for a in served["artifacts"]}
        if "accuracy_int8" in frozen.user_attrs:
            assert {"model.tflite", "report.html", "report.md", "stages.png",
                    "budget.png"} <= names
