"""The benchmark report pairs each reference with the tinynas front of the same seed and board,
and computes hypervolumes from the models that fit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tinynas.boards import load_board
from tinynas.hypervolume import Point, front_hypervolume

# The benchmark lives beside the package, not in it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.search_quality.report import reference_table, selection_table  # noqa: E402
from bench.search_quality.summary import cells  # noqa: E402

BOARD = "nucleo_l432kc"


def _trial(number, accuracy, ram, feasible=True, **extra):
    return {"number": number, "state": "COMPLETE", "feasible": feasible, "trained": True,
            "accuracy_int8": accuracy, "estimated_ram_bytes": ram,
            "estimated_flash_bytes": 100_000, "estimated_latency_ms": 10.0, "cpu_s": 10.0,
            **extra}


def _search(sampler, seed, trials):
    return {"kind": "search", "dataset": "digits", "board": BOARD, "seed": seed,
            "sampler": sampler, "trials": trials, "wall_s": 100.0, "cpu_s": 40.0}


def _reference(seed, accuracy, ram):
    return {"kind": "reference", "dataset": "digits", "reference": "keras_mnist_cnn",
            "seed": seed, "epochs": 5, "accuracy_int8": accuracy,
            "boards": {BOARD: {"ram_bytes": ram, "flash_bytes": 90_000, "latency_ms": 20.0,
                               "fits": True}}}


def test_references_meet_the_front_of_their_own_seed():
    results = {
        "search/t4-e5/digits/nucleo_l432kc/nsga2/s0": _search("nsga2", 0, [
            _trial(0, 0.95, 2000), _trial(1, 0.99, 60_000, feasible=False)]),
        "search/t4-e5/digits/nucleo_l432kc/nsga2/s1": _search("nsga2", 1, [
            _trial(0, 0.80, 2000)]),
        "reference/e5/digits/keras_mnist_cnn/s0": _reference(0, 0.94, 4000),
        "reference/e5/digits/keras_mnist_cnn/s1": _reference(1, 0.94, 4000),
        "reference/e9/digits/keras_mnist_cnn/s0": _reference(0, 0.10, 9999),
    }
    (cell,) = cells(results)
    assert (cell.setting, cell.dataset, cell.board.name) == ("t4-e5", "digits", BOARD)
    verdicts = cell.verdicts()["keras_mnist_cnn"]
    assert [(seed, v.met) for seed, v, _ in verdicts] == [(0, True), (1, False)]
    assert verdicts[0][1].how == "half the RAM"
    # The report names seed 1's closest miss: 0.80 at 2000 B against the reference's 0.94.
    row = next(line for line in reference_table([cell]).splitlines()
               if "keras_mnist_cnn" in line)
    assert "s1: 0.800 @ 2.0 KB (-0.140)" in row and "s0:" not in row


def test_hypervolume_uses_the_converted_models_figures_and_only_what_fits():
    board = load_board(BOARD)
    over = _trial(2, 0.99, 1000, tflite_ram_bytes=board.ram_limit + 1,
                  tflite_flash_bytes=1000, tflite_latency_ms=1.0)
    results = {"search/t3-e5/digits/nucleo_l432kc/random/s0": _search("random", 0, [
        _trial(0, 0.9, 4000), _trial(1, 0.5, 100, feasible=False), over])}
    (cell,) = cells(results)
    (outcome,) = cell.searches["random"]
    expected = front_hypervolume([Point(0.9, 4000, 100_000, 10.0)], board)
    assert outcome.hypervolume == pytest.approx(expected)
    assert (outcome.trials, outcome.trained, outcome.over_limits) == (3, 3, 1)
    assert outcome.selection is None, "a search without validation accuracies chose on test"
    assert outcome.curve[-1] == (pytest.approx(30.0), pytest.approx(expected))


def test_a_front_chosen_on_validation_is_judged_on_test():
    board = load_board(BOARD)
    # Trial 1 is the best on test but not on validation; trial 0 beats it there at less RAM.
    trials = [_trial(0, 0.90, 2000, accuracy_int8_val=0.93),
              _trial(1, 0.97, 3000, accuracy_int8_val=0.91),
              _trial(2, 0.80, 1000, accuracy_int8_val=0.85)]
    results = {"search/t3-e5/digits/nucleo_l432kc/nsga2/s0": _search("nsga2", 0, trials),
               "reference/e5/digits/keras_mnist_cnn/s0": _reference(0, 0.95, 4000)}
    (cell,) = cells(results)
    (outcome,) = cell.searches["nsga2"]
    assert [p.label for p in outcome.front] == ["trial 0", "trial 2"]
    assert [p.accuracy for p in outcome.front] == [0.90, 0.80]
    assert outcome.best_accuracy == 0.90
    expected = front_hypervolume([Point(0.90, 2000, 100_000, 10.0),
                                  Point(0.80, 1000, 100_000, 10.0)], board)
    assert outcome.hypervolume == pytest.approx(expected)
    chosen = outcome.selection
    assert chosen is not None
    assert (chosen.chosen_val, chosen.chosen_test, chosen.best_test) == (0.93, 0.90, 0.97)
    assert chosen.hypervolume_test_chosen > outcome.hypervolume
    row = next(line for line in selection_table([cell]).splitlines() if "| nsga2 |" in line)
    assert chosen.mean_gap == pytest.approx((0.03 - 0.06 + 0.05) / 3)
    assert "| 0.930 | 0.900 | +0.030 | +0.007 | 0.970 |" in row
    # Judged on test, trial 1 would beat the reference (0.97 at 3000 B, 2 points more within
    # its RAM); the search did not choose it, so the rule is missed.
    ((_, verdict, _),) = cell.verdicts()["keras_mnist_cnn"]
    assert not verdict.met
