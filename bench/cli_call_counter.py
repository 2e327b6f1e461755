"""A pytest plugin for ``bench/distributed_bench.py``: counts the command-line invocations a
test run makes, by exit status, and writes them to the file named by ``TINYNAS_CLI_COUNTS``.

It replaces ``tinynas.cli.main`` before the test modules import it."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tinynas.cli

_counts: Counter[str] = Counter()
_main = tinynas.cli.main


def _counting_main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
    except SystemExit as exc:  # argparse refusals
        _counts[str(exc.code)] += 1
        raise
    _counts[str(code)] += 1
    return code


tinynas.cli.main = _counting_main


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Write the counts and the test outcome."""
    path = os.environ.get("TINYNAS_CLI_COUNTS")
    if path:
        Path(path).write_text(json.dumps({"by_exit_status": dict(_counts),
                                          "pytest_exit_status": int(exitstatus)}))
