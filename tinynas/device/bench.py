"""Benchmark an exported model on a device or on QEMU: accuracy on the test split, cycles (or,
emulated, instructions) per inference, flash and RAM of the firmware, and the estimator's
prediction next to each measured figure.

The same code path serves a board on ``/dev/ttyACM0`` and the emulator: only where the bytes go
differs.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinynas.device.build import Firmware, build_firmware, find_runtime
from tinynas.device.client import DEFAULT_BAUD, DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, DeviceClient
from tinynas.device.emulator import Emulator, instructions_per_tick
from tinynas.errors import DeviceError, ExportError, ModelFileError

if TYPE_CHECKING:
    from tinynas.boards import Board
    from tinynas.graph import Graph
    from tinynas.latency import CoreProfile

MODEL_FILE = "model.tflite"
#: Iterations of the firmware's two-instruction loop run to tell silicon from an emulator.
SPIN_ITERATIONS = 1_000_000


@dataclass
class BenchResult:
    """What one bench run measured. ``to_dict`` is the ``--json`` output and the input of
    ``tinynas calibrate``.

    Attributes:
        model: Absolute path of the benchmarked ``.tflite``.
        model_sha256: Its hash, so calibration notices a file that changed since.
        device: The port or URL, or ``qemu:<core>``.
        core: Core the firmware runs on (from the device's CPUID).
        emulated: Whether the counts come from an instruction-counting emulator (QEMU with
            ``-icount``), found by timing a loop of known length, so also through ``--port``.
        count_unit: ``"instructions"`` (QEMU with ``-icount``) or ``"cycles"`` (silicon).
        samples: Inferences run.
        inputs: Where the inputs came from.
        accuracy: On-device int8 accuracy on the test split (``None`` for random inputs).
        host_accuracy: The same inputs through the same generated runtime built for the host.
        mismatches: Samples whose device output differs from the host's in any byte.
        cycles_per_inference: Median count per inference, in :attr:`count_unit`.
        cycles_min: Smallest count seen.
        cycles_max: Largest count seen.
        macs: Multiply-accumulates per inference (estimator).
        cycles_per_mac: ``cycles_per_inference / macs``.
        clock_mhz: The board's clock (``None`` without ``--board``).
        latency_ms: ``cycles_per_inference`` at the board's clock.
        flash_bytes: Firmware text + rodata + data initialisers (``arm-none-eabi-size``).
        ram_bytes: Firmware data + bss + stack high-water mark.
        stack_used: Stack high-water mark measured on the device.
        sections: Allocated sections of the firmware image.
        firmware_cpu: Core the size figures were built for.
        estimated_cycles: The estimator's cycles with the core's default profile.
        calibrated_cycles: The estimator's cycles with the given calibrated profile.
        board: Board name, if given.
        instructions_per_tick: Emulated only: instructions per counter tick.
        resends: Requests that had to be sent again.
        resets: Device resets seen during the run.
        seconds: Wall time of the run.
    """

    model: str
    model_sha256: str
    device: str
    core: str
    emulated: bool
    count_unit: str
    samples: int
    inputs: str
    accuracy: float | None
    host_accuracy: float | None
    mismatches: int | None
    cycles_per_inference: float
    cycles_min: float
    cycles_max: float
    macs: int
    cycles_per_mac: float | None
    clock_mhz: float | None
    latency_ms: float | None
    flash_bytes: int
    ram_bytes: int
    stack_used: int
    sections: dict[str, int] = field(default_factory=dict)
    firmware_cpu: str = ""
    estimated_cycles: float | None = None
    calibrated_cycles: float | None = None
    board: str | None = None
    instructions_per_tick: float | None = None
    resends: int = 0
    resets: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return asdict(self)


@dataclass(frozen=True)
class Inputs:
    """Quantized inputs of a bench run.

    Attributes:
        data: ``(samples, input bytes)`` int8.
        labels: Class per sample, or ``None`` for random inputs.
        source: Where they came from, for the report.
    """

    data: np.ndarray
    labels: np.ndarray | None
    source: str


def read_model(model_dir: Path) -> tuple[bytes, Path]:
    """The ``.tflite`` of an exported bundle.

    Raises:
        ModelFileError: There is none.
    """
    path = Path(model_dir) / MODEL_FILE
    try:
        return path.read_bytes(), path.resolve()
    except OSError:
        raise ModelFileError(f"{path}: no such file: --model must be an exported bundle "
                             f"(a folder with {MODEL_FILE} and the generated runtime)") from None


def bundle_dataset(model_dir: Path) -> tuple[str, int | None]:
    """The dataset and split seed an exported bundle records in its manifest.

    Raises:
        DeviceError: The folder is no export, or its export names no dataset.
    """
    from tinynas.export import read_manifest

    try:
        info = read_manifest(Path(model_dir)).get("info") or {}
    except ExportError:
        info = {}
    if not info.get("dataset"):
        raise DeviceError(f"{model_dir}: the bundle does not record its dataset: give --dataset "
                          f"(and --seed), or --random N to time random inputs")
    seed = info.get("seed")
    return str(info["dataset"]), int(seed) if seed is not None else None


def dataset_inputs(graph: Graph, dataset: str, seed: int = 0,
                   limit: int | None = None) -> Inputs:
    """The test split of ``dataset``, quantized with the model's input parameters.

    Args:
        graph: The model.
        dataset: Name or path (see :func:`tinynas.datasets.load_dataset`); it must be split with
            the seed the model was trained with.
        seed: That seed.
        limit: Use only the first ``limit`` test samples.

    Raises:
        DeviceError: The samples do not match the model's input size.
    """
    from tinynas.convert import quantize_input
    from tinynas.datasets import load_dataset

    data = load_dataset(dataset, seed)
    tensor = graph.tensor(graph.inputs[0])
    x = data.x_test.reshape(len(data.x_test), -1)
    if x.shape[1] != tensor.elements:
        raise DeviceError(f"dataset {dataset!r} has {x.shape[1]} values per sample, the model's "
                          f"input {tensor.shape} takes {tensor.elements}: wrong --dataset?")
    scale, zero_point = _input_quantization(graph)
    end = len(x) if limit is None else limit
    return Inputs(quantize_input(x[:end], scale, zero_point), data.y_test[:end],
                  f"{data.name} test split ({min(end, len(x))} samples)")


def random_inputs(graph: Graph, count: int, seed: int = 0) -> Inputs:
    """``count`` uniformly random int8 inputs (for timing without a dataset)."""
    size = graph.tensor(graph.inputs[0]).elements
    rng = np.random.default_rng(seed)
    return Inputs(rng.integers(-128, 128, (count, size), dtype=np.int8), None,
                  f"{count} random inputs")


def host_outputs(model_dir: Path, graph: Graph, inputs: np.ndarray,
                 build_dir: Path) -> np.ndarray:
    """Outputs of the same generated runtime built for the host (its ``make host``).

    The runtime reproduces TFLite's reference kernels byte for byte (``tinynas verify`` checks
    that), so agreement here shows the cross-compiled firmware computes what the host does.

    Args:
        model_dir: An exported bundle or its runtime folder.
        graph: The model.
        inputs: ``(samples, input bytes)`` int8.
        build_dir: Scratch folder; the runtime is copied there so the bundle stays untouched.

    Returns:
        ``(samples, output bytes)`` int8.

    Raises:
        ExportError: The host build or run failed.
        MissingDependencyError: No host C compiler or ``make``.
    """
    from tinynas.export import build_host, run_host

    work = Path(build_dir) / "host"
    shutil.copytree(find_runtime(model_dir), work, dirs_exist_ok=True)
    return run_host(build_host(work), inputs, graph.tensor(graph.outputs[0]).elements)


def _input_quantization(graph: Graph) -> tuple[float, int]:
    tensor = graph.tensor(graph.inputs[0])
    scale = tensor.scale[0] if tensor.scale else 1.0
    zero_point = tensor.zero_point[0] if tensor.zero_point else 0
    return scale, zero_point


def device_outputs(client: DeviceClient, inputs: np.ndarray, timeout: float | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Run every input on the device.

    Args:
        client: A connected device.
        inputs: ``(samples, input bytes)`` int8.
        timeout: Seconds per inference answer.
        progress: Called with (done, total) after each inference.

    Returns:
        ``(samples, output bytes)`` int8 outputs and the ticks of each inference.
    """
    outputs, ticks = [], []
    for index, row in enumerate(inputs):
        result = client.invoke(row.tobytes(), timeout)
        outputs.append(np.frombuffer(result.output, dtype=np.int8))
        ticks.append(result.ticks)
        if progress:
            progress(index + 1, len(inputs))
    return np.stack(outputs), np.asarray(ticks, dtype=np.int64)


def _check_device(client: DeviceClient, tflite: bytes, graph: Graph) -> None:
    info = client.info()
    expected = graph.tensor(graph.inputs[0]).nbytes
    if info.input_size != expected:
        raise DeviceError(f"{client.url}: the firmware takes {info.input_size} input bytes, the "
                          f"model {expected}: it runs another model; build and flash this one")
    if info.model_crc32 and info.model_crc32 != zlib.crc32(tflite):
        raise DeviceError(f"{client.url}: the firmware was built for another model (CRC-32 "
                          f"0x{info.model_crc32:08x}); build and flash this one")


def run_bench(model_dir: Path, *, port: str | None = None, emulate: str | None = None,
              board: Board | None = None, dataset: str | None = None, seed: int = 0,
              limit: int | None = None, random: int = 0, baud: int = DEFAULT_BAUD,
              timeout: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES,
              profile: CoreProfile | None = None, opt: str = "-O2",
              build_dir: Path | None = None,
              progress: Callable[[int, int], None] | None = None) -> BenchResult:
    """Benchmark an exported model on a device (``port``) or on QEMU (``emulate``).

    Args:
        model_dir: An exported bundle (``model.tflite`` plus the generated runtime).
        port: Serial port or pyserial URL of a board already flashed with this model's firmware.
        emulate: Core to emulate instead (``cortex-m3``, ``cortex-m4``, ``cortex-m7``).
        board: Board whose clock turns counts into milliseconds.
        dataset: Dataset whose test split is run; ``None`` with ``random`` for timing only.
        seed: The dataset split seed the model was trained with.
        limit: Run at most this many test samples.
        random: Number of random inputs when no dataset is given.
        baud: Baud rate of a real port.
        timeout: Seconds per answer.
        retries: Extra attempts per request.
        profile: A calibrated latency profile to compare with.
        opt: Compiler optimisation flag for the firmware.
        build_dir: Where to build; a temporary folder when omitted.
        progress: Called with (done, total) after each inference.

    Returns:
        The measured figures.

    Raises:
        DeviceError: No device, no answer, a device fault, or a firmware for another model.
    """
    from tinynas.tflite_reader import read_tflite

    if (port is None) == (emulate is None):
        raise DeviceError("give exactly one of --port and --emulate")
    tflite, model_path = read_model(model_dir)
    graph = read_tflite(tflite, str(model_path))
    if dataset is not None:
        inputs = dataset_inputs(graph, dataset, seed, limit)
    elif random > 0:
        inputs = random_inputs(graph, random, seed)
    else:
        raise DeviceError("give --dataset (the test split to run) or --random N")
    started = time.monotonic()
    cpu = emulate or (board.core if board else "cortex-m4")
    with tempfile.TemporaryDirectory(prefix="tinynas-fw-") as scratch, ExitStack() as stack:
        # An absent board fails before the build, not after it.
        client = (stack.enter_context(DeviceClient.open(port, baud=baud, timeout=timeout,
                                                        retries=retries)) if port else None)
        work = Path(build_dir or scratch)
        firmware = build_firmware(model_dir, work, cpu, opt=opt, baud=baud, tflite=tflite)
        reference = host_outputs(model_dir, graph, inputs.data, work)
        if client is None:
            assert emulate is not None
            emulator = stack.enter_context(Emulator(firmware.elf, emulate))
            client = stack.enter_context(emulator.connect(timeout, retries))
        measured = _measure(client, tflite, graph, inputs, timeout, progress)
        device = port or f"qemu:{emulate}"
    return _result(measured, reference, firmware, tflite, model_path, graph, inputs, device,
                   board, profile, time.monotonic() - started)


@dataclass
class _Measured:
    outputs: np.ndarray
    ticks: np.ndarray
    core: str
    instructions_per_tick: float | None
    stack_used: int
    resends: int
    resets: int


def _measure(client: DeviceClient, tflite: bytes, graph: Graph, inputs: Inputs,
             timeout: float, progress: Callable[[int, int], None] | None) -> _Measured:
    _check_device(client, tflite, graph)
    outputs, ticks = device_outputs(client, inputs.data, timeout, progress)
    stats = client.stats()
    info = client.info()
    return _Measured(outputs, ticks, info.core, emulated_instructions_per_tick(client),
                     stats.stack_used, client.resends, client.resets)


def emulated_instructions_per_tick(client: DeviceClient) -> float | None:
    """Instructions per counter tick when the device is QEMU with ``-icount``; ``None`` on
    silicon.

    Tells them apart with the firmware's two-instruction loop: silicon needs at least a cycle
    per instruction, QEMU's SysTick advances once per tens of instructions. This holds for a
    QEMU reached through ``--port`` as well.
    """
    ticks = client.spin(SPIN_ITERATIONS)
    if ticks >= SPIN_ITERATIONS:
        return None
    info = client.info()
    expected = instructions_per_tick(info.core_clock_hz)
    measured = 2 * SPIN_ITERATIONS / max(ticks, 1)
    # The loop's own entry and exit blur the measured ratio slightly; the exact one is known.
    return expected if abs(measured / expected - 1) < 0.01 else measured


def _result(measured: _Measured, reference: np.ndarray, firmware: Firmware, tflite: bytes,
            model_path: Path, graph: Graph, inputs: Inputs, device: str, board: Board | None,
            profile: CoreProfile | None, seconds: float) -> BenchResult:
    from tinynas.estimator import estimate_graph
    from tinynas.latency import default_profile, predict_cycles

    emulated = measured.instructions_per_tick is not None
    counts = measured.ticks.astype(np.float64) * (measured.instructions_per_tick or 1.0)
    median = float(np.median(counts))
    accuracy = host_accuracy = None
    if inputs.labels is not None:
        accuracy = float(np.mean(measured.outputs.argmax(axis=1) == inputs.labels))
        host_accuracy = float(np.mean(reference.argmax(axis=1) == inputs.labels))
    mismatches = int(np.any(measured.outputs != reference, axis=1).sum())
    core = board.core if board else measured.core
    estimate = estimate_graph(graph, board, profile=default_profile(core))
    calibrated = predict_cycles(profile, graph) if profile else None
    macs = int(estimate.macs)
    return BenchResult(
        model=str(model_path), model_sha256=hashlib.sha256(tflite).hexdigest(), device=device,
        core=measured.core, emulated=emulated,
        count_unit="instructions" if emulated else "cycles", samples=len(counts),
        inputs=inputs.source,
        accuracy=accuracy, host_accuracy=host_accuracy, mismatches=mismatches,
        cycles_per_inference=median, cycles_min=float(counts.min()),
        cycles_max=float(counts.max()), macs=macs,
        cycles_per_mac=median / macs if macs else None,
        clock_mhz=board.clock_mhz if board else None,
        latency_ms=median / (board.clock_mhz * 1e3) if board else None,
        flash_bytes=firmware.flash_bytes,
        ram_bytes=firmware.static_ram_bytes + measured.stack_used,
        stack_used=measured.stack_used, sections=firmware.sections, firmware_cpu=firmware.cpu,
        estimated_cycles=float(estimate.cycles),
        calibrated_cycles=float(calibrated) if calibrated is not None else None,
        board=board.name if board else None,
        instructions_per_tick=measured.instructions_per_tick, resends=measured.resends,
        resets=measured.resets,
        seconds=seconds)
