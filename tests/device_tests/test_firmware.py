"""The real firmware, cross-compiled with the stand-in dense model, under QEMU: exact outputs,
counts, stack, garbled frames, faults, a killed emulator, and no process left behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from tinynas.device.build import Firmware, build_firmware
from tinynas.device.client import open_port
from tinynas.device.emulator import Emulator, instructions_per_tick
from tinynas.device.protocol import FrameDecoder, FrameType, NakReason, encode_frame
from tinynas.errors import DeviceError

pytestmark = pytest.mark.slow

DENSE = Path(__file__).parent / "fixtures" / "dense"


def dense_reference(x: np.ndarray) -> bytes:
    """What fixtures/dense/tinynas_model.c computes, in Python."""
    out = []
    for o in range(10):
        acc = (o * 53) % 41 - 20
        acc += sum(((o * 31 + i * 17) % 15 - 7) * (int(v) + 3) for i, v in enumerate(x))
        out.append(max(-128, min(127, ((acc * 1387) >> 14) + 5)))
    return np.asarray(out, dtype=np.int8).tobytes()


@pytest.fixture(scope="module")
def firmware(tmp_path_factory: pytest.TempPathFactory) -> Firmware:
    return build_firmware(DENSE, tmp_path_factory.mktemp("m4"), "cortex-m4")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes only once reaped; /proc tells which.
    return Path(f"/proc/{pid}").exists()


def test_outputs_are_exact_and_counts_are_instructions(firmware: Firmware) -> None:
    assert firmware.flash_bytes > firmware.sections[".rodata"] > 0
    assert firmware.stack_reserved == 16384
    rng = np.random.default_rng(0)
    inputs = rng.integers(-128, 128, (5, 64), dtype=np.int8)
    with Emulator(firmware.elf, "cortex-m4") as emulator, emulator.connect() as device:
        info = device.info()
        results = [device.invoke(x.tobytes()) for x in inputs]
        stats = device.stats()
        spin_ticks = device.spin(2_000_000)
        pid = emulator.pid
    assert (info.core, info.fpu, info.input_size, info.output_size) == ("cortex-m4", True, 64, 10)
    assert [r.output for r in results] == [dense_reference(x) for x in inputs]
    ticks = [r.ticks for r in results]
    # A data-independent kernel on an instruction-counted clock: equal counts up to the phase
    # of the tick at which each invoke starts (idle time between requests moves it).
    assert min(ticks) > 0 and max(ticks) - min(ticks) <= 1
    assert 0 < stats.stack_used < stats.stack_size and stats.invokes == 5
    # Two instructions per loop iteration: QEMU's SysTick counts 1 per 40 instructions.
    assert 2_000_000 * 2 / spin_ticks == pytest.approx(instructions_per_tick(), rel=1e-3)
    assert pid is not None and not _alive(pid)


def test_firmware_rejects_garbled_frames_and_recovers(firmware: Firmware) -> None:
    with Emulator(firmware.elf, "cortex-m4") as emulator:
        with emulator.connect():
            pass  # let the firmware boot, then talk raw bytes to it
        port = open_port(emulator.url)
        decoder = FrameDecoder()

        def exchange(data: bytes) -> list:
            port.write(data)
            deadline = time.monotonic() + 2
            frames: list = []
            while not frames and time.monotonic() < deadline:
                frames = decoder.feed(port.read(max(1, port.in_waiting)))
            return frames

        try:
            bad_crc = bytearray(encode_frame(FrameType.PING, 9, b"payload"))
            bad_crc[9] ^= 0x01
            (nak,) = exchange(bytes(bad_crc))
            assert (nak.type, nak.seq, nak.payload) == (FrameType.NAK, 9, bytes([NakReason.CRC]))
            # A truncated frame: zeros (what the client sends before a retry) complete it
            # whatever the firmware's inter-byte timer did; the answer for it is a stale NAK.
            port.write(encode_frame(FrameType.PING, 10, b"never finished")[:12])
            port.write(bytes(64 + 11))
            bad_header = bytearray(encode_frame(FrameType.PING, 11, b"x"))
            bad_header[4] ^= 0x40
            frames = exchange(bytes(bad_header) + encode_frame(FrameType.PING, 12, b"ok"))
            while frames[-1].seq != 12:
                frames += exchange(b"")
            *stale, pong = frames
            assert all((f.type, f.seq) == (FrameType.NAK, 10) for f in stale)
            assert (pong.type, pong.payload) == (FrameType.PING | 0x80, b"ok")
            (stats,) = exchange(encode_frame(FrameType.STATS, 13))
            frame_errors = int.from_bytes(stats.payload[12:16], "little")
            assert frame_errors == 3
        finally:
            port.close()


def test_fault_is_reported_and_the_device_comes_back(firmware: Firmware) -> None:
    with Emulator(firmware.elf, "cortex-m4") as emulator, emulator.connect(1.0, 2) as device:
        with pytest.raises(DeviceError, match="faulted during INVOKE: HardFault at pc=0x"):
            device.invoke(b"FALT" + bytes(60))
        result = device.invoke(bytes(64))
    assert result.output == dense_reference(np.zeros(64, dtype=np.int8))
    assert device.resets == 1


def test_killed_emulator_ends_the_run_at_once(firmware: Firmware) -> None:
    with Emulator(firmware.elf, "cortex-m4") as emulator:
        device = emulator.connect(timeout=5.0)
        pid = emulator.pid
        assert pid is not None
        emulator.stop()
        start = time.monotonic()
        with pytest.raises(DeviceError, match="connection to the device lost|cannot write"):
            for _ in range(3):
                device.invoke(bytes(64))
        device.close()
    assert time.monotonic() - start < 2.0
    assert not _alive(pid)


def test_exception_inside_the_context_still_kills_qemu(firmware: Firmware) -> None:
    pid = None
    with pytest.raises(RuntimeError), Emulator(firmware.elf, "cortex-m4") as emulator:
        pid = emulator.pid
        raise RuntimeError("boom")
    assert pid is not None and not _alive(pid)


def test_other_cores(tmp_path: Path) -> None:
    m3 = build_firmware(DENSE, tmp_path / "m3", "cortex-m3")
    with Emulator(m3.elf, "cortex-m3") as emulator, emulator.connect() as device:
        assert device.info().core == "cortex-m3"
        assert device.invoke(bytes(64)).output == dense_reference(np.zeros(64, dtype=np.int8))
    m0 = build_firmware(DENSE, tmp_path / "m0", "cortex-m0plus")
    assert m0.flash_bytes > 0
    with pytest.raises(DeviceError, match="cannot emulate 'cortex-m0plus'"):
        Emulator(m0.elf, "cortex-m0plus")


def test_build_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="no tinynas_model.h inside"):
        build_firmware(tmp_path, tmp_path / "build")
    (tmp_path / "tinynas_model.h").write_text("#define TINYNAS_INPUT_SIZE 4\n")
    (tmp_path / "broken.c").write_text("int tinynas_invoke(void) { return x; }\n")
    with pytest.raises(DeviceError, match="firmware build for cortex-m4 failed: .*error") as error:
        build_firmware(tmp_path, tmp_path / "build")
    assert "\n" not in str(error.value)
