"""Per-trial reports and plots stored as artifacts while the trial runs."""

from __future__ import annotations

import optuna
import pytest
from optuna.artifacts import get_all_artifact_meta

from tinynas import study as studies
from tinynas.errors import StudyError
from tinynas.report import _format as fmt
from tinynas.report import trial_artifacts

EXPECTED = {"report.html": "text/html", "report.md": "text/markdown",
            "stages.png": "image/png", "budget.png": "image/png"}


def test_trained_trials_carry_report_and_plots(fab) -> None:
    storage, name, _ = fab
    study = studies.open_study(storage, name)
    trained = studies.trained_trials(study)
    assert trained
    for t in trained:
        metas = {m.filename: m.mimetype for m in get_all_artifact_meta(t, storage=study._storage)}
        for filename, mimetype in EXPECTED.items():
            assert metas.get(filename) == mimetype, (t.number, filename)
    t = trained[0]
    md = studies.download_bytes(study, t, "report.md").decode()
    assert md.startswith(f"# Trial {t.number} of {name}")
    assert fmt.acc(t.user_attrs["accuracy_int8"]) in md
    for stage in t.user_attrs["stages"]:
        assert f"| {stage['name']} | {fmt.acc(stage['accuracy'])} |" in md
    assert "](stages.png)" in md, "the Markdown links the sibling artifact"
    page = studies.download_bytes(study, t, "report.html").decode()
    assert page.count("src='data:image/png;base64,") == 2, "the HTML report is self-contained"
    assert studies.download_bytes(study, t, "stages.png").startswith(b"\x89PNG")


def test_untrained_trial_says_why(fab) -> None:
    storage, name, _ = fab
    study = studies.open_study(storage, name)
    over = next(t for t in study.trials if not studies.is_feasible(t))
    with pytest.raises(StudyError, match=f"trial {over.number} .* is complete"):
        trial_artifacts(study, over)


def _running_trial(fab, tmp_path) -> tuple[optuna.Study, optuna.Trial]:
    """A running trial of a new study on the fabricated study's board."""
    storage, name, _ = fab
    board = studies.open_study(storage, name).user_attrs["board"]
    with studies._quiet_optuna():
        study = optuna.create_study(storage=f"sqlite:///{tmp_path}/one.db", study_name="one")
    study.set_user_attr("board", board)
    study.set_user_attr("artifact_dir", str(tmp_path / "artifacts"))
    return study, study.ask()


def test_a_running_trial_over_the_limits(fab, tmp_path) -> None:
    study, trial = _running_trial(fab, tmp_path)
    trial.set_user_attr("estimated_ram_bytes", 10**7)
    trial.set_user_attr("arch_summary", "huge")
    studies.set_constraints(trial, [40.0, -0.5, -0.5])
    ids = trial_artifacts(study, trial)
    assert len(ids) == 3, "report.html, report.md and budget.png; no stages untrained"
    frozen = study._storage.get_trial(trial._trial_id)
    md = studies.download_bytes(study, frozen, "report.md").decode()
    assert "No model: it breaks the board limits, so it was not trained." in md
    assert f"| RAM | {fmt.kb(10**7)} |" in md
    assert "predicted before training" not in md  # no sampler's choice behind this trial


@pytest.mark.parametrize(("drawn", "origin"), [
    (None, ""), (0, " (bred from its parents)"), (1, " (drawn at random from the whole space)")])
def test_a_chosen_child_says_what_was_predicted(fab, tmp_path, drawn, origin) -> None:
    study, trial = _running_trial(fab, tmp_path)
    for key, value in {"children": 8, "predicted_accuracy": 0.8123, "predicted_std": 0.031,
                       "expected_gain": 0.004, "drawn": drawn}.items():
        if value is None:
            continue
        study._storage.set_trial_system_attr(trial._trial_id, f"offspring:{key}", value)
    trial.set_user_attr("arch_summary", "conv 8 k3 s2 | flatten")
    studies.set_constraints(trial, [-0.5, -0.5, -0.5])
    trial_artifacts(study, trial)
    md = studies.download_bytes(study, study._storage.get_trial(trial._trial_id),
                                "report.md").decode()
    assert (f"| predicted before training | {fmt.acc(0.8123)} int8 accuracy (standard deviation "
            f"{fmt.acc(0.031)}), chosen among 8 children{origin} |") in md
