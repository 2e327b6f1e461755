"""Choosing among a trial's candidates (bred children and models drawn at random) the one
expected to add most to the front.

A child's RAM, flash and latency are known before training (the analytic estimate); only its
int8 accuracy is not. :class:`FrontChooser` predicts that accuracy from the study's trained
models (features: the estimate's MACs, parameters and arena, and the compression settings) and
scores each child by its expected hypervolume improvement: the mean, over the predicted accuracy
distribution, of how much the child would add to the hypervolume of the trained front
(board-normalized objectives, :mod:`tinynas.hypervolume`). The resource part is exact, so the
expectation is a one-dimensional integral, taken by Gauss-Hermite quadrature.

The prediction (:class:`AccuracyModel`) is made on the accuracy's logit, so that it stays within
(0, 1) and differences near 1 (0.95 against 0.99: five times fewer errors) weigh as they should;
a linear trend in the features carries it outside the trained models, where a Gaussian process
alone falls back to their mean; a Gaussian process fits what the trend leaves. Replayed on the
NSGA-II offspring of the 24-trial ``mixed_cnn`` searches of the search-quality benchmark (each
predicted from the models trained before it; ``python -m bench.search_quality predictions``),
the rank correlation of predicted and measured int8 accuracy rose from 0.55 to 0.62 on digits,
0.35 to 0.47 on fashion_mnist and 0.52 to 0.60 on kws_synth, against a Gaussian process on the
accuracy itself.

A child that fills a gap of the front scores high even at a modest predicted accuracy; one that a
trained model already dominates on every resource scores only by the chance that it is more
accurate. Before :data:`MIN_TRAINED` distinct trained models the prediction is not trusted and
the first child (the sampler's own) is kept. Models other workers are training join the front at
their predicted accuracy, so that concurrent trials do not all fill the same gap. When no child
is expected to add anything, the first of them (the sampler's own) is kept.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from tinynas.hypervolume import REFERENCE_POINT, Point, hypervolume, losses

if TYPE_CHECKING:
    import optuna

    from tinynas.boards import Board
    from tinynas.estimator import Estimate
    from tinynas.spaces import Compression

#: Distinct trained models needed before the prediction is used.
MIN_TRAINED = 4

#: Gauss-Hermite nodes of the expectation over the predicted accuracy.
QUADRATURE = 12

#: Accuracies are clipped to [EPSILON, 1 - EPSILON] before their logit is taken (a perfect or a
#: zero score would have none).
EPSILON = 0.005

#: Ridge penalty of the linear trend, on standardized features.
RIDGE = 1.0


@dataclass(frozen=True)
class Candidate:
    """What the chooser knows of a model before it is trained.

    Attributes:
        point: Its estimated resources (the accuracy field is unused).
        features: Numbers the accuracy is predicted from.
    """

    point: Point
    features: tuple[float, ...]


#: The candidate a set of Optuna parameters stands for (None when the parameters do not say).
Describe = Callable[[Mapping[str, Any]], "Candidate | None"]


def logit(accuracy: float | np.ndarray) -> np.ndarray:
    """The log-odds of an accuracy, clipped to [:data:`EPSILON`, 1 - :data:`EPSILON`] first."""
    a = np.clip(np.asarray(accuracy, dtype=float), EPSILON, 1.0 - EPSILON)
    return np.asarray(np.log(a / (1.0 - a)))


def sigmoid(value: float | np.ndarray) -> np.ndarray:
    """The accuracy a logit stands for (the inverse of :func:`logit` inside the clip)."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(value, dtype=float))))


def accuracy_of(logit_mean: np.ndarray, logit_std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The accuracy at a predicted logit's mean, and the logit's standard deviation carried to
    the accuracy to first order."""
    accuracy = sigmoid(logit_mean)
    return accuracy, accuracy * (1.0 - accuracy) * np.asarray(logit_std, dtype=float)


def expected_improvement(front: Sequence[Sequence[float]], candidate: Point, mean: float,
                         std: float, board: Board, objectives: Sequence[str]) -> float:
    """Expected hypervolume improvement of ``candidate`` over ``front`` when the logit of its
    accuracy is normally distributed (``mean``, ``std``: what :meth:`AccuracyModel.predict_logit`
    gives).

    Args:
        front: The trained models' losses (:func:`tinynas.hypervolume.losses`).
        candidate: The child's resources.
        mean: Predicted logit of the accuracy.
        std: Its standard deviation (0: certain).
        board: Normalizes the objectives.
        objectives: The study's objectives, in order.
    """
    reference = [REFERENCE_POINT] * len(objectives)
    base = hypervolume(front, reference)
    if std <= 0:
        logits, weights = np.array([mean]), np.array([1.0])
    else:
        nodes, weights = np.polynomial.hermite.hermgauss(QUADRATURE)
        logits = mean + math.sqrt(2.0) * std * nodes
        weights = weights / math.sqrt(math.pi)
    total = 0.0
    for accuracy, weight in zip(sigmoid(logits), weights, strict=True):
        point = losses(replace(candidate, accuracy=float(accuracy)), board, objectives)
        total += weight * max(0.0, hypervolume([*front, point], reference) - base)
    return float(total)


class AccuracyModel:
    """Regression of int8 accuracy on candidate features: a ridge-regularized linear trend of
    the accuracy's logit, and Gaussian-process regression of what the trend leaves.

    Args:
        features: One row of numbers per trained model (:func:`model_features`).
        accuracies: Their int8 accuracies.
        logit_scale: Fit the accuracy's logit (False: the accuracy itself).
        trend: Fit a linear trend under the Gaussian process (False: the process alone).
            ``logit_scale=False, trend=False`` is the model the chooser used before, kept so
            that the two can be measured side by side (``python -m bench.search_quality
            predictions``).
    """

    def __init__(self, features: Sequence[Sequence[float]], accuracies: Sequence[float], *,
                 logit_scale: bool = True, trend: bool = True):
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        x = np.asarray(features, dtype=float)
        y = np.asarray(accuracies, dtype=float)
        self._logit = logit_scale
        if logit_scale:
            y = logit(y)
        self._mean = x.mean(axis=0)
        self._scale = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        design = self._design(x)
        self._trend = np.zeros(design.shape[1])
        if trend:
            penalty = RIDGE * np.eye(design.shape[1])
            penalty[0, 0] = 0.0  # the intercept is not penalized
            self._trend = np.linalg.solve(design.T @ design + penalty, design.T @ y)
        kernel = (ConstantKernel(1.0, (1e-2, 1e2)) * Matern(1.0, (1e-2, 1e2), nu=2.5)
                  + WhiteKernel(0.1, (1e-4, 1.0)))
        self._gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2,
                                            random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence notices on a handful of points
            self._gp.fit(design[:, 1:], y - design @ self._trend)

    def _design(self, x: np.ndarray) -> np.ndarray:
        """Standardized features with a leading column of ones."""
        z = (x - self._mean) / self._scale
        return np.column_stack([np.ones(len(z)), z])

    def _fitted(self, features: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the fitted quantity (logit or accuracy) of each row."""
        design = self._design(np.asarray(features, dtype=float))
        residual, std = self._gp.predict(design[:, 1:], return_std=True)
        mean = design @ self._trend + np.asarray(residual, dtype=float)
        return mean, np.asarray(std, dtype=float)

    def predict_logit(self, features: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the predicted logit of each feature row's accuracy
        (for a model fitted on the accuracy itself, carried to the logit to first order)."""
        mean, std = self._fitted(features)
        if self._logit:
            return mean, std
        p = np.clip(mean, EPSILON, 1.0 - EPSILON)
        return logit(p), std / (p * (1.0 - p))

    def predict(self, features: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
        """Predicted accuracy of each feature row (the accuracy at the mean logit) and its
        standard deviation (the logit's, carried to the accuracy to first order)."""
        mean, std = self._fitted(features)
        return (mean, std) if not self._logit else accuracy_of(mean, std)


class FrontChooser:
    """Picks, among a trial's bred children, the one with the largest expected hypervolume
    improvement over the study's trained front.

    Args:
        describe: The candidate a full set of parameters stands for.
        board: Normalizes the objectives.
        objectives: The study's objectives, in order.
        min_trained: Distinct trained models needed before the prediction is used.
    """

    def __init__(self, describe: Describe, board: Board, objectives: Sequence[str],
                 min_trained: int = MIN_TRAINED):
        self._describe = describe
        self._board = board
        self._objectives = tuple(objectives)
        self._min_trained = min_trained
        self._known: dict[int, Candidate | None] = {}

    def __call__(self, study: optuna.Study,
                 children: Sequence[Mapping[str, Any]]) -> tuple[int, dict[str, float]]:
        """The index in ``children`` of the child to train, and what was expected of it
        (``predicted_accuracy``, ``predicted_std``, ``expected_gain``; empty when the first
        child is kept because the prediction is not trusted yet)."""
        trained = self.trained(study)
        if len(children) < 2 or len(trained) < self._min_trained:
            return 0, {}
        scored = [(i, c) for i, c in enumerate(map(self._describe, children)) if c is not None]
        if not scored:
            return 0, {}
        model = AccuracyModel([c.features for c, _ in trained], [a for _, a in trained])
        mean, std = model.predict_logit([c.features for _, c in scored])
        # Models other workers are training count at their predicted accuracy, so that two
        # workers do not both fill the same gap.
        running = self._running(study)
        believed: list[float] = (model.predict([c.features for c in running])[0].tolist()
                                 if running else [])
        front = [losses(replace(c.point, accuracy=float(a)), self._board, self._objectives)
                 for c, a in [*trained, *zip(running, believed, strict=True)]]
        gains = [expected_improvement(front, c.point, float(m), float(s), self._board,
                                      self._objectives)
                 for (_, c), m, s in zip(scored, mean, std, strict=True)]
        best = int(np.argmax(gains))
        accuracy, accuracy_std = accuracy_of(mean[best], std[best])
        return scored[best][0], {"predicted_accuracy": round(float(accuracy), 4),
                                 "predicted_std": round(float(accuracy_std), 4),
                                 "expected_gain": float(gains[best])}

    def _running(self, study: optuna.Study) -> list[Candidate]:
        """The models of the study's running trials whose parameters are drawn."""
        from optuna.trial import TrialState

        running = (self._describe(t.params) for t in
                   study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if t.params)
        return [c for c in running if c is not None]

    def trained(self, study: optuna.Study,
                before: int | None = None) -> list[tuple[Candidate, float]]:
        """Each distinct trained model of the study (reused twins left out; with ``before``,
        only trials numbered below it) with its int8 accuracy on the split the study selects on."""
        from tinynas.study import objective_attr, trained_trials

        accuracy = objective_attr("accuracy", study.user_attrs)
        out = []
        for t in trained_trials(study):
            if "reused_from" in t.user_attrs or (before is not None and t.number >= before):
                continue
            if t.number not in self._known:
                self._known[t.number] = self._describe(t.params)
            known = self._known[t.number]
            if known is not None:
                out.append((known, float(t.user_attrs[accuracy])))
        return out


def model_features(est: Estimate, compression: Compression) -> tuple[float, ...]:
    """The numbers :class:`AccuracyModel` predicts a model's accuracy from: its capacity (MACs,
    parameters, arena, on a log scale) and what compression takes from it (quantization-aware
    training, the sparsity pruning leaves, the bits clustering removes, distillation)."""
    sparsity = {"none": 0.0, "2:4": 0.5}.get(compression.pruning, compression.sparsity)
    lost_bits = 8.0 - math.log2(compression.clusters) if compression.clusters else 0.0
    return (math.log1p(est.macs), math.log1p(est.params), math.log1p(est.arena_bytes),
            float(compression.quantization == "qat"), sparsity, lost_bits,
            float(compression.distillation))


def candidate_of(est: Estimate, compression: Compression) -> Candidate:
    """What the chooser knows of a model from its estimate and its compression settings."""
    point = Point(accuracy=0.0, ram_bytes=int(est.arena_bytes), flash_bytes=int(est.flash_bytes),
                  latency_ms=float(est.latency_ms or 0.0))
    return Candidate(point=point, features=model_features(est, compression))
