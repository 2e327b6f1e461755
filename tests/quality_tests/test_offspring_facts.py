"""The benchmark reads back from a study database which trials enlarged the front and what
accuracy the chooser's model predicted for them."""

from __future__ import annotations

import sys
from pathlib import Path

import optuna
import pytest

from tinynas.boards import load_board
from tinynas.spaces import load_space

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.search_quality.offspring import offspring_table, study_facts  # noqa: E402

BOARD = load_board("arduino_nano33_ble")


def _study(path: Path, accuracies: list[float], warm: int, drawn: tuple[int, ...] = ()) -> None:
    """A study as a search leaves it: its attributes, and one mixed_cnn model per trial (the
    first ``warm`` of them warm-start trials, those numbered in ``drawn`` models the chooser
    took among random draws), each wider than the one before."""
    space = load_space("mixed_cnn")
    study = optuna.create_study(storage=f"sqlite:///{path}", study_name="s",
                                directions=["maximize", "minimize", "minimize", "minimize"])
    for key, value in {"board": BOARD.to_dict(), "space": "mixed_cnn",
                       "space_path": str(space.config.path), "input_shape": [8, 8, 1],
                       "class_names": [str(i) for i in range(10)], "dataset": "digits",
                       "objectives": ["accuracy", "ram", "flash", "latency"],
                       "sampler": "nsga2", "seed": 3, "latency_profile": None}.items():
        study.set_user_attr(key, value)
    template = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    space.suggest(template)
    space.suggest_compression(template)
    for i, accuracy in enumerate(accuracies):
        params = {**template.params, "convolution": True, "first_filters": 8 + 8 * (i % 4),
                  "blocks": 0, "pruning": "none", "clusters": 0, "distillation": False}
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions=template.distributions,
            values=[accuracy, 1.0, 1.0, 1.0],
            user_attrs={"accuracy_int8": accuracy, "trained": True,
                        **({"warm_start": True} if i < warm else {})},
            system_attrs={"offspring:drawn": int(i in drawn)} if i >= warm else {}))


def test_trials_that_enlarge_the_front_are_counted(tmp_path: Path) -> None:
    # Widths 8, 16, 24, 32, then 8, 16, 24, 32 again: the second round repeats the models, and
    # adds to the front only where it is more accurate than the first.
    db = tmp_path / "search_x" / "study.db"
    db.parent.mkdir()
    _study(db, [0.80, 0.85, 0.90, 0.95, 0.70, 0.90, 0.80, 0.99], warm=4, drawn=(4, 7))
    facts = study_facts(db)
    assert (facts.dataset, facts.board, facts.sampler, facts.seed) == (
        "digits", BOARD.name, "nsga2", 3)
    assert facts.trials == 4
    assert facts.enlarged == 2  # widths 16 (0.90 > 0.85) and 32 (0.99 > 0.95)
    assert (facts.drawn, facts.drawn_enlarged) == (2, 1)  # widths 8 (no) and 32 (yes)
    assert len(facts.predicted) == 4  # each after four distinct trained models
    assert [a for _, a in facts.predicted] == pytest.approx([0.70, 0.90, 0.80, 0.99])
    table = offspring_table([facts])
    assert "| digits | arduino_nano33_ble | nsga2 | 3 | 2 of 4 | 1 of 2 | 4 |" in table
