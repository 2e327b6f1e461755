"""Hypervolume, dominance and the reference-model check, against values worked out by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tinynas.boards import Board
from tinynas.hypervolume import (
    CLEAR_MARGIN,
    Point,
    beats_reference,
    dominates,
    front_hypervolume,
    hypervolume,
    losses,
    pareto_front,
)

BOARD = Board(name="b", description="", core="cortex-m4", clock_mhz=64, ram_bytes=2000,
              flash_bytes=20000, ram_reserve_bytes=1000, flash_reserve_bytes=10000,
              latency_ms=100.0)


def test_two_points_in_2d():
    # Boxes 2x1 and 1x2 overlapping in a 1x1 square: 2 + 2 - 1.
    assert hypervolume([[1, 2], [2, 1]], [3, 3]) == pytest.approx(3.0)


def test_dominated_and_outside_points_add_nothing():
    base = hypervolume([[1, 2], [2, 1]], [3, 3])
    assert hypervolume([[1, 2], [2, 1], [2.5, 2.5], [0.5, 3], [4, 0]], [3, 3]) == \
        pytest.approx(base)
    assert hypervolume([[3, 0], [5, 5]], [3, 3]) == 0.0
    assert hypervolume([], [1, 1, 1]) == 0.0


def test_three_points_in_3d():
    # A 2x2x2 cube, a 3x1x1 bar sharing a 2x1x1 part of it, and a point inside the cube.
    assert hypervolume([[1, 1, 1], [0, 2, 2], [2, 2, 2]], [3, 3, 3]) == pytest.approx(9.0)


def test_staircase_in_3d():
    # Three slabs along z: heights 1, 2, 3 over nested squares 3x3, 2x2, 1x1 -> 9 + 4 + 1.
    points = [[0, 0, 2], [1, 1, 1], [2, 2, 0]]
    assert hypervolume(points, [3, 3, 3]) == pytest.approx(9 * 1 + 4 * 1 + 1 * 1)


def _counted(points: np.ndarray, ref: int) -> int:
    """Unit cells of the integer grid below ``ref`` dominated by some point."""
    cells = 0
    for cell in itertools.product(range(ref), repeat=points.shape[1]):
        cells += bool(np.any(np.all(points <= np.array(cell), axis=1)))
    return cells


@pytest.mark.parametrize("dims", [3, 4])
def test_matches_cell_counting(dims):
    rng = np.random.default_rng(dims)
    for _ in range(5):
        points = rng.integers(0, 5, size=(6, dims))
        assert hypervolume(points.tolist(), [5] * dims) == pytest.approx(_counted(points, 5))


def test_dimension_mismatch_is_refused():
    with pytest.raises(ValueError, match="2 objectives"):
        hypervolume([[1, 1, 1]], [2, 2])


def test_losses_are_normalized_by_the_board():
    p = Point(accuracy=0.75, ram_bytes=250, flash_bytes=5000, latency_ms=20.0)
    assert losses(p, BOARD) == pytest.approx([0.25, 0.25, 0.5, 0.2])
    assert losses(p, BOARD, ("ram", "accuracy")) == pytest.approx([0.25, 0.25])
    with pytest.raises(ValueError, match="energy"):
        losses(p, BOARD, ("energy",))


def test_front_hypervolume_is_a_share_of_the_board_box():
    p = Point(accuracy=0.75, ram_bytes=250, flash_bytes=5000, latency_ms=20.0)
    assert front_hypervolume([p], BOARD) == pytest.approx(0.75 * 0.75 * 0.5 * 0.8)
    assert front_hypervolume([p], BOARD, ("accuracy", "ram")) == pytest.approx(0.75 * 0.75)
    over = Point(accuracy=0.99, ram_bytes=1001, flash_bytes=10, latency_ms=1.0)
    assert not over.fits(BOARD) and p.fits(BOARD)
    assert front_hypervolume([p, over], BOARD) == pytest.approx(front_hypervolume([p], BOARD))


def test_dominance_and_front():
    a = Point(0.9, 100, 1000, 10.0, "a")
    b = Point(0.8, 100, 1000, 10.0, "b")
    c = Point(0.95, 300, 1000, 10.0, "c")
    assert dominates(a, b) and not dominates(b, a)
    assert not dominates(a, a)
    assert not dominates(a, c) and not dominates(c, a)
    assert dominates(c, a, ("accuracy",))
    assert [p.label for p in pareto_front([a, b, c])] == ["c", "a"]


REF = Point(accuracy=0.90, ram_bytes=1000, flash_bytes=8000, latency_ms=50.0, label="ref")


def test_half_the_ram_at_the_same_accuracy_meets_the_goal():
    small = Point(0.90, 500, 9000, 60.0, "small")
    verdict = beats_reference([small], REF)
    assert verdict.met and verdict.winner == small and verdict.how == "half the RAM"
    # More flash and latency than the reference: the goal holds, Pareto dominance does not.
    assert verdict.pareto is None


def test_clearly_higher_accuracy_within_the_same_ram_meets_the_goal():
    better = Point(0.90 + CLEAR_MARGIN, 1000, 8000, 50.0, "better")
    verdict = beats_reference([better], REF)
    assert verdict.met and verdict.how == "higher accuracy" and verdict.pareto == better


@pytest.mark.parametrize("point", [
    Point(0.899, 400, 100, 1.0),                       # less accurate, however small
    Point(0.90, 501, 100, 1.0),                        # same accuracy, not half the RAM
    Point(0.90 + CLEAR_MARGIN / 2, 1000, 100, 1.0),    # not clearly more accurate
    Point(0.99, 1001, 100, 1.0),                       # more accurate with more RAM
])
def test_points_that_miss_the_goal(point):
    verdict = beats_reference([point], REF)
    assert not verdict.met and verdict.winner is None and verdict.how == ""


def test_the_smallest_winner_is_reported():
    points = [Point(0.95, 900, 1, 1, "big"), Point(0.91, 450, 1, 1, "half"),
              Point(0.99, 200, 1, 1, "tiny"), Point(0.5, 10, 1, 1, "bad")]
    verdict = beats_reference(points, REF)
    assert verdict.winner is not None and verdict.winner.label == "tiny"
    assert verdict.pareto is not None and verdict.pareto.label == "tiny"
    assert not beats_reference([], REF).met


def test_a_miss_names_the_most_accurate_model_within_half_the_ram():
    points = [Point(0.88, 480, 1, 1, "close"), Point(0.86, 300, 1, 1, "smaller"),
              Point(0.89, 600, 1, 1, "over half"), Point(0.88, 500, 1, 1, "close but larger")]
    verdict = beats_reference(points, REF)
    assert not verdict.met and verdict.nearest is not None and verdict.nearest.label == "close"
    assert beats_reference([Point(0.95, 600, 1, 1)], REF).nearest is None
    assert beats_reference([Point(0.95, 400, 1, 1)], REF).nearest is None  # met: no miss
