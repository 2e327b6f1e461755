"""A device that speaks the firmware's protocol, over any pyserial URL: ``/dev/ttyACM0``,
``socket://127.0.0.1:PORT`` (QEMU, a TCP serial bridge), ``loop://``.

Every request is bounded in time: a lost, garbled or stale answer, a NAK or a device reset leads
to a bounded number of retries, then to a one-line :class:`~tinynas.errors.DeviceError`.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from tinynas.device.protocol import (
    HEADER_BYTES,
    PROTOCOL_VERSION,
    REPLY,
    TRAILER_BYTES,
    DeviceInfo,
    DeviceStats,
    FaultReport,
    Frame,
    FrameDecoder,
    FrameType,
    InvokeResult,
    NakReason,
    encode_frame,
)
from tinynas.errors import DeviceError

if TYPE_CHECKING:
    import serial

DEFAULT_BAUD = 115200
DEFAULT_TIMEOUT_S = 2.0
DEFAULT_RETRIES = 3
#: Refusals that will not change on a retry.
_FINAL_NAKS = {NakReason.TOO_LONG, NakReason.UNKNOWN_TYPE, NakReason.BAD_LENGTH}
_POLL_S = 0.05
#: Largest request payload assumed before the device has said (INFO's ``max_payload``).
_UNKNOWN_CAPACITY = 1024


def open_port(url: str, baud: int = DEFAULT_BAUD) -> serial.SerialBase:
    """Open a serial port or pyserial URL.

    Args:
        url: A device path (``/dev/ttyACM0``, ``COM3``) or a pyserial URL
            (``socket://HOST:PORT``, ``rfc2217://...``, ``loop://``).
        baud: Baud rate (ignored by socket URLs).

    Returns:
        The open port.

    Raises:
        DeviceError: The port does not exist, is busy, or nothing listens at the URL.
    """
    import serial

    try:
        return serial.serial_for_url(url, baudrate=baud, timeout=_POLL_S, write_timeout=5.0)
    except (serial.SerialException, OSError, ValueError) as exc:
        reason = str(exc).split(": ", 1)[-1] if ": " in str(exc) else str(exc)
        raise DeviceError(f"cannot open device {url!r}: {reason}") from None


class DeviceClient:
    """Requests to one device. Use as a context manager, or call :meth:`close`.

    Attributes:
        url: Where the device was opened.
        timeout: Seconds to wait for one answer (plus the line's transfer time).
        retries: Extra attempts after a lost or refused answer.
        resends: Requests sent again so far.
        resets: Device resets seen (BOOT frames in the middle of a request).
    """

    def __init__(self, port: serial.SerialBase, url: str, *, baud: int = DEFAULT_BAUD,
                 timeout: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES):
        if timeout <= 0:
            raise DeviceError(f"--timeout must be > 0 seconds, got {timeout}")
        if retries < 0:
            raise DeviceError(f"retries must be >= 0, got {retries}")
        self.url = url
        self.baud = baud
        self.timeout = timeout
        self.retries = retries
        self.resends = 0
        self.resets = 0
        self._port = port
        self._decoder = FrameDecoder()
        self._seq = 0
        self._info: DeviceInfo | None = None
        self._bytes_seen = 0

    @classmethod
    def open(cls, url: str, *, baud: int = DEFAULT_BAUD, timeout: float = DEFAULT_TIMEOUT_S,
             retries: int = DEFAULT_RETRIES) -> DeviceClient:
        """Open ``url`` and return a client for it (see :func:`open_port`)."""
        return cls(open_port(url, baud), url, baud=baud, timeout=timeout, retries=retries)

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the port."""
        try:
            self._port.close()
        except Exception:  # noqa: BLE001 - closing a dead port must not hide the real error
            pass

    @property
    def bad_frames(self) -> int:
        """Frames received with a bad header or CRC."""
        return self._decoder.bad_frames

    def info(self) -> DeviceInfo:
        """Ask the device what it runs.

        Raises:
            DeviceError: No valid answer, or the firmware speaks another protocol version.
        """
        frame = self._request(FrameType.INFO, b"")
        self._info = _checked_info(DeviceInfo.parse(frame.payload), self.url)
        return self._info

    def ping(self, payload: bytes = b"ping") -> bytes:
        """Send ``payload`` and return the device's echo of it."""
        return self._request(FrameType.PING, payload).payload

    def invoke(self, data: bytes, timeout: float | None = None) -> InvokeResult:
        """Run one inference.

        Args:
            data: The int8 input tensor as raw bytes.
            timeout: Seconds for this answer, if the inference needs longer than
                :attr:`timeout`.

        Returns:
            The output tensor and the counter ticks the inference took.

        Raises:
            DeviceError: No valid answer after the retries, a fault on the device, or a size the
                device refuses.
        """
        result = InvokeResult.parse(self._request(FrameType.INVOKE, data, timeout).payload)
        if result.status != 0:
            raise DeviceError(f"{self.url}: tinynas_invoke returned {result.status} on the device")
        return result

    def stats(self) -> DeviceStats:
        """Stack high-water mark and error counters since the device's last reset."""
        return DeviceStats.parse(self._request(FrameType.STATS, b"").payload)

    def spin(self, iterations: int) -> int:
        """Run the firmware's two-instruction delay loop and return the ticks it took.

        Under QEMU with ``-icount`` this yields instructions per tick; on silicon, cycles per
        loop iteration.
        """
        payload = self._request(FrameType.SPIN, struct.pack("<I", iterations), 60.0).payload
        ticks, _ = struct.unpack("<QI", payload)
        return int(ticks)

    def _request(self, frame_type: FrameType, payload: bytes,
                 timeout: float | None = None) -> Frame:
        wait = (timeout or self.timeout) + self._transfer_s(len(payload))
        failure = "no answer"
        for attempt in range(self.retries + 1):
            if attempt:
                self.resends += 1
                self._resynchronise()
            self._seq = self._seq % 255 + 1
            self._write(encode_frame(frame_type, self._seq, payload))
            frame, failure = self._await_reply(frame_type, self._seq, wait)
            if frame is not None:
                return frame
        raise DeviceError(self._give_up_message(frame_type, failure))

    def _await_reply(self, frame_type: FrameType, seq: int,
                     wait: float) -> tuple[Frame | None, str]:
        deadline = time.monotonic() + wait
        while True:
            frames = self._read_frames(deadline)
            if frames is None:
                return None, f"no answer within {wait:.3g} s"
            for frame in frames:
                if frame.type == FrameType.FAULT:
                    fault = FaultReport.parse(frame.payload)
                    raise DeviceError(f"{self.url}: the device faulted during "
                                      f"{frame_type.name}: {fault.describe()}")
                if frame.type == FrameType.BOOT and frame_type == FrameType.INFO:
                    return frame, ""  # a fresh boot announces exactly what INFO asks
                if frame.type == FrameType.BOOT:
                    self.resets += 1
                    self._info = DeviceInfo.parse(frame.payload)
                    return None, "the device reset"
                if frame.seq != seq:
                    continue  # a late answer to an earlier attempt
                if frame.type == FrameType.NAK:
                    reason = _nak_reason(frame.payload)
                    if reason in _FINAL_NAKS:
                        raise DeviceError(self._refusal_message(frame_type, reason))
                    return None, f"the device refused it ({reason.name.lower()})"
                if frame.type == frame_type | REPLY:
                    return frame, ""

    def _read_frames(self, deadline: float) -> list[Frame] | None:
        """Frames read before ``deadline``; ``None`` once it has passed with none."""
        import serial

        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                self._port.timeout = min(remaining, _POLL_S)
                data = self._port.read(max(1, self._port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise DeviceError(f"{self.url}: connection to the device lost ({exc})") from None
            if data:
                self._bytes_seen += len(data)
                frames = self._decoder.feed(data)
                if frames:
                    return frames

    def _write(self, data: bytes) -> None:
        import serial

        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"{self.url}: cannot write to the device ({exc})") from None

    def _resynchronise(self) -> None:
        """Unstick a device waiting for the rest of a damaged frame, then drop what is in flight.

        Zeros complete any frame the device is inside (its length is at most ``max_payload``, a
        longer one is refused at its header) and hold no magic byte, so afterwards the device is
        scanning for a frame start again. Its NAK for the completed junk carries an old sequence
        number and is ignored.
        """
        import serial

        capacity = self._info.max_payload if self._info else _UNKNOWN_CAPACITY
        flush = bytes(capacity + HEADER_BYTES + TRAILER_BYTES)
        self._write(flush)
        time.sleep(0.02 + len(flush) * 10 / self.baud)
        try:
            self._port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"{self.url}: connection to the device lost ({exc})") from None
        self._decoder.clear()

    def _transfer_s(self, payload_bytes: int) -> float:
        """Seconds a request and its answer take on the wire at the baud rate (10 bits a byte)."""
        answer = self._info.output_size + 64 if self._info else 512
        return (payload_bytes + answer + 32) * 10 / self.baud

    def _give_up_message(self, frame_type: FrameType, failure: str) -> str:
        attempts = self.retries + 1
        message = f"{self.url}: {frame_type.name} failed after {attempts} attempts ({failure})"
        if self._bytes_seen == 0:
            return (f"{message}; the device sent nothing: is the firmware running, and is this "
                    f"its port?")
        if self._info is None and self.bad_frames + self._decoder.dropped_bytes > 0:
            return (f"{message}; {self._bytes_seen} bytes arrived but no valid frame: wrong baud "
                    f"rate (now {self.baud}; --baud), or a firmware that speaks another protocol?")
        return message

    def _refusal_message(self, frame_type: FrameType, reason: NakReason) -> str:
        detail = ""
        if reason == NakReason.BAD_LENGTH and self._info is not None:
            detail = f" (the firmware expects {self._info.input_size} input bytes)"
        return f"{self.url}: the device refused {frame_type.name}: {reason.name.lower()}{detail}"


def _nak_reason(payload: bytes) -> NakReason:
    try:
        return NakReason(payload[0])
    except (IndexError, ValueError):
        raise DeviceError(f"malformed NAK frame {payload.hex()}") from None


def _checked_info(info: DeviceInfo, url: str) -> DeviceInfo:
    if info.version != PROTOCOL_VERSION:
        raise DeviceError(f"{url}: firmware speaks protocol version {info.version}, this host "
                          f"version {PROTOCOL_VERSION}: rebuild and flash the firmware")
    return info


def connect(url: str, *, baud: int = DEFAULT_BAUD, timeout: float = DEFAULT_TIMEOUT_S,
            retries: int = DEFAULT_RETRIES, until: float = 0.0,
            alive: Callable[[], str | None] | None = None) -> DeviceClient:
    """Open ``url``, retrying a refused connection until ``until`` seconds have passed.

    Args:
        url: Port or pyserial URL.
        baud: Baud rate.
        timeout: Seconds per answer.
        retries: Extra attempts per request.
        until: Seconds to keep retrying the open (an emulator still starting); 0 tries once.
        alive: Called between attempts; a returned string means the other end died and is the
            reason given in the error.

    Returns:
        A client whose :meth:`DeviceClient.info` has already been answered.
    """
    deadline = time.monotonic() + until
    while True:
        try:
            client = DeviceClient.open(url, baud=baud, timeout=timeout, retries=retries)
            break
        except DeviceError:
            dead = alive() if alive else None
            if dead:
                raise DeviceError(dead) from None
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)
    try:
        client.info()
    except BaseException:
        client.close()
        raise
    return client
