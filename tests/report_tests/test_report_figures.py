"""The figures behind the report: hypervolume history and board limits."""

from __future__ import annotations

import pytest

from tinynas.report._facts import Limits, TrialPoint, board_limits, hypervolume_history, usage

LIMITS = Limits(board="b", ram=1000.0, flash=4000.0, latency=100.0)


def _point(number: int, accuracy: float | None, ram: float, feasible: bool = True) -> TrialPoint:
    attrs = {"estimated_ram_bytes": ram, "estimated_flash_bytes": 400.0,
             "estimated_latency_ms": 10.0}
    if accuracy is not None:
        attrs["accuracy_int8"] = accuracy
    return TrialPoint(number=number, attrs=attrs, feasible=feasible,
                      trained=accuracy is not None, pareto=False)


def test_hypervolume_is_the_dominated_share_of_the_limit_box() -> None:
    points = [_point(0, None, 5000.0, feasible=False), _point(1, 0.5, 500.0),
              _point(2, 0.4, 600.0), _point(3, 0.8, 750.0)]
    history = hypervolume_history(points, ("accuracy", "ram"), LIMITS)
    assert [n for n, _ in history] == [0, 1, 2, 3]
    assert history[0][1] == 0.0
    assert history[1][1] == pytest.approx(0.5 * 0.5)
    assert history[2][1] == pytest.approx(0.25), "a dominated model adds nothing"
    # Two boxes: accuracy 0.5 within RAM share 0.5, plus accuracy 0.8 within 0.25.
    assert history[3][1] == pytest.approx(0.25 + 0.3 * 0.25)


def test_hypervolume_never_decreases_and_stays_in_the_box() -> None:
    points = [_point(i, 0.1 * (i % 7) + 0.2, 100.0 + 90 * (i % 5)) for i in range(12)]
    values = [v for _, v in hypervolume_history(points, ("accuracy", "ram"), LIMITS)]
    assert values == sorted(values)
    assert 0 < values[-1] <= 1


def test_limits_and_usage_come_from_the_stored_board() -> None:
    board = {"name": "x", "ram_bytes": 2048, "ram_reserve_bytes": 1024, "flash_bytes": 8192,
             "flash_reserve_bytes": 0, "latency_ms": 50.0}
    limits = board_limits({"board": board})
    assert limits == Limits(board="x", ram=1024.0, flash=8192.0, latency=50.0)
    shares = usage({"estimated_ram_bytes": 512, "estimated_flash_bytes": 8192,
                    "estimated_latency_ms": 75.0}, limits)
    assert shares == {"ram": 0.5, "flash": 1.0, "latency": 1.5}
    assert board_limits({}) is None
