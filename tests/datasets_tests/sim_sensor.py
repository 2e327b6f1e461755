"""A simulated serial sensor: prints one sample per line on a pseudo-terminal or a local TCP
socket (what ``qemu -serial tcp:...`` or a forwarder would expose), like a board running an Edge
Impulse data-forwarder sketch."""

from __future__ import annotations

import os
import socket
import threading
import time
import tty
from collections.abc import Callable


def sample_line(i: int, pattern: int = 0) -> bytes:
    """Sample ``i``: its index, then three values whose shape depends on ``pattern``."""
    import math

    freq = 1.0 + 2.0 * pattern
    values = [math.sin(freq * i / 10.0) * (1 + pattern), math.cos(freq * i / 7.0),
              0.1 * pattern + 0.01 * (i % 5)]
    return (f"{i}," + ",".join(f"{v:.5f}" for v in values) + "\n").encode()


class SimulatedSensor:
    """Streams ``line(i)`` at ``rate_hz`` until ``count`` lines (then vanishes) or stop().

    Args:
        transport: ``"pty"`` or ``"socket"``.
        rate_hz: Lines per second.
        count: Lines to send before disconnecting; ``None`` streams until :meth:`stop`.
        line: Builds line ``i`` (garbled lines are the caller's choice).
        tail: Bytes sent just before disconnecting (a line cut short).
    """

    def __init__(self, transport: str, rate_hz: float = 200.0, count: int | None = None,
                 line: Callable[[int], bytes] = sample_line, tail: bytes = b""):
        self.transport, self.rate_hz, self.count = transport, rate_hz, count
        self.line, self.tail = line, tail
        self.sent: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if transport == "pty":
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            self.port = os.ttyname(self._slave)
        else:
            self._server = socket.create_server(("127.0.0.1", 0))
            self.port = f"socket://127.0.0.1:{self._server.getsockname()[1]}"

    def __enter__(self) -> SimulatedSensor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop streaming and release the port."""
        self._stop.set()
        self._thread.join(timeout=5)
        if self.transport == "pty":
            for fd in (self._master, self._slave):
                try:
                    os.close(fd)
                except OSError:
                    pass
        else:
            self._server.close()

    def _run(self) -> None:
        if self.transport == "pty":
            self._stream(lambda data: os.write(self._master, data))
            if self.count is not None:
                os.close(self._master)
            return
        self._server.settimeout(10)
        try:
            conn, _ = self._server.accept()
        except OSError:
            return
        with conn:
            # pyserial discards what arrives while it opens the port; a board that starts
            # streaming once a host connects waits about this long too.
            time.sleep(0.2)
            self._stream(conn.sendall)

    def _stream(self, write: Callable[[bytes], object]) -> None:
        start = time.monotonic()
        i = 0
        while not self._stop.is_set() and (self.count is None or i < self.count):
            delay = start + i / self.rate_hz - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            data = self.line(i)
            write(data)
            self.sent.append(data)
            i += 1
        if self.tail:
            write(self.tail)
