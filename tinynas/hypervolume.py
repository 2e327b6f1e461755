"""Comparing fronts on one board: hypervolume, Pareto dominance, and the reference-model check.

Objectives are normalized by the board so that every axis is a loss in ``[0, 1]`` inside the
board's limits:

* ``accuracy``: ``1 - int8 accuracy``;
* ``ram``: arena bytes / the board's RAM limit (:attr:`tinynas.boards.Board.ram_limit`);
* ``flash``: flash bytes / the board's flash limit;
* ``latency``: latency / the board's latency budget.

The reference point is :data:`REFERENCE_POINT`, ``1`` on every axis: accuracy 0 and every
resource exactly at the board's limit. The hypervolume is therefore the share of the box
between a perfect model (accuracy 1, no resources) and the worst model that still fits which the
front dominates; 1 is unreachable, 0 means nothing fits. A point over a limit dominates nothing
inside the box and adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tinynas.boards import Board

#: Every objective the search knows, in its default order.
OBJECTIVES = ("accuracy", "ram", "flash", "latency")
#: The normalized reference point's value on every axis.
REFERENCE_POINT = 1.0
#: Accuracy gain (absolute) that counts as clearly higher for :func:`beats_reference`: two
#: percentage points, one to nine test samples on the built-in datasets' test splits.
CLEAR_MARGIN = 0.02


@dataclass(frozen=True)
class Point:
    """One model as the comparison sees it.

    Attributes:
        accuracy: int8 test accuracy in ``[0, 1]``.
        ram_bytes: Tensor arena.
        flash_bytes: Model plus runtime code.
        latency_ms: Latency of one inference on the board.
        label: What the point is (a trial number, a reference name), for reports.
    """

    accuracy: float
    ram_bytes: int
    flash_bytes: int
    latency_ms: float
    label: str = ""

    def fits(self, board: Board) -> bool:
        """Whether the model stays within every limit of ``board``."""
        return (self.ram_bytes <= board.ram_limit and self.flash_bytes <= board.flash_limit
                and self.latency_ms <= board.latency_ms)


def losses(point: Point, board: Board, objectives: Sequence[str] = OBJECTIVES) -> list[float]:
    """``point`` as losses normalized by ``board`` (see the module's description).

    Raises:
        ValueError: An objective is not one of :data:`OBJECTIVES`.
    """
    values = {"accuracy": 1.0 - point.accuracy,
              "ram": point.ram_bytes / board.ram_limit,
              "flash": point.flash_bytes / board.flash_limit,
              "latency": point.latency_ms / board.latency_ms}
    unknown = [o for o in objectives if o not in values]
    if unknown:
        raise ValueError(f"objectives must be among {OBJECTIVES}, got {unknown}")
    return [values[o] for o in objectives]


def hypervolume(loss_points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """Exact hypervolume dominated by ``loss_points`` (all minimized) up to ``reference``.

    Points that do not dominate the reference on every axis add nothing and are dropped first,
    so the result is defined for any set of points.

    Args:
        loss_points: Points of one dimension, any number (dominated ones allowed).
        reference: The reference point, of the same dimension.

    Returns:
        The volume of the union of the boxes ``[p, reference]``.

    Raises:
        ValueError: The points and the reference differ in dimension.
    """
    # WFG (While et al. 2012) as Optuna implements it: exact in any dimension. It is a private
    # module of the pinned Optuna release; tests/quality_tests pin its results on hand cases.
    from optuna._hypervolume import compute_hypervolume

    ref = np.asarray(reference, dtype=float)
    if not len(loss_points):
        return 0.0
    pts = np.asarray(loss_points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != ref.size:
        raise ValueError(f"points must each have {ref.size} objectives like the reference "
                         f"point, got an array of shape {pts.shape}")
    inside = pts[np.all(pts < ref, axis=1)]
    if not len(inside):
        return 0.0
    return float(compute_hypervolume(inside, ref))


def front_hypervolume(points: Sequence[Point], board: Board,
                      objectives: Sequence[str] = OBJECTIVES) -> float:
    """Hypervolume of ``points`` on ``board`` in the normalized objectives, between 0 and 1."""
    return hypervolume([losses(p, board, objectives) for p in points],
                       [REFERENCE_POINT] * len(objectives))


def dominates(a: Point, b: Point, objectives: Sequence[str] = OBJECTIVES) -> bool:
    """Pareto dominance: ``a`` is at least as good as ``b`` on every objective and better on one.

    The comparison needs no board: dividing by a board's limits keeps every order.
    """
    raw = {"accuracy": (-a.accuracy, -b.accuracy), "ram": (a.ram_bytes, b.ram_bytes),
           "flash": (a.flash_bytes, b.flash_bytes), "latency": (a.latency_ms, b.latency_ms)}
    pairs = [raw[o] for o in objectives]
    return all(x <= y for x, y in pairs) and any(x < y for x, y in pairs)


def pareto_front(points: Sequence[Point], objectives: Sequence[str] = OBJECTIVES) -> list[Point]:
    """The points no other point dominates, most accurate first."""
    front = [p for p in points if not any(dominates(q, p, objectives) for q in points)]
    return sorted(front, key=lambda p: (-p.accuracy, p.ram_bytes))


@dataclass(frozen=True)
class Verdict:
    """How a front fares against one reference model.

    Attributes:
        winner: The front point that meets the goal, or None.
        how: ``"half the RAM"`` (at least the same accuracy with at most half the RAM),
            ``"higher accuracy"`` (at least :data:`CLEAR_MARGIN` more accuracy within the same
            RAM), or ``""`` when no point does.
        pareto: A front point that Pareto-dominates the reference on all four objectives, or
            None.
        nearest: Where the goal is missed, the most accurate front point with at most half the
            reference's RAM (the closest miss of the half-RAM clause), or None.
    """

    winner: Point | None
    how: str
    pareto: Point | None
    nearest: Point | None = None

    @property
    def met(self) -> bool:
        """Whether some front point meets the goal."""
        return self.winner is not None


def beats_reference(front: Sequence[Point], reference: Point,
                    margin: float = CLEAR_MARGIN) -> Verdict:
    """Check the goal against one reference model.

    A front point meets it with at least the reference's int8 accuracy at no more than half its
    RAM, or with at least ``margin`` more accuracy at no more than its RAM. Among the points that
    do, the one with the least RAM is reported (ties: the most accurate).

    Args:
        front: The search's models that fit the board.
        reference: The reference model.
        margin: Absolute accuracy gain that counts as clearly higher.

    Returns:
        The verdict, with the four-objective Pareto dominance alongside.
    """
    winners = []
    for p in front:
        if p.accuracy >= reference.accuracy and p.ram_bytes * 2 <= reference.ram_bytes:
            winners.append((p, "half the RAM"))
        elif p.accuracy >= reference.accuracy + margin and p.ram_bytes <= reference.ram_bytes:
            winners.append((p, "higher accuracy"))
    winners.sort(key=lambda w: (w[0].ram_bytes, -w[0].accuracy))
    pareto = min((p for p in front if dominates(p, reference)),
                 key=lambda p: (p.ram_bytes, -p.accuracy), default=None)
    if winners:
        return Verdict(winners[0][0], winners[0][1], pareto)
    nearest = max((p for p in front if p.ram_bytes * 2 <= reference.ram_bytes),
                  key=lambda p: (p.accuracy, -p.ram_bytes), default=None)
    return Verdict(None, "", pareto, nearest)
