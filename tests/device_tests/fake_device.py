"""A simulated serial device on a local TCP port, speaking the firmware's protocol, with
switches for the failures a real link shows: silence, line noise, corrupted or lost replies,
resets and faults."""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass

from tinynas.device.protocol import REPLY, FrameDecoder, FrameType, NakReason, encode_frame

INPUT_SIZE = 16
OUTPUT_SIZE = 4
TICKS = 1234


def model(data: bytes) -> bytes:
    """The simulated model: the sums of four input quarters, wrapped to int8."""
    values = struct.unpack(f"<{INPUT_SIZE}b", data)
    return bytes((sum(values[i::4]) & 0xFF) for i in range(OUTPUT_SIZE))


def info_payload() -> bytes:
    return struct.pack("<11I", 1 | (2 << 16), 0x410FC241, 25_000_000, INPUT_SIZE, OUTPUT_SIZE,
                       64, 0, 4096, 5, 0, 115200)


@dataclass
class Behaviour:
    """What goes wrong; counts are consumed as requests arrive."""

    silent: bool = False
    noise: bool = False
    corrupt_replies: int = 0
    lose_requests: int = 0
    reset_on_invoke: int = 0
    fault_on_invoke: bool = False
    close_on_invoke: bool = False


class FakeDevice:
    """Serves one connection at a time on ``socket://127.0.0.1:<port>`` from a thread."""

    def __init__(self, behaviour: Behaviour | None = None):
        self.behaviour = behaviour or Behaviour()
        self.requests: list[int] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeDevice:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(0.05)
                self._talk(conn)

    def _talk(self, conn: socket.socket) -> None:
        decoder = FrameDecoder()
        while not self._stop.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            for frame in decoder.feed(data):
                self.requests.append(frame.type)
                reply = self._answer(frame.type, frame.seq, frame.payload)
                if reply is None:
                    return
                if reply:
                    conn.sendall(reply)

    def _answer(self, kind: int, seq: int, payload: bytes) -> bytes | None:
        b = self.behaviour
        if b.silent:
            return b""
        if b.noise:
            return bytes(range(7, 250, 3))
        if b.lose_requests:
            b.lose_requests -= 1
            return b""
        if kind == FrameType.INFO:
            reply = encode_frame(kind | REPLY, seq, info_payload())
        elif kind == FrameType.STATS:
            reply = encode_frame(kind | REPLY, seq, struct.pack("<5I", 256, 4096, 0, 0, 0))
        elif kind == FrameType.INVOKE:
            if b.close_on_invoke:
                return None
            if b.fault_on_invoke:
                return encode_frame(FrameType.FAULT, seq, struct.pack("<6I", 1, 0x1234, 0x5678,
                                                                      0x10000, 0x40000000, 3))
            if b.reset_on_invoke:
                b.reset_on_invoke -= 1
                return encode_frame(FrameType.BOOT, 0, info_payload())
            if len(payload) != INPUT_SIZE:
                return encode_frame(FrameType.NAK, seq, bytes([NakReason.BAD_LENGTH]))
            reply = encode_frame(kind | REPLY, seq,
                                 struct.pack("<iQ", 0, TICKS) + model(payload))
        else:
            return encode_frame(FrameType.NAK, seq, bytes([NakReason.UNKNOWN_TYPE]))
        if b.corrupt_replies:
            b.corrupt_replies -= 1
            damaged = bytearray(reply)
            damaged[-6] ^= 0x10
            return bytes(damaged)
        return reply
