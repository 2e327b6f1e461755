"""Fixtures of the dataset tests: an isolated data home and a tiny synthesized keyword set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinynas.datasets._kws_synth import generate

#: Clips per class of the test keyword set: enough for one validation and one test clip.
TINY_PER_WORD = 6


@pytest.fixture(scope="session")
def kws_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data home holding a tiny ``kws_synth`` (generated once per test run)."""
    home = tmp_path_factory.mktemp("data_home")
    generate(home / "kws_synth", per_word=TINY_PER_WORD, seed=3)
    return home


@pytest.fixture(autouse=True)
def data_home(kws_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point generated data and feature caches at the shared test data home."""
    monkeypatch.setenv("TINYNAS_DATA", str(kws_home))
    return kws_home
