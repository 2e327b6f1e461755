"""Arena figures measured with the TFLite Micro interpreter (the 64-bit host build).

Two measurements:

* :func:`recorded_arena`: what TFLite Micro's recording allocator reports after
  ``AllocateTensors`` (head plus tail). It misses the temporary allocations made while
  planning, so it is a lower bound.
* :func:`min_working_arena`: the smallest arena with which the interpreter allocates and
  invokes, found by bisection. A too-small arena can crash the process instead of failing
  cleanly, so every probe runs in a child process: one worker process imports tflite_micro once
  and forks a child per probe, which costs milliseconds instead of a fresh interpreter start.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tinynas.cstderr import capture_fd2
from tinynas.errors import MissingDependencyError, ModelFileError

#: Arena handed to the interpreter when only the recording matters (pages are never touched).
_LARGE_ARENA = 64 << 20

_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_HEAD = re.compile(r"Arena allocation head (\d+) bytes")
_TAIL = re.compile(r"Arena allocation tail (\d+) bytes")


def _runtime() -> Any:
    try:
        from tflite_micro import runtime
    except ImportError:
        raise MissingDependencyError("measuring needs tflite-micro: pip install "
                                     "tflite-micro") from None
    return runtime


def allocation_report(tflite: bytes) -> str:
    """The text TFLite Micro's recording allocator prints after allocating ``tflite``.

    The allocator writes to the C-level standard error, so file descriptor 2 is redirected to a
    temporary file around the call.

    Raises:
        ModelFileError: The interpreter refuses the model.
    """
    runtime = _runtime()
    try:
        interpreter = runtime.Interpreter.from_bytes(bytes(tflite), arena_size=_LARGE_ARENA)
    except Exception as exc:  # the runtime raises unrelated types for malformed models
        raise ModelFileError(f"TFLite Micro cannot allocate the model: "
                             f"{str(exc).strip() or type(exc).__name__}") from None
    with capture_fd2() as captured:
        interpreter.print_allocations()
    return captured.text


def recorded_arena(tflite: bytes) -> int:
    """Bytes of arena the recording allocator reports (head plus tail), a lower bound.

    Args:
        tflite: A model TFLite Micro can run.

    Raises:
        ModelFileError: The interpreter refuses the model.
    """
    report = allocation_report(tflite)
    match = _TOTAL.search(report)
    if not match:
        raise ModelFileError(f"TFLite Micro printed no allocation total: {report[:200]!r}")
    return int(match.group(1))


def recorded_head_tail(tflite: bytes) -> tuple[int, int]:
    """The recording allocator's head (planned tensors and scratch) and tail (persistent)."""
    report = allocation_report(tflite)
    head, tail = _HEAD.search(report), _TAIL.search(report)
    if not head or not tail:
        raise ModelFileError(f"TFLite Micro printed no head/tail: {report[:200]!r}")
    return int(head.group(1)), int(tail.group(1))


def min_working_arena(tflite: bytes, low: int | None = None, high: int | None = None) -> int:
    """The smallest arena (bytes) with which TFLite Micro allocates and invokes ``tflite``.

    Args:
        tflite: The model.
        low: An arena size known to fail (default: half the recorded arena).
        high: An arena size known to work (default: found by doubling from the recorded one).

    Returns:
        The minimum working arena size, to the byte.

    Raises:
        ModelFileError: The model does not run even with a very large arena.
    """
    with tempfile.TemporaryDirectory(prefix="tinynas-arena-") as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(tflite)
        if low is None or high is None:
            recorded = recorded_arena(tflite)
            low = recorded // 2 if low is None else low
            high = recorded if high is None else high
        result = subprocess.run(
            [sys.executable, "-m", "tinynas.measure", str(path), str(low), str(high)],
            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelFileError(f"cannot measure the arena: {tail}")
    return int(result.stdout.split()[-1])


def _probe(runtime, model: bytes, arena: int) -> bool:  # type: ignore[no-untyped-def]
    """Whether the model allocates and invokes with ``arena`` bytes, tried in a forked child."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            interpreter = runtime.Interpreter.from_bytes(model, arena_size=arena)
            interpreter.invoke()
            code = 0
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _bisect(path: str, low: int, high: int) -> int:
    runtime = _runtime()
    model = Path(path).read_bytes()
    while not _probe(runtime, model, high):
        low, high = high, high * 2
        if high > 1 << 31:
            raise SystemExit("the model does not run even with a 2 GiB arena")
    while low > 0 and _probe(runtime, model, low):
        high, low = low, low // 2
    while high - low > 1:
        middle = (low + high) // 2
        if _probe(runtime, model, middle):
            high = middle
        else:
            low = middle
    return high


if __name__ == "__main__":
    print(_bisect(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
