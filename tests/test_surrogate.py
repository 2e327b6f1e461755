"""NSGA-II trains, among the children it breeds for a trial, the one expected to add most to the
front (``tinynas.surrogate``)."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from tinynas.boards import load_board
from tinynas.hypervolume import Point, front_hypervolume
from tinynas.pipeline import _fits, estimate_arch, make_search_sampler
from tinynas.spaces import SearchSpace, load_space
from tinynas.study import make_sampler, set_constraints
from tinynas.surrogate import AccuracyModel, FrontChooser, expected_improvement, logit, sigmoid

BOARD = load_board("nucleo_l432kc")
OBJECTIVES = ("accuracy", "ram", "flash", "latency")
SHAPE = (28, 28, 1)


@pytest.fixture(autouse=True)
def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _point(ram_share: float, accuracy: float = 0.0) -> Point:
    return Point(accuracy=accuracy, ram_bytes=int(ram_share * BOARD.ram_limit), flash_bytes=0,
                 latency_ms=0.0)


def test_expected_improvement_is_exact_where_the_gain_is_linear_in_accuracy() -> None:
    # With one objective besides accuracy and nothing trained, a model of accuracy a and RAM
    # share r adds a * (1 - r): linear in a, so the expectation is the mean accuracy times
    # (1 - r), here over a normally distributed logit (integrated on a fine grid).
    for std in (0.0, 0.5):
        gain = expected_improvement([], _point(0.25), float(logit(0.6)), std, BOARD,
                                    ("accuracy", "ram"))
        z = np.linspace(-8, 8, 20001)
        density = np.exp(-z ** 2 / 2) / math.sqrt(2 * math.pi)
        mean_accuracy = (0.6 if std == 0 else
                         float(np.sum(sigmoid(logit(0.6) + std * z) * density) * (z[1] - z[0])))
        assert gain == pytest.approx(mean_accuracy * 0.75, rel=1e-6)
    assert mean_accuracy < 0.6  # the logit's spread pulls the mean towards 0.5


def test_a_child_dominated_on_every_resource_gains_only_by_being_more_accurate() -> None:
    front = [[1 - 0.9, 0.2]]  # accuracy 0.9 at a fifth of the RAM
    objectives = ("accuracy", "ram")
    bigger = _point(0.4)
    at = float(logit(0.8))
    assert expected_improvement(front, bigger, at, 0.0, BOARD, objectives) == 0.0
    unsure = expected_improvement(front, bigger, at, 0.3, BOARD, objectives)
    assert 0.0 < unsure < expected_improvement(front, bigger, at, 1.0, BOARD, objectives)
    smaller = expected_improvement(front, _point(0.1), at, 0.0, BOARD, objectives)
    assert smaller == pytest.approx(0.8 * 0.1, abs=1e-4)  # the box below the front's RAM


def test_the_accuracy_model_follows_a_trend_it_was_fitted_on() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, size=(16, 3))
    y = 0.5 + 0.04 * x[:, 0] - 0.01 * x[:, 1]
    model = AccuracyModel(x.tolist(), y.tolist())
    test = rng.uniform(0, 10, size=(8, 3))
    mean, std = model.predict(test.tolist())
    truth = 0.5 + 0.04 * test[:, 0] - 0.01 * test[:, 1]
    assert np.corrcoef(mean, truth)[0, 1] > 0.9
    assert np.all(std >= 0)
    assert np.all((mean > 0) & (mean < 1))


def test_the_accuracy_model_carries_its_trend_beyond_the_trained_models() -> None:
    # Accuracy grows with capacity; a model smaller than every trained one is predicted less
    # accurate than all of them (a Gaussian process alone would return to their mean there),
    # and one larger than all of them more accurate, yet below 1.
    capacity = np.linspace(4, 8, 10)
    accuracy = sigmoid(-6 + 1.0 * capacity)
    model = AccuracyModel(capacity[:, None].tolist(), accuracy.tolist())
    (small, large), _ = model.predict([[1.0], [11.0]])
    assert small < accuracy.min() - 0.1
    assert accuracy.max() < large < 1.0


def _synthetic_search(space: SearchSpace, sampler: optuna.samplers.BaseSampler,
                      seed: int, trials: int) -> optuna.Study:
    """An estimator-only search whose 'int8 accuracy' grows with MACs and parameters (with
    noise) and falls with sparsity."""
    rng = np.random.default_rng(seed)
    study = optuna.create_study(directions=["maximize", "minimize", "minimize", "minimize"],
                                sampler=sampler)

    def objective(trial: optuna.Trial) -> tuple[float, float, float, float]:
        compression = space.suggest_compression(trial)
        arch = space.effective_arch(space.suggest(trial), compression)
        est = estimate_arch(space, arch, SHAPE, 10, BOARD, None)
        constraints = _fits(BOARD, est)
        set_constraints(trial, constraints)
        latency = est.latency_ms or 0.0
        if any(c > 0 for c in constraints):
            return 0.0, est.arena_bytes, est.flash_bytes, latency
        capacity = 0.1 * math.log1p(est.macs) * math.log1p(est.params)
        pruned = compression.sparsity if compression.pruning != "none" else 0.0
        accuracy = float(np.clip(0.95 - 0.5 / (1 + capacity) - 0.05 * pruned
                                 + rng.normal(0, 0.01), 0, 1))
        trial.set_user_attr("trained", True)
        trial.set_user_attr("accuracy_int8", accuracy)
        return accuracy, est.arena_bytes, est.flash_bytes, latency

    study.optimize(objective, n_trials=trials)
    return study


def _hypervolume(study: optuna.Study) -> float:
    return front_hypervolume([Point(*t.values) for t in study.trials
                              if "accuracy_int8" in t.user_attrs], BOARD)


def test_chosen_children_reach_a_larger_hypervolume() -> None:
    space = load_space("mixed_cnn")
    better = 0
    predicted, actual = [], []
    for seed in range(5):
        chosen = make_search_sampler("nsga2", seed, OBJECTIVES, space, BOARD, SHAPE, 10, None)
        plain = make_sampler("nsga2", seed, len(OBJECTIVES), signature=space.params_signature,
                             fits=chosen._fits)
        study = _synthetic_search(space, chosen, seed, 24)
        better += _hypervolume(study) > _hypervolume(_synthetic_search(space, plain, seed, 24))
        for t in study.trials:
            if "offspring:predicted_accuracy" in t.system_attrs:
                assert t.system_attrs["offspring:children"] > 1
                predicted.append(t.system_attrs["offspring:predicted_accuracy"])
                actual.append(t.user_attrs["accuracy_int8"])
    assert better >= 4  # 5 of 5 when measured; the first child alone is no better than chance
    assert len(predicted) >= 40  # most of the 16 offspring of each search were chosen
    assert np.corrcoef(predicted, actual)[0, 1] > 0.5


def test_the_first_child_is_kept_until_enough_models_are_trained() -> None:
    calls = []

    def describe(params: object) -> None:
        calls.append(params)

    chooser = FrontChooser(describe, BOARD, OBJECTIVES)
    study = optuna.create_study(directions=["maximize", "minimize", "minimize", "minimize"])
    for i in range(3):
        trial = study.ask()
        trial.set_user_attr("accuracy_int8", 0.5 + 0.1 * i)
        study.tell(trial, [0.5, 1, 1, 1])
    assert chooser(study, [{"a": 1}, {"a": 2}]) == (0, {})
    assert len(calls) == 3  # the three trained models were described, no child was


def test_a_model_another_worker_is_training_counts_at_its_predicted_accuracy() -> None:
    from tinynas.surrogate import Candidate

    rams = {i: 0.1 + 0.1 * i for i in range(9)}  # model i: 0.1 to 0.9 of the RAM

    def describe(params: dict) -> Candidate | None:
        if "id" not in params:
            return None
        share = rams[params["id"]]
        return Candidate(point=_point(share), features=(share,))

    objectives = ("accuracy", "ram")
    study = optuna.create_study(directions=["maximize", "minimize"])
    distribution = optuna.distributions.IntDistribution(0, 8)
    for i in (0, 2, 4, 6, 8):
        accuracy = 0.5 + 0.5 * rams[i]
        study.add_trial(optuna.trial.create_trial(
            params={"id": i}, distributions={"id": distribution}, values=[accuracy, rams[i]],
            user_attrs={"accuracy_int8": accuracy}))
    children = [{"id": 1}, {"id": 5}]  # each fills a gap of the front
    first, expected = FrontChooser(describe, BOARD, objectives)(study, children)
    assert expected["expected_gain"] > 0
    study.enqueue_trial(children[first])
    study.ask().suggest_int("id", 0, 8)  # another worker now trains that child
    second, _ = FrontChooser(describe, BOARD, objectives)(study, children)
    assert second == 1 - first
