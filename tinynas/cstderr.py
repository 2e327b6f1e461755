"""Capture what C and C++ code writes to the process's standard error (file descriptor 2),
which Python's ``sys.stderr`` redirection cannot catch: the TFLite converter's progress lines,
TFLite Micro's allocation report."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Captured:
    """The text written to file descriptor 2 inside a :func:`capture_fd2` block."""

    text: str = ""


@contextmanager
def capture_fd2() -> Iterator[Captured]:
    """Redirect file descriptor 2 to a temporary file for the duration of the block.

    Yields:
        A :class:`Captured` whose ``text`` is filled in when the block ends (also on error).
    """
    captured = Captured()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", "replace")
