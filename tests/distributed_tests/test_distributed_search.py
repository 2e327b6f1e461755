"""Several workers on one PostgreSQL study: the exact trial budget, every artifact kept once,
recovery of a worker killed mid-trial, and a clean Ctrl-C that a resumed search picks up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from tinynas.cli import main

from .tiny import TINY_SPACE, search_argv

pytestmark = pytest.mark.slow


def _study(storage: str, name: str):
    from tinynas.study import open_study

    return open_study(storage, name)


def _search_argv(storage: str, name: str, space: Path, artifacts: Path, trials: int,
                 workers: int) -> list[str]:
    return search_argv(storage, name, space, artifacts, trials, workers, timeout=240)


def _check_complete_trials(storage: str, name: str, trials: int) -> list:
    """Exactly ``trials`` complete trials, none left running or queued, and each complete
    trial has exactly one readable model.tflite of the size it recorded."""
    from optuna.trial import TrialState

    from tinynas.workers import audit_study

    study = _study(storage, name)
    audit = audit_study(study)
    assert audit.count("COMPLETE") == trials, audit.states
    assert audit.count("RUNNING") == 0 and audit.count("WAITING") == 0, audit.states
    assert audit.missing == [] and audit.duplicated == [], audit
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert all(t.user_attrs["trained"] for t in complete)
    models = [p for p in Path(study.user_attrs["artifact_dir"]).iterdir()
              if p.read_bytes()[4:8] == b"TFL3"]
    assert len(models) >= trials
    return complete


def test_four_workers_hold_the_trial_budget_exactly(pg_url, tmp_path, capsys,
                                                    fast_heartbeats) -> None:
    space = tmp_path / "tiny.toml"
    space.write_text(TINY_SPACE)
    trials = 6
    assert main(_search_argv(pg_url, "four", space, tmp_path / "artifacts", trials, 4)) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    complete = _check_complete_trials(pg_url, "four", trials)
    workers = Counter(t.user_attrs["worker"] for t in complete)
    assert len(workers) >= 2, workers  # the trials really were shared
    assert os.getpid() not in {int(w.rsplit(":", 1)[1]) for w in workers}

    # The audit notices a lost model file.
    from optuna.artifacts import get_all_artifact_meta

    from tinynas.workers import audit_study

    study = _study(pg_url, "four")
    meta = get_all_artifact_meta(complete[0], storage=study._storage)
    (Path(study.user_attrs["artifact_dir"]) / next(
        m.artifact_id for m in meta if m.filename == "model.tflite")).unlink()
    assert audit_study(study).missing == [complete[0].number]


def _default_sigint() -> None:
    # A shell starting the tests in the background ignores SIGINT, and children inherit that;
    # the search is run as from a terminal, where Ctrl-C reaches it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _spawn(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tinynas", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            preexec_fn=_default_sigint)


def _retry_history(trial) -> list[int]:
    return trial.system_attrs.get("retry_history", [])


def _wait_for(storage: str, name: str, accept, what: str, timeout: float = 300):
    """Poll the study until ``accept(trial)`` holds for a trial, and return that trial."""
    from tinynas.errors import StudyError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            trials = _study(storage, name).get_trials()
        except StudyError:  # the search has not created the study yet
            trials = []
        for trial in trials:
            if accept(trial):
                return trial
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout} s")


def _training(trial) -> bool:
    """Past the estimate and training (the signature is set just before training starts)."""
    return trial.state.name == "RUNNING" and "signature" in trial.user_attrs


@pytest.fixture(scope="module")
def crash_scenario(tmp_path_factory, pg_server):
    """``search --workers 2``: one worker is SIGKILLed mid-trial, then the search gets Ctrl-C
    mid-trial and is resumed."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TINYNAS_HEARTBEAT_INTERVAL", "1")
    mp.setenv("TINYNAS_HEARTBEAT_GRACE", "4")
    tmp = tmp_path_factory.mktemp("crash")
    storage = pg_server.create_database("crash")
    space = tmp / "tiny.toml"
    # Trials long enough that Ctrl-C reliably lands mid-trial even on a loaded machine, and
    # that no worker finishes a queued trial in the seconds the search takes to stop.
    space.write_text(TINY_SPACE.replace("epochs = 1", "epochs = 24")
                     .replace("patience = 1", "patience = 24"))
    out: dict = {"storage": storage}
    spawned: list[subprocess.Popen[str]] = []
    try:
        search = _spawn(_search_argv(storage, "crash", space, tmp / "artifacts", 5, 2))
        spawned.append(search)
        victim = _wait_for(storage, "crash", _training, "trial training")
        os.kill(int(victim.user_attrs["worker"].rsplit(":", 1)[1]), signal.SIGKILL)
        out["killed_at"] = datetime.now()
        out["victim"] = victim.number
        out["victim_failed"] = _wait_for(storage, "crash", lambda t: t.number == victim.number
                                         and t.state.name == "FAIL", "failed victim")
        # Ctrl-C must land mid-trial: a trial that started after the kill, not the surviving
        # worker's, which may finish in the moment the signal takes to arrive.
        older = {t.number for t in _study(storage, "crash").get_trials()
                 if t.state.name == "RUNNING"}
        out["interrupted"] = _wait_for(storage, "crash",
                                       lambda t: _training(t) and t.number not in older,
                                       "trial training after the kill").number
        search.send_signal(signal.SIGINT)
        _, out["interrupted_err"] = search.communicate(timeout=90)
        out["interrupted_code"] = search.returncode
        out["after_interrupt"] = _study(storage, "crash").get_trials()
        resumed = _spawn(_search_argv(storage, "crash", space, tmp / "artifacts", 5, 1))
        spawned.append(resumed)
        _, out["resumed_err"] = resumed.communicate(timeout=240)
        out["resumed_code"] = resumed.returncode
        yield out
    finally:
        for process in spawned:  # after a failed step: its workers die with it
            if process.poll() is None:
                process.kill()
                process.communicate()
        mp.undo()


def test_killed_worker_trial_fails_in_bounded_time_and_is_retried(crash_scenario) -> None:
    from optuna.trial import TrialState

    s = crash_scenario
    victim = s["victim_failed"]
    # Grace 4 s; the surviving worker looks when its own trial ends (seconds here), so the
    # bound is the grace plus one trial.
    assert (victim.datetime_complete - s["killed_at"]).total_seconds() < 60
    assert s["resumed_code"] == 0, s["resumed_err"]
    complete = _check_complete_trials(s["storage"], "crash", 5)
    retries = [t for t in complete if s["victim"] in _retry_history(t)]
    assert len(retries) == 1 and retries[0].params == victim.params
    assert _study(s["storage"], "crash").get_trials()[s["victim"]].state == TrialState.FAIL


def test_ctrl_c_marks_the_trial_and_the_search_resumes_with_it(crash_scenario) -> None:
    from optuna.trial import TrialState

    s = crash_scenario
    err = s["interrupted_err"]
    assert s["interrupted_code"] == 130, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert lines[-1] == "tinynas search: interrupted"
    # The worker's own line, relayed by the search.
    assert any(line.startswith(f"trial {s['interrupted']} interrupted; its candidate is queued "
                               "as trial ") for line in lines), err
    before = s["after_interrupt"]
    assert Counter(t.state for t in before)[TrialState.RUNNING] == 0
    stopped = before[s["interrupted"]]
    assert stopped.state == TrialState.FAIL
    assert stopped.user_attrs["fail_reason"] == "interrupted"
    queued = [t for t in before if s["interrupted"] in _retry_history(t)]
    assert [t.state for t in queued] == [TrialState.WAITING]

    assert s["resumed_code"] == 0, s["resumed_err"]
    complete = _check_complete_trials(s["storage"], "crash", 5)
    resumed = [t for t in complete if s["interrupted"] in _retry_history(t)]
    assert len(resumed) == 1 and resumed[0].params == stopped.params
    assert "fail_reason" not in resumed[0].user_attrs
