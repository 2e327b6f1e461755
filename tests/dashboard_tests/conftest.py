"""A finished study and a running ``tinynas dashboard`` on it, shared by the dashboard tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_process import start_dashboard, stop_dashboard

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "report_tests"))
from fabricated_study import fabricate_study  # noqa: E402


@pytest.fixture(scope="package")
def fab(tmp_path_factory) -> tuple[str, str, Path]:
    """Storage URL, study name and folder of a finished fabricated study."""
    folder = tmp_path_factory.mktemp("fab_dashboard")
    storage, name = fabricate_study(folder)
    return storage, name, folder


@pytest.fixture(scope="package")
def dashboard(fab) -> Iterator[str]:
    """The base address (``http://127.0.0.1:PORT``) of a dashboard serving the study."""
    proc, url = start_dashboard(fab[0], fab[2] / "dashboard.log")
    try:
        yield url.removesuffix("/dashboard/")
    finally:
        stop_dashboard(proc)
