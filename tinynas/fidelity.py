"""Multi-fidelity search: every candidate first trains for a fraction of its epochs, and only
promising ones get the full budget.

Successive halving needs a ranking, and a multi-objective study has none: a candidate that is
less accurate but much smaller may still belong on the front. So a candidate is promoted when
few of the candidates already probed at the same rung *dominate* it — reach at least its
validation accuracy with at most its RAM and latency. With reduction factor ``eta`` roughly the
best ``1/eta`` of each rung by domination count go on, the rest stop after the short probe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tinynas.errors import TinyNASError

FIDELITIES = ("full", "halving")


class NotPromoted(TinyNASError):
    """A candidate's short probe did not earn it the full training budget."""


@dataclass(frozen=True)
class Probe:
    """A candidate's figures at the short rung: validation accuracy and costs to minimize."""

    accuracy: float
    costs: tuple[float, ...]

    def dominates(self, other: Probe) -> bool:
        """At least as accurate and as cheap on every cost, and better on one."""
        no_worse = self.accuracy >= other.accuracy and all(
            a <= b for a, b in zip(self.costs, other.costs, strict=True))
        better = self.accuracy > other.accuracy or any(
            a < b for a, b in zip(self.costs, other.costs, strict=True))
        return no_worse and better


def promote(candidate: Probe, peers: Sequence[Probe], eta: int = 3, warmup: int = 3) -> bool:
    """Whether ``candidate`` earns the full budget among the earlier probes ``peers``.

    Args:
        candidate: The new probe.
        peers: Probes of earlier candidates at the same rung.
        eta: Reduction factor; about ``1/eta`` of candidates are promoted.
        warmup: Below this many peers every candidate is promoted (no basis to compare).

    Returns:
        True when the candidate's domination count is within the best ``ceil(n / eta)`` of the
        rung (ties promote).
    """
    if eta < 1:
        raise ValueError(f"`eta >= 1` must hold, but got {eta=}")
    if len(peers) < warmup:
        return True
    everyone = [*peers, candidate]
    counts = sorted(sum(o.dominates(p) for o in everyone) for p in everyone)
    keep = max(1, math.ceil(len(everyone) / eta))
    threshold = counts[keep - 1]
    mine = sum(o.dominates(candidate) for o in everyone)
    return mine <= threshold


def probe_epochs(epochs: int, eta: int = 3) -> int:
    """Epochs of the short probe for a full budget of ``epochs``."""
    return max(1, epochs // eta)
