"""Studies on a real SQLite database: Pareto selection, constraints, failures, budgets."""

from __future__ import annotations

import optuna
import pytest

from tinynas import study as studies
from tinynas.errors import StudyError, TrainingError, UnknownNameError


def _fabricate(storage: str, rows: list[tuple[float, int, bool, bool]],
               val: list[float] | None = None, name: str = "s") -> optuna.Study:
    """A study whose trials have (accuracy, ram, feasible, trained); with ``val``, one
    validation accuracy per trial too, and the study selects on it."""
    study = optuna.create_study(study_name=name, storage=storage,
                                directions=["maximize", "minimize"])
    study.set_user_attr("objectives", ["accuracy", "ram"])
    if val is not None:
        study.set_user_attr(studies.SELECTION_KEY, "validation")
    for i, (acc, ram, feasible, trained) in enumerate(rows):
        trial = study.ask()
        trial.set_user_attr("estimated_ram_bytes", ram)
        trial.set_user_attr("estimated_flash_bytes", 1000)
        trial.set_user_attr("estimated_latency_ms", 1.0)
        trial.set_user_attr("macs", 1)
        trial.set_user_attr("params", 1)
        if trained:
            trial.set_user_attr("accuracy_int8", acc)
            if val is not None:
                trial.set_user_attr("accuracy_int8_val", val[i])
        studies.set_constraints(trial, [-0.5 if feasible else 0.2, -0.1, -0.1])
        selected = acc if val is None else val[i]
        study.tell(trial, [selected if trained else 0.0, ram])
    return study


def test_pareto_keeps_feasible_non_dominated(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    study = _fabricate(storage, [
        (0.90, 4000, True, True),    # 0: front
        (0.80, 2000, True, True),    # 1: front
        (0.85, 5000, True, True),    # 2: dominated by 0
        (0.99, 1000, False, True),   # 3: infeasible
        (0.00, 500, True, False),    # 4: not trained
        (0.95, 9000, True, True),    # 5: front
    ])
    front = studies.pareto_trials(study)
    assert [t.number for t in front] == [5, 0, 1]
    assert studies.best_trial(study).number == 5
    assert not studies.is_feasible(study.trials[3])
    assert study.trials[3].system_attrs["constraints"] == [0.2, -0.1, -0.1]
    assert study.trials[3].user_attrs["constraint_ram"] == 0.2


def test_a_candidate_is_dominated_only_by_a_feasible_trained_trial(tmp_path) -> None:
    study = _fabricate(f"sqlite:///{tmp_path}/s.db", [
        (0.90, 4000, True, True),    # 0
        (0.99, 1000, False, True),   # 1: infeasible, dominates nothing
        (0.95, 500, True, False),    # 2: not trained, dominates nothing
    ])

    def candidate(acc: float, ram: int) -> dict[str, float]:
        return {"accuracy_int8": acc, "estimated_ram_bytes": ram}

    assert studies.is_dominated(study, candidate(0.85, 5000))
    assert studies.is_dominated(study, candidate(0.90, 4001))
    assert not studies.is_dominated(study, candidate(0.90, 4000))   # equal: not dominated
    assert not studies.is_dominated(study, candidate(0.85, 3000))   # smaller
    assert not studies.is_dominated(study, candidate(0.91, 9000))   # more accurate


def test_a_study_that_selects_on_validation_chooses_its_front_by_it(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    rows = [(0.90, 4000, True, True),    # 0: validation 0.80, beaten by 1 on validation
            (0.80, 3000, True, True),    # 1: validation 0.85
            (0.95, 9000, True, True),    # 2: validation 0.82, beaten by 1 on validation
            (0.70, 1000, True, True)]    # 3: validation 0.60
    # A study without the attribute was created when the test split chose: it keeps that.
    legacy = _fabricate(storage, rows, name="legacy")
    assert studies.selection_split(legacy.user_attrs) == "test"
    assert studies.objective_attr("accuracy", legacy.user_attrs) == "accuracy_int8"
    assert [t.number for t in studies.pareto_trials(legacy)] == [2, 0, 1, 3]
    study = _fabricate(storage, rows, val=[0.80, 0.85, 0.82, 0.60])
    assert studies.objective_attr("accuracy", study.user_attrs) == "accuracy_int8_val"
    assert studies.objective_attr("ram", study.user_attrs) == "estimated_ram_bytes"
    assert [t.number for t in studies.pareto_trials(study)] == [1, 3]
    # The most accurate model by validation, though trial 2 scores more on test.
    assert studies.best_trial(study).number == 1


def test_best_trial_of_empty_study(tmp_path) -> None:
    study = _fabricate(f"sqlite:///{tmp_path}/s.db", [(0.0, 10, False, False)])
    with pytest.raises(StudyError, match="no feasible trained trial"):
        studies.best_trial(study)


def test_trial_model_errors(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    _fabricate(storage, [(0.0, 10, False, False)])
    with pytest.raises(StudyError, match="has no trial 7; trials: 0 to 0"):
        studies.trial_model(storage, "s", 7)
    with pytest.raises(StudyError, match="breaks the board limits and was not trained"):
        studies.trial_model(storage, "s", 0)
    with pytest.raises(StudyError, match="no study 'other'.*studies there: s"):
        studies.trial_model(storage, "other", 0)


def test_parse_objectives() -> None:
    assert studies.parse_objectives("accuracy, ram") == ("accuracy", "ram")
    with pytest.raises(UnknownNameError, match="available: accuracy, flash, latency, ram"):
        studies.parse_objectives("accuracy,speed")
    with pytest.raises(StudyError, match="distinct"):
        studies.parse_objectives("accuracy,accuracy")


def test_study_name_for_paths() -> None:
    assert studies.study_name_for("nucleo_l432kc", "search_spaces/ds_cnn.toml",
                                  "data/mine/") == "nucleo_l432kc-ds_cnn-mine"


@pytest.mark.slow
def test_failed_trial_is_recorded_and_search_goes_on_with_halving(tmp_path, monkeypatch) -> None:
    """A training failure (here injected: NaN loss) marks that trial failed with its reason;
    the next trial still runs."""
    import tinynas.train as train
    from tinynas.pipeline import SearchConfig, prepare, run

    real = train.train_candidate
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TrainingError("loss became NaN at epoch 1")
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "train_candidate", flaky)
    storage = f"sqlite:///{tmp_path}/s.db"
    ctx = prepare(SearchConfig(board="stm32h743zi", space="ds_cnn", dataset="digits", trials=1,
                               storage=storage, study_name="f", sampler="random", seed=3,
                               epochs=3, fidelity="halving"))
    run(ctx)
    trials = ctx.study.get_trials()
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(failed) == 1 and len(complete) == 1
    assert failed[0].user_attrs["fail_reason"] == "loss became NaN at epoch 1"
    # Multi-fidelity: the trained trial went through a 1-epoch probe and was promoted (warm-up).
    assert complete[0].user_attrs["promoted"] is True
    assert 0.0 <= complete[0].user_attrs["probe_accuracy"] <= 1.0


def test_board_nothing_fits_is_refused(tmp_path, write_file) -> None:
    from tinynas.errors import SearchSpaceError
    from tinynas.pipeline import SearchConfig, prepare

    board = write_file("tiny.toml", """
[board]
name = "tiny"
core = "cortex-m0plus"
clock_mhz = 16
ram_bytes = 2048
flash_bytes = 16384
[budget]
latency_ms = 1
""")
    with pytest.raises(SearchSpaceError) as err:
        prepare(SearchConfig(board=str(board), space="ds_cnn", dataset="digits", trials=1,
                             storage=f"sqlite:///{tmp_path}/s.db"))
    message = str(err.value)
    assert "cannot fit even the smallest ds_cnn architecture" in message
    assert "RAM" in message and "> 2048 B" in message
    assert not (tmp_path / "s.db").exists() or "tiny" not in str(optuna.get_all_study_names(
        f"sqlite:///{tmp_path}/s.db"))
