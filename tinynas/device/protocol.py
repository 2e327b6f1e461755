"""The host side of the serial framing described in ``firmware/PROTOCOL.md``.

A frame is ``A5 5A | type | seq | length (u16 LE) | CRC-8 of the four header bytes | payload |
CRC-32 of header bytes and payload (u32 LE)``. The header checksum lets a receiver drop a garbled
length at once instead of waiting for bytes that never come; the CRC-32 (zlib's) guards the
payload. Everything here is pure byte handling, so it is tested without a device.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from tinynas.errors import DeviceError

MAGIC = b"\xa5\x5a"
HEADER_BYTES = 7
TRAILER_BYTES = 4
PROTOCOL_VERSION = 1
#: Replies carry the request type with this bit set.
REPLY = 0x80


class FrameType(IntEnum):
    """Frame types; a reply is ``request | REPLY``."""

    PING = 0x01
    INFO = 0x02
    INVOKE = 0x03
    STATS = 0x04
    SPIN = 0x05
    FAULT = 0x7D
    BOOT = 0x7E
    NAK = 0x7F


class NakReason(IntEnum):
    """Why the device refused a request."""

    CRC = 1
    TOO_LONG = 2
    UNKNOWN_TYPE = 3
    BAD_LENGTH = 4


def crc8(data: bytes) -> int:
    """CRC-8 with polynomial 0x07, initial value 0 (the header checksum).

    Args:
        data: Bytes to check.

    Returns:
        The checksum, 0 to 255.
    """
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    type: int
    seq: int
    payload: bytes


def encode_frame(frame_type: int, seq: int, payload: bytes = b"") -> bytes:
    """Serialize one frame.

    Args:
        frame_type: A :class:`FrameType` value, OR-ed with :data:`REPLY` for replies.
        seq: Sequence number, 0 to 255; a reply echoes its request's.
        payload: At most 65,535 bytes.

    Returns:
        The bytes to put on the wire.
    """
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the 65535-byte frame limit")
    head = struct.pack("<BBH", frame_type, seq & 0xFF, len(payload))
    crc = zlib.crc32(head + payload)
    return MAGIC + head + bytes([crc8(head)]) + payload + struct.pack("<I", crc)


class FrameDecoder:
    """Turns a byte stream into frames, skipping anything that does not check out.

    After a bad header or CRC the decoder drops only the first magic byte and scans on, so a
    frame that starts inside a damaged one is still found.

    Attributes:
        dropped_bytes: Bytes discarded while looking for a frame start.
        bad_frames: Frames with a valid start whose header or CRC failed.
        max_payload: Larger announced lengths count as a bad header.
    """

    def __init__(self, max_payload: int = 0xFFFF):
        self.max_payload = max_payload
        self.dropped_bytes = 0
        self.bad_frames = 0
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes and return the frames they complete.

        Args:
            data: Bytes as read from the port.

        Returns:
            Complete, checked frames in order.
        """
        self._buffer += data
        frames: list[Frame] = []
        while True:
            start = self._buffer.find(MAGIC)
            if start < 0:
                keep = 1 if self._buffer.endswith(MAGIC[:1]) else 0
                self.dropped_bytes += len(self._buffer) - keep
                del self._buffer[:len(self._buffer) - keep]
                return frames
            self.dropped_bytes += start
            del self._buffer[:start]
            if len(self._buffer) < HEADER_BYTES:
                return frames
            head = bytes(self._buffer[2:6])
            frame_type, seq, length = struct.unpack("<BBH", head)
            if crc8(head) != self._buffer[6] or length > self.max_payload:
                self._skip_bad()
                continue
            total = HEADER_BYTES + length + TRAILER_BYTES
            if len(self._buffer) < total:
                return frames
            payload = bytes(self._buffer[HEADER_BYTES:HEADER_BYTES + length])
            (crc,) = struct.unpack_from("<I", self._buffer, HEADER_BYTES + length)
            if zlib.crc32(head + payload) != crc:
                self._skip_bad()
                continue
            del self._buffer[:total]
            frames.append(Frame(frame_type, seq, payload))

    def pending(self) -> int:
        """Bytes held back as the possible start of a frame."""
        return len(self._buffer)

    def clear(self) -> None:
        """Forget buffered bytes (after the host drains the port to resynchronise)."""
        self._buffer.clear()

    def _skip_bad(self) -> None:
        self.bad_frames += 1
        self.dropped_bytes += 1
        del self._buffer[:1]


@dataclass(frozen=True)
class DeviceInfo:
    """What the firmware reports about itself (INFO reply and BOOT frame).

    Attributes:
        version: Protocol version.
        dwt: Whether cycles come from the DWT cycle counter (else SysTick).
        fpu: Whether the firmware was built for a core with an FPU.
        cpuid: The core's SCB CPUID register.
        core_clock_hz: Clock the counter runs at.
        input_size: Bytes of one input tensor.
        output_size: Bytes of one output tensor.
        max_payload: Largest request payload the device accepts.
        model_crc32: CRC-32 of the model's .tflite baked into the firmware; 0 when unknown.
        stack_size: Bytes reserved for the stack.
        frame_gap_ms: A frame that stalls this long between bytes is dropped by the device.
        counter_overhead: Ticks of one counter read, already subtracted from measurements.
        baud: Baud rate the firmware's UART was set to.
    """

    version: int
    dwt: bool
    fpu: bool
    cpuid: int
    core_clock_hz: int
    input_size: int
    output_size: int
    max_payload: int
    model_crc32: int
    stack_size: int
    frame_gap_ms: int
    counter_overhead: int
    baud: int

    @property
    def core(self) -> str:
        """Core name decoded from CPUID, e.g. ``cortex-m4``."""
        part = (self.cpuid >> 4) & 0xFFF
        return _CORE_PARTS.get(part, f"unknown (CPUID 0x{self.cpuid:08x})")

    @classmethod
    def parse(cls, payload: bytes) -> DeviceInfo:
        """Decode an INFO or BOOT payload."""
        fields = _unpack("INFO", "<11I", payload)
        word0 = fields[0]
        flags = word0 >> 16
        return cls(word0 & 0xFFFF, bool(flags & 1), bool(flags & 2), *fields[1:])


_CORE_PARTS = {0xC60: "cortex-m0plus", 0xC20: "cortex-m0", 0xC23: "cortex-m3",
               0xC24: "cortex-m4", 0xC27: "cortex-m7", 0xD21: "cortex-m33", 0xD20: "cortex-m23"}


@dataclass(frozen=True)
class InvokeResult:
    """One inference on the device.

    Attributes:
        status: ``tinynas_invoke``'s return value (0 on success).
        ticks: Counter ticks the call took.
        output: The int8 output tensor as raw bytes.
    """

    status: int
    ticks: int
    output: bytes

    @classmethod
    def parse(cls, payload: bytes) -> InvokeResult:
        """Decode an INVOKE reply."""
        status, ticks = _unpack("INVOKE reply", "<iQ", payload[:12])
        return cls(status, ticks, payload[12:])


@dataclass(frozen=True)
class DeviceStats:
    """Counters since the device's last reset.

    Attributes:
        stack_used: Stack high-water mark in bytes (from stack painting).
        stack_size: Bytes reserved for the stack.
        invokes: Inferences run.
        frame_errors: Frames the device dropped (bad header, stall or CRC).
        naks: Refusals it sent.
    """

    stack_used: int
    stack_size: int
    invokes: int
    frame_errors: int
    naks: int

    @classmethod
    def parse(cls, payload: bytes) -> DeviceStats:
        """Decode a STATS reply."""
        return cls(*_unpack("STATS reply", "<5I", payload))


@dataclass(frozen=True)
class FaultReport:
    """A fault the firmware caught before resetting itself."""

    kind: int
    pc: int
    lr: int
    cfsr: int
    hfsr: int
    ipsr: int

    @classmethod
    def parse(cls, payload: bytes) -> FaultReport:
        """Decode a FAULT frame."""
        return cls(*_unpack("FAULT frame", "<6I", payload))

    def describe(self) -> str:
        """One line, e.g. ``HardFault at pc=0x00000d2c lr=... cfsr=0x00010000``."""
        name = "HardFault" if self.kind == 1 else f"unexpected exception {self.ipsr}"
        return (f"{name} at pc=0x{self.pc:08x} lr=0x{self.lr:08x} cfsr=0x{self.cfsr:08x} "
                f"hfsr=0x{self.hfsr:08x}")


def _unpack(what: str, fmt: str, payload: bytes) -> tuple[int, ...]:
    size = struct.calcsize(fmt)
    if len(payload) != size:
        raise DeviceError(f"{what} of {len(payload)} bytes, expected {size}: firmware speaks "
                          f"another protocol version")
    return struct.unpack(fmt, payload)
