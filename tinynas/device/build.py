"""Cross-compiling the firmware around a generated model and reading its section sizes."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from tinynas.errors import DeviceError, MissingDependencyError

FIRMWARE_DIR = Path(__file__).resolve().parent.parent.parent / "firmware"
#: Cores the firmware builds for (QEMU emulates all but the M0+).
CPUS = ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7")
MODEL_HEADER = "tinynas_model.h"
#: Sections that occupy flash; ``.data`` too, as its initial values are copied from flash.
FLASH_SECTIONS = (".text", ".rodata", ".ARM.exidx", ".data")
#: Sections that occupy RAM before the stack.
RAM_SECTIONS = (".data", ".bss")
_MAIN = re.compile(rb"\bint\s+main\s*\(")
_BUILD_TIMEOUT_S = 600


@dataclass(frozen=True)
class Firmware:
    """A built firmware image.

    Attributes:
        elf: The linked image.
        cpu: The core it was built for.
        sections: Bytes per allocated section, from ``arm-none-eabi-size -A``.
        model_crc32: CRC-32 of the model's .tflite baked in; 0 when unknown.
    """

    elf: Path
    cpu: str
    sections: dict[str, int] = field(default_factory=dict)
    model_crc32: int = 0

    @property
    def flash_bytes(self) -> int:
        """Code, constants (the model's weights among them) and initial values of data."""
        return sum(self.sections.get(name, 0) for name in FLASH_SECTIONS)

    @property
    def static_ram_bytes(self) -> int:
        """Data and bss (the model's tensor arena among them), without the stack."""
        return sum(self.sections.get(name, 0) for name in RAM_SECTIONS)

    @property
    def stack_reserved(self) -> int:
        """Bytes the linker script reserves for the stack."""
        return self.sections.get(".stack", 0)


def find_runtime(model_dir: Path) -> Path:
    """The folder of an exported bundle that holds the generated C runtime.

    Args:
        model_dir: An exported bundle, or the runtime folder itself.

    Returns:
        The folder containing ``tinynas_model.h``.

    Raises:
        DeviceError: No generated runtime in ``model_dir``.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise DeviceError(f"{model_dir}: no such folder (expected an exported model bundle)")
    if (model_dir / MODEL_HEADER).is_file():
        return model_dir
    found = sorted(model_dir.rglob(MODEL_HEADER))
    if not found:
        raise DeviceError(f"{model_dir}: no {MODEL_HEADER} inside: not an exported bundle "
                          f"(run `tinynas export` first)")
    return found[0].parent


def model_sources(runtime_dir: Path) -> list[Path]:
    """The runtime's C sources, without host programs (files that define ``main``)."""
    return sorted(p for p in runtime_dir.glob("*.c") if not _MAIN.search(p.read_bytes()))


def toolchain() -> tuple[str, str]:
    """Paths of ``arm-none-eabi-gcc`` and ``arm-none-eabi-size``.

    Raises:
        MissingDependencyError: The cross toolchain is not installed.
    """
    gcc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    if gcc is None or size is None:
        raise MissingDependencyError("arm-none-eabi-gcc not found: install the Debian packages "
                                     "gcc-arm-none-eabi and libnewlib-arm-none-eabi")
    return gcc, size


def build_firmware(model_dir: Path, build_dir: Path, cpu: str = "cortex-m4", *,
                   opt: str = "-O2", stack_size: int = 16384, baud: int = 115200,
                   tflite: bytes | None = None) -> Firmware:
    """Compile the firmware with a generated model for one core.

    Args:
        model_dir: An exported bundle or its runtime folder.
        build_dir: Where objects and ``app.elf`` go.
        cpu: One of :data:`CPUS`.
        opt: Optimisation flag for the whole image.
        stack_size: Bytes reserved for the stack.
        baud: The UART's baud rate.
        tflite: The model, whose CRC-32 the firmware then reports; read from the bundle's
            ``model.tflite`` when omitted.

    Returns:
        The image and its section sizes.

    Raises:
        DeviceError: No runtime in ``model_dir``, an unknown core, or the compiler failed.
        MissingDependencyError: No cross toolchain.
    """
    if cpu not in CPUS:
        raise DeviceError(f"unknown core {cpu!r} for the firmware; available: {', '.join(CPUS)}")
    toolchain()
    runtime = find_runtime(model_dir).resolve()
    if tflite is None:
        candidate = Path(model_dir) / "model.tflite"
        tflite = candidate.read_bytes() if candidate.is_file() else None
    crc = zlib.crc32(tflite) if tflite is not None else 0
    build_dir = Path(build_dir).resolve()
    sources = " ".join(str(p) for p in model_sources(runtime))
    command = ["make", "--no-print-directory", "-C", str(FIRMWARE_DIR), f"CPU={cpu}",
               f"MODEL_DIR={runtime}", f"MODEL_SRCS={sources}", f"BUILD_DIR={build_dir}",
               f"OPT={opt}", f"STACK_SIZE={stack_size}", f"BAUD={baud}", f"MODEL_CRC32={crc}"]
    try:
        result = subprocess.run(command, capture_output=True, text=True,
                                timeout=_BUILD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise DeviceError(f"firmware build for {cpu} took over {_BUILD_TIMEOUT_S} s") from None
    if result.returncode != 0:
        raise DeviceError(f"firmware build for {cpu} failed: {_first_error(result.stderr)}")
    elf = build_dir / "app.elf"
    return Firmware(elf=elf, cpu=cpu, sections=section_sizes(elf), model_crc32=crc)


def section_sizes(elf: Path) -> dict[str, int]:
    """Bytes per allocated section of an ELF image (``arm-none-eabi-size -A``).

    Args:
        elf: The image.

    Returns:
        Section name to size, for sections loaded into memory (debug sections left out).
    """
    _, size = toolchain()
    result = subprocess.run([size, "-A", str(elf)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DeviceError(f"{elf}: arm-none-eabi-size failed: {result.stderr.strip()}")
    sections: dict[str, int] = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            if not parts[0].startswith((".debug", ".comment", ".ARM.attributes")):
                sections[parts[0]] = int(parts[1])
    return sections


def _first_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[-1] if lines else "no output"
