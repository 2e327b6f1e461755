"""What a report says about a study, read from the study's and trials' attributes.

Nothing here draws or formats; the figures are computed once and both the plots and the tables
use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinynas import study as studies
from tinynas.folds import FOLD_TRIALS_KEY, FOLDS_KEY

if TYPE_CHECKING:
    import optuna

#: Resources limited by the board: (objective name, label, unit).
RESOURCES = (("ram", "RAM", "B"), ("flash", "flash", "B"), ("latency", "latency", "ms"))


@dataclass(frozen=True)
class Limits:
    """The share of a board's RAM, flash and time a model may use."""

    board: str
    ram: float
    flash: float
    latency: float

    def of(self, resource: str) -> float:
        """The limit of ``"ram"``, ``"flash"`` or ``"latency"``."""
        return float(getattr(self, resource))


def board_limits(study_attrs: dict[str, Any]) -> Limits | None:
    """The limits recorded with the study's board, or None when it stores no board."""
    board = study_attrs.get("board") or {}
    if "ram_bytes" not in board:
        return None
    return Limits(board=str(board.get("name", "board")),
                  ram=float(board["ram_bytes"] - board.get("ram_reserve_bytes", 0)),
                  flash=float(board["flash_bytes"] - board.get("flash_reserve_bytes", 0)),
                  latency=float(board.get("latency_ms") or 0.0))


def resource_value(attrs: dict[str, Any], resource: str) -> float:
    """A trial's estimated use of one resource (0 when it was not estimated)."""
    return float(attrs.get(studies.OBJECTIVES[resource][1]) or 0.0)


def usage(attrs: dict[str, Any], limits: Limits) -> dict[str, float]:
    """Share of each limit a trial uses (1.0 = exactly at the limit)."""
    return {name: resource_value(attrs, name) / limits.of(name)
            for name, _, _ in RESOURCES if limits.of(name) > 0}


@dataclass(frozen=True)
class TrialPoint:
    """One finished trial as the report sees it."""

    number: int
    attrs: dict[str, Any]
    feasible: bool
    trained: bool
    pareto: bool
    #: The user attribute of the int8 accuracy the study selects on (its accuracy objective).
    selection: str = "accuracy_int8"

    @property
    def accuracy(self) -> float | None:
        """int8 accuracy the study selects on (what its front and hypervolume are made of), or
        None when the trial was not trained."""
        return float(self.attrs[self.selection]) if self.trained else None

    @property
    def test_accuracy(self) -> float | None:
        """int8 accuracy on the test split, or None when the trial was not trained."""
        return float(self.attrs["accuracy_int8"]) if self.trained else None

    def value(self, resource: str) -> float:
        """Estimated use of ``resource``."""
        return resource_value(self.attrs, resource)


@dataclass(frozen=True)
class StudyFacts:
    """Everything the study report shows."""

    name: str
    attrs: dict[str, Any]
    limits: Limits | None
    objectives: tuple[str, ...]
    points: list[TrialPoint]
    failed: int
    hypervolume: list[tuple[int, float]]

    @property
    def trained(self) -> list[TrialPoint]:
        """Trials that were trained, in trial order."""
        return [p for p in self.points if p.trained]

    @property
    def pareto(self) -> list[TrialPoint]:
        """Feasible Pareto-optimal trained trials, most accurate first."""
        front = [p for p in self.points if p.pareto]
        return sorted(front, key=lambda p: (-(p.accuracy or 0.0), p.value("ram")))

    @property
    def split(self) -> str:
        """The split the study selects on: ``"validation"`` or ``"test"``."""
        return studies.selection_split(self.attrs)

    @property
    def selection(self) -> str:
        """What the search selects on, in words: ``"validation split"``, ``"validation split
        (5-fold cross-validated)"`` (``... cross-validated on the front)"`` where only the
        candidates that reached the front were) or ``"test split"``."""
        folds = int(self.attrs.get(FOLDS_KEY, 1))
        where = f"{self.split} split"
        if folds <= 1:
            return where
        front = self.attrs.get(FOLD_TRIALS_KEY) == "front"
        return f"{where} ({folds}-fold cross-validated{' on the front' if front else ''})"

    @property
    def best(self) -> TrialPoint | None:
        """The most accurate feasible model."""
        front = self.pareto
        return front[0] if front else None


def study_facts(study: optuna.Study) -> StudyFacts:
    """Read a study's trials into :class:`StudyFacts`."""
    from optuna.trial import TrialState

    attrs = dict(study.user_attrs)
    objectives = tuple(attrs.get("objectives") or studies.DEFAULT_OBJECTIVES)
    front = {t.number for t in studies.pareto_trials(study)}
    selection = studies.objective_attr("accuracy", attrs)
    points = [TrialPoint(number=t.number, attrs=dict(t.user_attrs),
                         feasible=studies.is_feasible(t),
                         trained="accuracy_int8" in t.user_attrs,
                         pareto=t.number in front, selection=selection)
              for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
    limits = board_limits(attrs)
    return StudyFacts(name=study.study_name, attrs=attrs, limits=limits, objectives=objectives,
                      points=points, failed=failed,
                      hypervolume=hypervolume_history(points, objectives, limits))


def hypervolume_history(points: list[TrialPoint], objectives: tuple[str, ...],
                        limits: Limits | None) -> list[tuple[int, float]]:
    """Hypervolume of the feasible trained trials after each trial, in trial order.

    Each objective is scaled to [0, 1]: accuracy as is, each resource as a share of its board
    limit, so the reference point is (accuracy 0, every limit) and the value is the share of that
    box the models found so far dominate. Without board limits, the largest value seen stands in.
    """
    import numpy as np
    from optuna._hypervolume import compute_hypervolume

    scale = {}
    for name in objectives:
        if name == "accuracy":
            continue
        limit = limits.of(name) if limits is not None else 0.0
        seen = max((p.value(name) for p in points), default=0.0)
        scale[name] = limit if limit > 0 else (seen or 1.0)
    history: list[tuple[int, float]] = []
    losses: list[list[float]] = []
    for p in sorted(points, key=lambda q: q.number):
        if p.trained and p.feasible:
            loss = [1.0 - (p.accuracy or 0.0) if name == "accuracy" else p.value(name) / scale[name]
                    for name in objectives]
            if all(v < 1.0 for v in loss):
                losses.append(loss)
        hv = (float(compute_hypervolume(np.array(losses), np.ones(len(objectives))))
              if losses else 0.0)
        history.append((p.number, hv))
    return history
