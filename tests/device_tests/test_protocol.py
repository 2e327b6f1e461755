"""Framing and checksums: garbled, truncated and interleaved frames."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tinynas.device.protocol import (
    HEADER_BYTES,
    TRAILER_BYTES,
    DeviceInfo,
    FaultReport,
    FrameDecoder,
    FrameType,
    InvokeResult,
    crc8,
    encode_frame,
)
from tinynas.errors import DeviceError


def test_checksums_match_their_catalogue_check_values() -> None:
    # Check values of CRC-8/SMBUS and CRC-32/ISO-HDLC over "123456789".
    assert crc8(b"123456789") == 0xF4
    assert zlib.crc32(b"123456789") == 0xCBF43926


def test_frame_layout() -> None:
    frame = encode_frame(FrameType.INVOKE, 7, b"\x01\x02\x03")
    assert frame[:2] == b"\xa5\x5a"
    assert frame[2:6] == bytes([0x03, 7, 3, 0])
    assert frame[6] == crc8(frame[2:6])
    assert frame[7:10] == b"\x01\x02\x03"
    assert struct.unpack("<I", frame[10:])[0] == zlib.crc32(frame[2:6] + b"\x01\x02\x03")


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=300), noise=st.binary(max_size=40),
       seq=st.integers(0, 255), split=st.integers(0, 400))
def test_frames_survive_noise_and_arbitrary_chunking(payload: bytes, noise: bytes, seq: int,
                                                     split: int) -> None:
    stream = noise + encode_frame(0x83, seq, payload) + encode_frame(0x81, seq, b"end")
    decoder = FrameDecoder()
    frames = decoder.feed(stream[:split]) + decoder.feed(stream[split:])
    assert [(f.type, f.seq, f.payload) for f in frames][-2:] == [(0x83, seq, payload),
                                                                  (0x81, seq, b"end")]


@settings(max_examples=80, deadline=None)
@given(payload=st.binary(min_size=1, max_size=64), position=st.integers(0, 10_000),
       bit=st.integers(0, 7))
def test_a_flipped_bit_is_never_read_as_data(payload: bytes, position: int, bit: int) -> None:
    good = encode_frame(0x83, 5, payload)
    damaged = bytearray(good)
    damaged[position % len(good)] ^= 1 << bit
    frames = FrameDecoder().feed(bytes(damaged) + encode_frame(0x81, 6, b"next"))
    assert [f.payload for f in frames] == [b"next"]


@example(payload=b"1" + bytes(7), position=325)  # a shifted header that passes its CRC-8
@settings(max_examples=60, deadline=None)
@given(payload=st.binary(min_size=1, max_size=64), position=st.integers(0, 10_000))
def test_a_dropped_byte_loses_only_its_frame(payload: bytes, position: int) -> None:
    good = encode_frame(0x83, 5, payload)
    index = position % len(good)
    decoder = FrameDecoder()
    frames = decoder.feed(good[:index] + good[index + 1:] + encode_frame(0x81, 6, b"next"))
    if [f.payload for f in frames] != [b"next"]:
        # A shifted header passes its CRC-8 one time in 256: the decoder then waits for the bytes
        # its bogus length announces, and finds the next frame once they have come (the CRC-32
        # fails). Nothing else may hold it back.
        assert frames == [] and decoder.pending() > 0
        frames = decoder.feed(bytes(HEADER_BYTES + 0xFFFF + TRAILER_BYTES))
    assert [f.payload for f in frames] == [b"next"]


def test_truncated_frame_waits_for_the_rest() -> None:
    frame = encode_frame(0x82, 1, b"abcdef")
    decoder = FrameDecoder()
    assert decoder.feed(frame[:9]) == []
    assert decoder.pending() == 9
    (got,) = decoder.feed(frame[9:])
    assert got.payload == b"abcdef"


def test_a_garbled_length_is_rejected_without_waiting_for_its_bytes() -> None:
    frame = bytearray(encode_frame(0x82, 1, b"abc"))
    frame[5] = 0xFF  # announces 65 kB; the header check fails at once
    decoder = FrameDecoder()
    frames = decoder.feed(bytes(frame) + encode_frame(0x81, 2, b"ok"))
    assert [f.payload for f in frames] == [b"ok"]
    assert decoder.bad_frames == 1


def test_oversized_payload_is_refused() -> None:
    with pytest.raises(ValueError, match="65535"):
        encode_frame(0x03, 1, bytes(70_000))


def test_records_decode_and_reject_wrong_sizes() -> None:
    info = DeviceInfo.parse(struct.pack("<11I", 1 | (3 << 16), 0x410FC241, 25_000_000, 490, 12,
                                        490, 0xDEADBEEF, 16384, 20, 1, 115200))
    assert (info.version, info.dwt, info.fpu, info.core) == (1, True, True, "cortex-m4")
    assert (info.input_size, info.output_size, info.model_crc32) == (490, 12, 0xDEADBEEF)
    result = InvokeResult.parse(struct.pack("<iQ", 0, 2**33 + 5) + b"\x01\xff")
    assert (result.ticks, result.output) == (2**33 + 5, b"\x01\xff")
    fault = FaultReport.parse(struct.pack("<6I", 1, 0x1C0, 0x1A5, 0x10000, 0x40000000, 3))
    assert "pc=0x000001c0" in fault.describe() and "HardFault" in fault.describe()
    with pytest.raises(DeviceError, match="another protocol version"):
        DeviceInfo.parse(b"\x01\x00")
