"""Memory planners on hand-made lifetimes, including TFLite Micro's own planner test cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynas.planner import GreedyPlanner, LinearPlanner, MemoryPlanner, planner


def _plan(kind: str, buffers: list[tuple[int, int, int]]) -> MemoryPlanner:
    p = planner(kind)
    for size, first, last in buffers:
        p.add_buffer(size, first, last)
    return p


def test_buffers_alive_at_different_times_share_offset_zero() -> None:
    p = _plan("greedy", [(10, 0, 1), (20, 2, 3)])
    assert p.offsets() == [0, 0]
    assert p.max_size() == 20


def test_greedy_matches_tflite_micro_medium_case() -> None:
    # greedy_memory_planner_test.cc, TestGreedyMedium: expected offsets and size from TFLite Micro.
    p = _plan("greedy", [(10, 0, 1), (20, 1, 2), (30, 2, 3), (40, 3, 4), (50, 0, 1)])
    assert p.offsets() == [50, 70, 40, 0, 0]
    assert p.max_size() == 90


def test_greedy_matches_tflite_micro_overlap_case() -> None:
    p = _plan("greedy", [(100, 0, 1), (50, 2, 3), (20, 1, 2)])
    assert p.offsets() == [0, 0, 100]
    assert p.max_size() == 120


def test_small_buffer_fills_the_gap_a_finished_buffer_left() -> None:
    # 50 is freed after step 1, so the 30-byte buffer of steps 2-3 goes below the 40 one.
    p = _plan("greedy", [(50, 0, 1), (40, 0, 3), (30, 2, 3)])
    assert p.offsets() == [0, 50, 0]
    assert p.max_size() == 90


def test_equal_sizes_are_placed_last_added_first() -> None:
    # TFLite Micro fills its sort array from the end; its stable sort keeps that order.
    p = _plan("greedy", [(16, 0, 0), (16, 0, 0), (16, 0, 0)])
    assert p.offsets() == [32, 16, 0]


def test_linear_places_every_buffer_after_the_previous_one() -> None:
    p = _plan("linear", [(10, 0, 1), (20, 2, 3), (5, 0, 0)])
    assert p.offsets() == [0, 10, 30]
    assert p.max_size() == 35


def test_person_detection_lifetimes_plan_below_the_sum() -> None:
    # TestPersonDetectionModel: the 250 KB MobileNet's buffers, whose plain sum is 241,027 bytes.
    sizes = [9216, 3, 256, 2304, 2304, 2304, 1152] + [4608] * 11 + [2304, 9216, 9216, 9216, 4608,
             18432, 18432, 18432, 9216, 36864, 18432, 18432]
    times = [(0, 29)] + [(28 - i, 29 - i) for i in range(29)]
    buffers = [(s, f, last) for s, (f, last) in zip(sizes, times, strict=True)]
    greedy = _plan("greedy", buffers)
    assert sum(sizes) == 241027
    assert greedy.max_size() < 241027
    assert _plan("linear", buffers).max_size() == 241027
    _assert_no_overlap(greedy)


def test_unknown_planner_and_bad_buffers_are_refused() -> None:
    with pytest.raises(ValueError, match="available: greedy, linear"):
        planner("best")
    with pytest.raises(ValueError):
        GreedyPlanner().add_buffer(10, 3, 1)
    with pytest.raises(ValueError):
        LinearPlanner().add_buffer(-1, 0, 0)


def _assert_no_overlap(p: MemoryPlanner) -> None:
    offsets = p.offsets()
    for i, a in enumerate(p.buffers):
        for j, b in enumerate(p.buffers[:i]):
            if a.overlaps(b) and a.size and b.size:
                assert (offsets[i] + a.size <= offsets[j]
                        or offsets[j] + b.size <= offsets[i]), (i, j)


_BUFFERS = st.lists(st.tuples(st.integers(0, 500), st.integers(0, 12), st.integers(0, 6)),
                    min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(_BUFFERS)
def test_greedy_plans_are_valid_and_between_the_bounds(raw: list[tuple[int, int, int]]) -> None:
    buffers = [(size, first, first + length) for size, first, length in raw]
    greedy = _plan("greedy", buffers)
    _assert_no_overlap(greedy)
    peak_alive = max(sum(s for s, f, last in buffers if f <= t <= last)
                     for t in range(0, 20))
    assert peak_alive <= greedy.max_size() <= _plan("linear", buffers).max_size()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 64), st.integers(0, 30), st.integers(0, 8)),
                min_size=GreedyPlanner.VECTORIZE_ABOVE + 1, max_size=120))
def test_vectorized_search_places_exactly_like_the_plain_one(
        raw: list[tuple[int, int, int]]) -> None:
    # Many equal sizes and offsets, so that the tie-breaking order is exercised too.
    buffers = [(16 * (size // 16), first, first + length) for size, first, length in raw]
    plain = _plan("greedy", buffers)
    plain.VECTORIZE_ABOVE = len(buffers)  # type: ignore[misc]
    fast = _plan("greedy", buffers)
    assert fast.offsets() == plain.offsets()
