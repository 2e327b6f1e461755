"""Promotion rule of multi-fidelity search."""

from __future__ import annotations

import pytest

from tinynas.fidelity import Probe, probe_epochs, promote


def test_dominance() -> None:
    assert Probe(0.9, (100, 1)).dominates(Probe(0.8, (200, 1)))
    assert not Probe(0.9, (100, 1)).dominates(Probe(0.9, (100, 1)))
    assert not Probe(0.95, (300, 1)).dominates(Probe(0.8, (200, 1)))


def test_warmup_promotes_everyone() -> None:
    assert promote(Probe(0.1, (1e9,)), [Probe(0.9, (1.0,))] * 2, warmup=3)


def test_dominated_candidate_stops() -> None:
    peers = [Probe(0.90, (100,)), Probe(0.85, (80,)), Probe(0.80, (60,)), Probe(0.95, (150,)),
             Probe(0.70, (40,))]
    # Dominated by four of the five peers: not in the best third.
    assert not promote(Probe(0.75, (120,)), peers)
    # On the front (smallest RAM seen): promoted although least accurate.
    assert promote(Probe(0.60, (30,)), peers)
    # Most accurate: promoted although largest.
    assert promote(Probe(0.97, (500,)), peers)


def test_eta_validation_and_probe_epochs() -> None:
    with pytest.raises(ValueError, match="eta >= 1"):
        promote(Probe(0.5, (1,)), [], eta=0)
    assert probe_epochs(20) == 6
    assert probe_epochs(2) == 1
