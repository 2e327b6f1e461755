"""Local worker processes and the pieces of the worker loop, on SQLite (no training)."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import optuna
import pytest

from tinynas.errors import StudyError
from tinynas.workers import (
    TrialCounts,
    audit_study,
    budget_in_flight,
    requeue_interrupted,
    run_local_workers,
    run_one_trial,
    stop_on_signals,
    stop_requested,
    trial_counts,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def plain_study(tmp_path: Path) -> tuple[str, optuna.Study]:
    """A real study that ``tinynas search`` did not create (no board, space or dataset)."""
    storage = f"sqlite:///{tmp_path}/s.db"
    study = optuna.create_study(study_name="plain", storage=storage)
    study.set_user_attr("artifact_dir", str(tmp_path / "artifacts"))
    return storage, study


def test_workers_that_stop_with_an_error_are_reported_in_one_line(plain_study) -> None:
    storage, _ = plain_study
    with pytest.raises(StudyError) as exc:
        run_local_workers(storage, "plain", trials=2, workers=2, timeout=60)
    message = str(exc.value)
    assert "\n" not in message
    assert "workers stopped with 0 of 2 complete trials: worker 0 stopped with an error" in message
    assert "was not created by tinynas search" in message
    log_dir = Path(message.rsplit("(logs in ", 1)[1].rstrip(")"))
    assert (log_dir / "worker-1.log").is_file()
    shutil.rmtree(log_dir)


@pytest.mark.parametrize("workers,trials,expect", [(0, 2, "--workers"), (2, 0, "--trials")])
def test_bad_counts(plain_study, workers: int, trials: int, expect: str) -> None:
    storage, _ = plain_study
    with pytest.raises(StudyError, match=expect):
        run_local_workers(storage, "plain", trials=trials, workers=workers)


def test_budget_in_flight() -> None:
    assert budget_in_flight(TrialCounts(complete=3, running=1, waiting=0), trials=4)
    assert not budget_in_flight(TrialCounts(complete=3, running=0, waiting=0), trials=4)
    # A queued retry must be run even when the running trials fill the budget.
    assert not budget_in_flight(TrialCounts(complete=2, running=2, waiting=1), trials=4)


def test_an_interrupted_trial_is_failed_and_queued_with_its_candidate(plain_study) -> None:
    from optuna.trial import TrialState

    _, study = plain_study
    trial = study.ask()
    x = trial.suggest_float("x", 0.0, 1.0)
    queued = requeue_interrupted(study, trial._trial_id)
    assert study.get_trials()[trial.number].state == TrialState.FAIL
    assert trial_counts(study) == TrialCounts(complete=0, running=0, waiting=1)
    retry = study.ask()  # the queued candidate comes first
    assert retry.number == queued
    assert retry.suggest_float("x", 0.0, 1.0) == x
    assert study._storage.get_trial(retry._trial_id).system_attrs["retry_history"] == [
        trial.number]
    study.tell(retry, x)
    audit = audit_study(study)
    assert audit.count("COMPLETE") == 1 and audit.retried == [trial.number]


def test_a_trial_that_sampled_nothing_is_not_queued(plain_study) -> None:
    _, study = plain_study
    trial = study.ask()
    assert requeue_interrupted(study, trial._trial_id) is None
    assert trial_counts(study) == TrialCounts(complete=0, running=0, waiting=0)


def test_a_swallowed_ctrl_c_still_stops_the_worker_after_its_trial(plain_study) -> None:
    """Library code that catches the KeyboardInterrupt (a cleanup handler, a ``__del__``) must
    not let the worker go on to another trial: the trial ends as it would have, and the stop
    is raised once it has."""
    from optuna.trial import TrialState

    _, study = plain_study

    def swallowing(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            pass
        return x

    with stop_on_signals():
        with pytest.raises(KeyboardInterrupt):
            run_one_trial(study, swallowing, timeout=None)
        assert stop_requested()
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE]
    assert trial_counts(study) == TrialCounts(complete=1, running=0, waiting=0)
    with stop_on_signals():  # a new block starts without the old request
        assert not stop_requested()
