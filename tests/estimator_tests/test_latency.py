"""Latency model: default profiles per core, calibration by least squares, persistence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from int8_graphs import conv_net, elementwise_chain, residual_net

from tinynas.boards import CORES
from tinynas.errors import BoardFileError, UnknownNameError
from tinynas.estimator import estimate_graph
from tinynas.latency import CoreProfile, default_profile, fit_profile, predict_cycles

GRAPHS = [conv_net(8, 12), conv_net(16, 8), residual_net(8, 32), residual_net(16, 16),
          elementwise_chain(5), elementwise_chain(20)]


@pytest.mark.parametrize("core", CORES)
def test_every_board_core_has_a_default_profile(core: str) -> None:
    profile = default_profile(core)
    assert profile.cycles_per_unit["conv"] > 0
    assert predict_cycles(profile, GRAPHS[0]) > 0


def test_faster_cores_need_fewer_cycles() -> None:
    cycles = {c: predict_cycles(default_profile(c), GRAPHS[0]) for c in CORES}
    assert cycles["cortex-m7"] < cycles["cortex-m4"] < cycles["cortex-m0plus"]


def test_reference_m4_convolutions_cost_about_8_cycles_per_mac() -> None:
    # MLPerf Tiny reference-kernel figure the defaults start from.
    assert default_profile("cortex-m4").cycles_per_unit["conv"] == pytest.approx(8.0)


def test_fit_recovers_constants_that_generated_the_measurements() -> None:
    truth = default_profile("cortex-m4")
    truth.cycles_per_unit = {k: v * 0.5 for k, v in truth.cycles_per_unit.items()}
    truth.cycles_per_unit["elementwise"] *= 3
    observations = [(g, predict_cycles(truth, g)) for g in GRAPHS]
    fitted = fit_profile("cortex-m4", observations, prior_weight=1e-6)
    for g, measured in observations:
        assert predict_cycles(fitted, g) == pytest.approx(measured, rel=0.02)
    before = max(abs(predict_cycles(default_profile("cortex-m4"), g) - m) / m
                 for g, m in observations)
    assert before > 0.2


def test_estimate_uses_a_given_profile() -> None:
    fast = dataclasses.replace(default_profile("cortex-m4"), invoke_cycles=0.0)
    fast.cycles_per_unit = {k: 0.0 for k in fast.cycles_per_unit}
    fast.overhead_per_op = {k: 1.0 for k in fast.overhead_per_op}
    assert estimate_graph(GRAPHS[0], profile=fast).cycles == len(GRAPHS[0].operators)


def test_profile_round_trips_through_a_file(tmp_path: Path) -> None:
    profile = fit_profile("cortex-m7", [(g, 1e5 * (i + 1)) for i, g in enumerate(GRAPHS)])
    path = tmp_path / "m7.json"
    profile.save(path)
    loaded = CoreProfile.load(path)
    assert loaded.to_dict() == profile.to_dict()
    assert loaded.observations == len(GRAPHS)


def test_bad_profiles_and_cores_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="available: .*cortex-m4"):
        default_profile("pentium")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(BoardFileError, match="bad.json: not a JSON core profile"):
        CoreProfile.load(bad)
    with pytest.raises(BoardFileError, match="no such profile file"):
        CoreProfile.load(tmp_path / "missing.json")
    with pytest.raises(ValueError):
        fit_profile("cortex-m4", [])
