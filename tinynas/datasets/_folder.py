"""Options a user-data folder may carry in a ``dataset.toml`` file."""

from __future__ import annotations

from pathlib import Path

from tinynas.errors import DatasetError
from tinynas.tomlfile import Section, load_toml

OPTIONS_FILE = "dataset.toml"


def folder_options(root: Path, table: str) -> Section:
    """The ``[table]`` of ``root/dataset.toml``, empty when the file or table is absent.

    Raises:
        DatasetError: The file is malformed or has tables other than ``table``.
    """
    path = root / OPTIONS_FILE
    if not path.is_file():
        return Section(path, table, {}, DatasetError)
    top = load_toml(path, DatasetError)
    section = top.section(table, required=False)
    top.check_unknown()
    return section
