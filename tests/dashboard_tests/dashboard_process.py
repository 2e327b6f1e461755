"""Start and stop ``tinynas dashboard`` as a separate process, as a user runs it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _default_sigint() -> None:
    # A shell starting the tests in the background ignores SIGINT, and children inherit that.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_dashboard(storage: str, log: Path, timeout: float = 60.0
                    ) -> tuple[subprocess.Popen, str]:
    """Start ``tinynas dashboard`` on a free port; return the process and its address.

    Its stderr goes to ``log`` (a pipe nobody reads could fill up and stall the server).
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "tinynas", "dashboard", "--storage",
                                 storage, "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=err, text=True, env=env, preexec_fn=_default_sigint)
    deadline = time.monotonic() + timeout
    lines = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"(http://\S+/dashboard/)", line)
        if match:
            return proc, match.group(1)
    proc.kill()
    proc.communicate(timeout=10)
    raise AssertionError(f"dashboard did not start: {''.join(lines)} {log.read_text()}")


def stop_dashboard(proc: subprocess.Popen) -> int:
    """Interrupt the dashboard as Ctrl-C does; return its exit status."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
    return proc.returncode
