"""Running exported models on a microcontroller or on QEMU over a serial line, and measuring them.

The firmware (``firmware/``) speaks the framed protocol of ``firmware/PROTOCOL.md``;
:class:`DeviceClient` is its host side over any pyserial URL, :class:`Emulator` runs it under QEMU,
:func:`build_firmware` cross-compiles it around a generated model, :func:`run_bench` measures a
model end to end and :func:`calibrate` fits the latency model to the measurements. TensorFlow is
never imported here.
"""

from __future__ import annotations

from tinynas.device.bench import BenchResult, run_bench
from tinynas.device.build import CPUS, Firmware, build_firmware, section_sizes
from tinynas.device.calibration import Calibration, calibrate, load_measurements
from tinynas.device.client import DeviceClient, connect, open_port
from tinynas.device.emulator import MACHINES, Emulator, instructions_per_tick

__all__ = ["CPUS", "MACHINES", "BenchResult", "Calibration", "DeviceClient", "Emulator",
           "Firmware", "build_firmware", "calibrate", "connect", "instructions_per_tick",
           "load_measurements", "open_port", "run_bench", "section_sizes"]
