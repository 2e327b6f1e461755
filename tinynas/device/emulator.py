"""QEMU as a stand-in board: the firmware's UART on a local TCP port, deterministic timing.

``-icount shift=0`` ties QEMU's virtual clock to executed instructions (one nanosecond each), so
SysTick counts instructions, not cycles: :func:`instructions_per_tick` converts. The emulator
runs in its own process group, dies with the process that started it, and is always killed on
leaving the context, exceptions included.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tinynas.device.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, DeviceClient, connect
from tinynas.errors import DeviceError, MissingDependencyError
from tinynas.processes import die_with_parent

#: QEMU machine per emulated core (the MPS2 FPGA images QEMU models).
MACHINES = {"cortex-m3": "mps2-an385", "cortex-m4": "mps2-an386", "cortex-m7": "mps2-an500"}
#: Clock of the MPS2 boards; the firmware's SysTick runs from it.
CLOCK_HZ = 25_000_000
#: Nanoseconds of virtual time per instruction is 2**ICOUNT_SHIFT.
ICOUNT_SHIFT = 0
_READY = "waiting for connection"
_START_TIMEOUT_S = 15.0
_PORT_ATTEMPTS = 5
def instructions_per_tick(clock_hz: int = CLOCK_HZ, shift: int = ICOUNT_SHIFT) -> float:
    """Instructions QEMU executes per tick of a counter clocked at ``clock_hz``.

    Args:
        clock_hz: The counter's clock as the firmware reports it.
        shift: The ``-icount shift`` QEMU runs with.

    Returns:
        40.0 for the MPS2 boards' 25 MHz with ``shift=0``.
    """
    return 1e9 / clock_hz / (1 << shift)


def qemu_binary() -> str:
    """Path of ``qemu-system-arm``.

    Raises:
        MissingDependencyError: It is not installed.
    """
    path = shutil.which("qemu-system-arm")
    if path is None:
        raise MissingDependencyError(
            "qemu-system-arm not found: install the Debian package qemu-system-arm")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulator:
    """One QEMU process running one firmware image.

    Use as a context manager::

        with Emulator(elf, "cortex-m4") as emu, emu.connect() as device:
            device.invoke(data)

    Attributes:
        elf: The firmware image.
        cpu: A key of :data:`MACHINES`.
        port: The TCP port of the emulated UART, once started.
    """

    def __init__(self, elf: Path, cpu: str = "cortex-m4"):
        if cpu not in MACHINES:
            raise DeviceError(f"cannot emulate {cpu!r}; emulated cores: {', '.join(MACHINES)}")
        if not Path(elf).is_file():
            raise DeviceError(f"{elf}: no such firmware image")
        self.elf = Path(elf)
        self.cpu = cpu
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_dir = tempfile.TemporaryDirectory(prefix="tinynas-qemu-")
        self._log = Path(self._log_dir.name) / "qemu.log"

    @property
    def url(self) -> str:
        """The pyserial URL of the emulated UART."""
        return f"socket://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of QEMU while it runs."""
        return self._process.pid if self._process else None

    def command(self, port: int) -> list[str]:
        """The QEMU command line for a UART on ``port``."""
        return [qemu_binary(), "-M", MACHINES[self.cpu], "-nographic", "-monitor", "none",
                "-nodefaults", "-icount", f"shift={ICOUNT_SHIFT}",
                "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on",
                "-kernel", str(self.elf)]

    def start(self) -> str:
        """Start QEMU and wait until its UART listens.

        Returns:
            The pyserial URL of the UART.

        Raises:
            DeviceError: QEMU exits or does not listen within 15 s.
        """
        for _ in range(_PORT_ATTEMPTS):
            port = _free_port()
            self._spawn(port)
            if self._wait_ready():
                self.port = port
                return self.url
            reason = self.exit_reason() or f"no UART listening after {_START_TIMEOUT_S:g} s"
            self.stop()
            # Another process may take the port between the probe and QEMU's bind: try another.
            if "Address already in use" not in reason:
                raise DeviceError(f"QEMU did not start: {reason}")
        raise DeviceError(f"QEMU did not start: no free TCP port in {_PORT_ATTEMPTS} attempts")

    def _spawn(self, port: int) -> None:
        with open(self._log, "wb") as log:
            self._process = subprocess.Popen(
                self.command(port), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGKILL))

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if _READY in self.log_tail():
                return True
            if self.exit_reason() is not None:
                return False
            time.sleep(0.01)
        return False

    def log_tail(self) -> str:
        """The last line QEMU printed."""
        try:
            lines = self._log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def exit_reason(self) -> str | None:
        """Why QEMU is gone, or ``None`` while it runs."""
        if self._process is None or self._process.poll() is None:
            return None
        tail = self.log_tail()
        return f"QEMU exited with status {self._process.returncode}" + (f": {tail}" if tail else "")

    def connect(self, timeout: float = DEFAULT_TIMEOUT_S,
                retries: int = DEFAULT_RETRIES) -> DeviceClient:
        """Open the emulated UART and read the firmware's INFO.

        Args:
            timeout: Seconds per answer.
            retries: Extra attempts per request.

        Returns:
            A connected client.
        """
        if self._process is None:
            self.start()
        return connect(self.url, timeout=timeout, retries=retries, until=_START_TIMEOUT_S,
                       alive=self.exit_reason)

    def stop(self) -> None:
        """Kill QEMU's whole process group and reap it. Safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        self._log_dir.cleanup()
