"""Memory planners for the non-persistent part of the tensor arena.

A planner is given buffers (size, first and last time step they are used) and returns an offset
for each so that buffers alive at the same time never overlap. The interface mirrors TFLite
Micro's ``MicroMemoryPlanner`` (``AddBuffer`` and ``GetMaximumMemorySize``), and the two
implementations reproduce its two planners, so the arena predicted here is the arena TFLite Micro
lays out.

Time steps follow TFLite Micro's ``AllocationInfoBuilder``: graph inputs are created at step 0,
operator ``i`` runs at step ``i + 1``, an operator's outputs are created at its step and a tensor
stays alive until the step of its last reader; graph outputs stay alive to the last step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class Buffer:
    """A buffer to place.

    Attributes:
        size: Bytes (already rounded to the arena alignment by the caller).
        first: First time step the buffer is alive.
        last: Last time step the buffer is alive (inclusive).
    """

    size: int
    first: int
    last: int

    def overlaps(self, other: Buffer) -> bool:
        """Whether both buffers are alive at some common time step."""
        return not (self.first > other.last or other.first > self.last)


class MemoryPlanner(ABC):
    """Places buffers in one block of memory; a buffer's id is the order it was added in."""

    def __init__(self) -> None:
        self.buffers: list[Buffer] = []

    def add_buffer(self, size: int, first: int, last: int) -> int:
        """Add a buffer alive from step ``first`` to step ``last``; return its id.

        Raises:
            ValueError: A negative size or an empty lifetime.
        """
        if size < 0 or last < first:
            raise ValueError(f"buffer needs size >= 0 and first <= last, got {size=}, "
                             f"{first=}, {last=}")
        self.buffers.append(Buffer(size, first, last))
        return len(self.buffers) - 1

    @abstractmethod
    def offsets(self) -> list[int]:
        """The offset of each buffer, in the order they were added."""

    def max_size(self) -> int:
        """Bytes the plan needs: the highest end of any buffer."""
        return max((o + b.size for o, b in zip(self.offsets(), self.buffers, strict=True)),
                   default=0)


class LinearPlanner(MemoryPlanner):
    """Every buffer after the previous one, with no reuse (TFLite Micro's
    ``LinearMemoryPlanner``, used when all tensors must be preserved for debugging).

    Its size is the plain sum of all buffers: an upper bound for any plan.
    """

    def offsets(self) -> list[int]:
        """Offsets in order of addition, each right after the previous buffer."""
        result, offset = [], 0
        for b in self.buffers:
            result.append(offset)
            offset += b.size
        return result


class GreedyPlanner(MemoryPlanner):
    """TFLite Micro's ``GreedyMemoryPlanner``, step for step.

    1. Buffers are sorted by size, largest first; among equal sizes the last added comes first
       (TFLite Micro fills its sort array from the end and its bubble sort is stable).
    2. The largest buffer goes at offset 0.
    3. Each next buffer walks the already placed buffers in order of offset, looking only at
       those alive at the same time as itself, and takes the first gap between two of them that
       is large enough; if there is none it goes right after the last one it met.
    4. Placed buffers are kept sorted by offset; a buffer placed at an offset already taken by
       another (possible when their lifetimes do not overlap) goes after it in that order, which
       decides which one the next searches meet first.

    Placing big buffers first lets small ones fill the gaps that big ones leave, rather than
    fragmenting the arena with small buffers at low offsets.
    """

    #: Above this many buffers the search for overlapping buffers is vectorized.
    VECTORIZE_ABOVE = 64

    def offsets(self) -> list[int]:
        """The greedy plan's offsets, in the order buffers were added."""
        buffers = self.buffers
        # TFLite Micro fills its sort array from the end, then bubble-sorts it (stable), so
        # equal sizes are placed last-added first.
        order = sorted(reversed(range(len(buffers))), key=lambda i: -buffers[i].size)
        if len(buffers) > self.VECTORIZE_ABOVE:
            return self._offsets_vectorized(order)
        result = [0] * len(buffers)
        placed: list[int] = []  # ids by offset; equal offsets in order of placement
        for buffer_id in order:
            wanted = buffers[buffer_id]
            candidate = 0
            for other_id in placed:
                other = buffers[other_id]
                if not wanted.overlaps(other):
                    continue
                if result[other_id] - candidate >= wanted.size:
                    break
                candidate = max(candidate, result[other_id] + other.size)
            result[buffer_id] = candidate
            position = len(placed)
            while position and result[placed[position - 1]] > candidate:
                position -= 1
            placed.insert(position, buffer_id)
        return result

    def _offsets_vectorized(self, order: list[int]) -> list[int]:
        """The same search, with the buffers overlapping in time found by numpy.

        TFLite Micro walks every placed buffer and skips those not alive at the same time; for
        graphs of thousands of short-lived tensors (an unrolled GRU) the skipping dominates, so
        here the overlapping ones are selected first and only they are walked, in the same order.
        """
        import numpy as np

        buffers = self.buffers
        n = len(buffers)
        firsts = np.array([b.first for b in buffers])
        lasts = np.array([b.last for b in buffers])
        sizes = np.array([b.size for b in buffers])
        placed_first = np.empty(n, dtype=np.int64)
        placed_last = np.empty(n, dtype=np.int64)
        placed_offset = np.empty(n, dtype=np.int64)
        placed_end = np.empty(n, dtype=np.int64)
        result = [0] * n
        for count, buffer_id in enumerate(order):
            wanted = buffers[buffer_id]
            alive = np.flatnonzero((placed_first[:count] <= wanted.last)
                                   & (placed_last[:count] >= wanted.first))
            candidate = 0
            if alive.size:
                # Placement order breaks ties between equal offsets, as in TFLite Micro's list.
                alive = alive[np.argsort(placed_offset[alive], kind="stable")]
                offsets, ends = placed_offset[alive], placed_end[alive]
                # The candidate before each buffer is the highest end met so far.
                before = np.maximum.accumulate(np.concatenate(([0], ends[:-1])))
                fits = np.flatnonzero(offsets - before >= wanted.size)
                candidate = int(before[fits[0]] if fits.size else max(before[-1], ends[-1]))
            result[buffer_id] = candidate
            placed_first[count] = firsts[buffer_id]
            placed_last[count] = lasts[buffer_id]
            placed_offset[count] = candidate
            placed_end[count] = candidate + sizes[buffer_id]
        return result


def planner(kind: str) -> MemoryPlanner:
    """A new planner by name: ``"greedy"`` (TFLite Micro's default) or ``"linear"``.

    Raises:
        ValueError: Unknown kind.
    """
    kinds: dict[str, type[MemoryPlanner]] = {"greedy": GreedyPlanner, "linear": LinearPlanner}
    if kind not in kinds:
        raise ValueError(f"unknown planner {kind!r}; available: {', '.join(sorted(kinds))}")
    return kinds[kind]()
