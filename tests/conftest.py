"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_file(tmp_path: Path):
    """Write text into a file under tmp_path and return its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return write


@pytest.fixture(scope="session")
def digits_study(tmp_path_factory) -> tuple[str, str, Path]:
    """A real 3-trial search on digits (random sampler, 3 epochs), shared read-only by the tests
    that need a finished study: (storage URL, study name, folder)."""
    from tinynas.cli import main

    folder = tmp_path_factory.mktemp("digits_study")
    storage = f"sqlite:///{folder}/studies.db"
    assert main(["search", "--board", "arduino_nano33_ble", "--space", "ds_cnn", "--dataset",
                 "digits", "--trials", "3", "--storage", storage, "--study", "e2e",
                 "--sampler", "random", "--seed", "1", "--epochs", "3"]) == 0
    return storage, "e2e", folder
