"""A finished study, fabricated once for the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from fabricated_study import fabricate_study


@pytest.fixture(scope="package")
def fab(tmp_path_factory) -> tuple[str, str, Path]:
    """Storage URL, study name and folder of a finished fabricated study."""
    folder = tmp_path_factory.mktemp("fab_report")
    storage, name = fabricate_study(folder)
    return storage, name, folder
