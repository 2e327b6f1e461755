"""Recording a sensor stream from a serial port (or any pyserial URL) into CSV files.

The framing is the Edge Impulse data forwarder's: one sample per line, values separated by
commas or tabs. Once the first few lines have fixed the stream's value count, each sample is
written and flushed as soon as its line is complete; an interrupt or a vanished device loses
nothing already received. Lines that do not parse, or whose value count differs from the
stream's, are counted and skipped.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from tinynas.errors import DatasetError, DeviceError

_LABEL = re.compile(r"^[A-Za-z0-9_-]+$")
_SPLIT = re.compile(r"\s*[,\t]\s*")
#: Parseable lines looked at before the stream's value count is fixed (by majority), so that a
#: line cut short when the port opened does not decide it.
_PROBE_LINES = 5


@dataclass(frozen=True)
class Recording:
    """What :func:`record` wrote.

    Attributes:
        path: The CSV file (``None`` when no sample arrived).
        samples: Lines written.
        channels: Values per line.
        skipped: Garbled or short lines skipped.
        seconds: Time between the first and the last sample.
        rate_hz: Detected sampling rate (``None`` with fewer than two samples).
        stopped: ``"time"``, ``"interrupted"``, ``"disconnected"`` or ``"stopped"``.
    """

    path: Path | None
    samples: int
    channels: int
    skipped: int
    seconds: float
    rate_hz: float | None
    stopped: str


def parse_sample(line: str) -> list[float] | None:
    """The numbers on one line, or ``None`` if it is not a clean comma/tab-separated sample."""
    tokens = _SPLIT.split(line.strip())
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        return None
    if not values or any(v != v or v in (float("inf"), float("-inf")) for v in values):
        return None
    return values


def check_label(label: str) -> None:
    """Refuse labels that cannot be a folder and file-name prefix.

    Raises:
        DatasetError: The label is empty or has characters other than letters, digits, ``_``
            and ``-``.
    """
    if not _LABEL.match(label):
        raise DatasetError(f"--label {label!r}: use only letters, digits, '_' and '-'")


class _Writer:
    """Fixes the value count by majority over the first lines, then streams rows to disk."""

    def __init__(self, out_dir: Path, label: str):
        self.out_dir, self.label = out_dir, label
        self.pending: list[tuple[float, list[float]]] = []
        self.channels = 0
        self.samples = self.skipped = 0
        self.first = self.last = 0.0
        self.path: Path | None = None
        self.file: IO[str] | None = None

    def add(self, stamp: float, line: str) -> None:
        # A port opened mid-stream starts with the tail of a line: it usually has too few
        # values and loses the majority vote; one cut inside its first number cannot be told
        # from a real sample.
        values = parse_sample(line)
        if values is None:
            self.skipped += 1
        elif self.channels:
            self._write(stamp, values)
        else:
            self.pending.append((stamp, values))
            if len(self.pending) >= _PROBE_LINES:
                self._decide()

    def _decide(self) -> None:
        widths = Counter(len(v) for _, v in self.pending)
        # On a tie the wider count wins: a line cut short has fewer values, never more.
        self.channels = max(widths, key=lambda w: (widths[w], w))
        pending, self.pending = self.pending, []
        for stamp, values in pending:
            self._write(stamp, values)

    def _write(self, stamp: float, values: list[float]) -> None:
        if len(values) != self.channels:
            self.skipped += 1
            return
        if self.file is None:
            self.path = _new_file(self.out_dir / self.label, self.label)
            self.file = self.path.open("w", buffering=1)
            self.file.write(",".join(["timestamp"] + [f"ch{i}" for i in range(self.channels)])
                            + "\n")
            self.first = stamp
        self.last = stamp
        self.samples += 1
        ms = (stamp - self.first) * 1000.0
        self.file.write(f"{ms:.1f}," + ",".join(f"{v:.9g}" for v in values) + "\n")

    def close(self, tail: str) -> None:
        if tail.strip():
            # The device vanished mid-line: a fragment is not a sample.
            self.skipped += 1
        if self.pending:
            self._decide()
        if self.file is not None:
            self.file.close()


def _new_file(folder: Path, label: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{label}.{datetime.now():%Y%m%d-%H%M%S}"
    path, n = folder / f"{stem}.csv", 1
    while path.exists():
        path, n = folder / f"{stem}-{n}.csv", n + 1
    return path


def open_port(port: str, baud: int) -> Any:
    """Open a device path or pyserial URL (``socket://``, ``rfc2217://``, ``loop://``).

    Raises:
        DeviceError: The port cannot be opened.
    """
    import serial

    if baud <= 0:
        raise DeviceError(f"--baud must be a positive number, got {baud}")
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=0.1)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise DeviceError(f"--port {port}: cannot open: {exc}") from None


def record(port: str, label: str, out_dir: Path, seconds: float | None = None,
           baud: int = 115200, stop: threading.Event | None = None,
           on_start: Callable[[], None] | None = None) -> Recording:
    """Record samples from ``port`` into ``out_dir/LABEL/LABEL.<time>.csv``.

    The CSV has a ``timestamp`` column (milliseconds since the first sample, host clock) and
    one column per value, which :func:`tinynas.datasets.load_dataset` reads back.

    Args:
        port: Device path (``/dev/ttyACM0``) or pyserial URL (``socket://127.0.0.1:PORT``).
        label: Class label (folder and file-name prefix).
        out_dir: Dataset folder.
        seconds: Stop after this long; ``None`` records until interrupted or disconnected.
        baud: Baud rate (ignored by sockets).
        stop: Set from another thread to end the recording.
        on_start: Called once the port is open.

    Returns:
        What was written. Ctrl-C ends the recording normally.

    Raises:
        DatasetError: Bad label or duration.
        DeviceError: The port cannot be opened.
    """
    import serial

    check_label(label)
    if seconds is not None and seconds <= 0:
        raise DatasetError(f"--seconds must be > 0, got {seconds}")
    ser = open_port(port, baud)
    writer = _Writer(out_dir, label)
    buffer = b""
    started = time.monotonic()
    stopped = "stopped"
    try:
        if on_start:
            on_start()
        while True:
            if seconds is not None and time.monotonic() - started >= seconds:
                stopped = "time"
                break
            if stop is not None and stop.is_set():
                break
            try:
                # Reading only what is waiting keeps pyserial from dropping bytes it already
                # read when the device vanishes within one call.
                chunk = ser.read(max(1, ser.in_waiting))
            except (serial.SerialException, OSError):
                stopped = "disconnected"
                break
            if not chunk:
                continue
            buffer += chunk
            now = time.monotonic()
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                writer.add(now, raw.decode("ascii", errors="replace"))
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        writer.close(buffer.decode("ascii", errors="replace"))
        ser.close()
    span = writer.last - writer.first
    rate = (writer.samples - 1) / span if writer.samples > 1 and span > 0 else None
    return Recording(writer.path, writer.samples, writer.channels, writer.skipped, span, rate,
                     stopped)
