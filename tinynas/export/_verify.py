"""``verify_bundle``: build an export's host program and compare it byte for byte with TensorFlow
Lite's reference kernels (``OpResolverType.BUILTIN_REF``) on the dataset's test split and on
random inputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinynas.errors import ExportError, MissingDependencyError, TinyNASError
from tinynas.export._bundle import read_manifest
from tinynas.export._info import ExportInfo

if TYPE_CHECKING:
    from tinynas.graph import Graph

#: Seconds a build or a run of the host program may take.
TIMEOUT = 300


@dataclass(frozen=True)
class Mismatch:
    """The first input whose outputs differ."""

    index: int
    source: str
    expected: bytes
    got: bytes


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_bundle`.

    Attributes:
        identical: Inputs whose output bytes are identical.
        total: Inputs compared.
        from_test_split: How many came from the dataset's test split.
        random: How many were uniform random int8 tensors.
        first_mismatch: The first differing input, if any.
    """

    identical: int
    total: int
    from_test_split: int
    random: int
    first_mismatch: Mismatch | None = None
    first_difference: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every output was identical."""
        return self.identical == self.total

    def summary(self) -> str:
        """One line, e.g. ``identical: 200/200 outputs (test split 100, random 100)``."""
        parts = ([f"test split {self.from_test_split}"] if self.from_test_split else [])
        parts.append(f"random {self.random}")
        return f"identical: {self.identical}/{self.total} outputs ({', '.join(parts)})"


def build_host(folder: Path, sanitize: bool = False, trace: bool = False) -> Path:
    """``make host`` in an export folder (always rebuilt, so flags take effect).

    Raises:
        MissingDependencyError: No ``make`` or C compiler.
        ExportError: The build failed (the compiler's first error is quoted).
    """
    if shutil.which("make") is None:
        raise MissingDependencyError("`make` is not installed; it builds the host program")
    cmd = (["make", "-B", "host"] + (["SANITIZE=1"] if sanitize else [])
           + (["TRACE=1"] if trace else []))
    try:
        done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ExportError(f"{folder}: `make host` took over {TIMEOUT} s") from None
    if done.returncode != 0:
        text = done.stderr + done.stdout
        if "not found" in text and ("cc" in text or "gcc" in text):
            raise MissingDependencyError(f"no C compiler to build {folder}: {text.strip()}")
        first = next((ln for ln in text.splitlines() if "error" in ln.lower()),
                     text.strip().splitlines()[-1] if text.strip() else "no output")
        raise ExportError(f"{folder}: `{' '.join(cmd)}` failed: {first.strip()}")
    return folder / "tinynas_host"


def run_host(program: Path, inputs: np.ndarray, output_size: int,
             trace_file: Path | None = None) -> np.ndarray:
    """Feed int8 inputs (one row each) to a built host program; return its output rows.

    Args:
        program: The built ``tinynas_host``.
        inputs: One input tensor per row.
        output_size: Bytes of one output.
        trace_file: Where a program built with ``TRACE=1`` records intermediate tensors.

    Raises:
        ExportError: The program failed or wrote the wrong number of bytes.
    """
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    if trace_file is not None:
        env["TINYNAS_TRACE_FILE"] = str(trace_file)
    try:
        done = subprocess.run([str(program)], input=np.ascontiguousarray(inputs, np.int8).tobytes(),
                              capture_output=True, timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        raise ExportError(f"{program} took over {TIMEOUT} s for {len(inputs)} inputs") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = next((ln for ln in lines if "ERROR" in ln or "runtime error" in ln),
                      lines[0] if lines else f"exit status {done.returncode}")
        raise ExportError(f"{program} failed: {reason.strip()}")
    expected = len(inputs) * output_size
    if len(done.stdout) != expected:
        raise ExportError(f"{program} wrote {len(done.stdout)} bytes for {len(inputs)} inputs, "
                          f"expected {expected}")
    return np.frombuffer(done.stdout, dtype=np.int8).reshape(len(inputs), output_size)


def _reference_interpreter(tflite: bytes, keep_tensors: bool = False) -> Any:
    from tinynas.keras_env import tensorflow

    tf = tensorflow()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(
            model_content=bytes(tflite),
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
            experimental_preserve_all_tensors=keep_tensors)
        try:
            interpreter.allocate_tensors()
        except RuntimeError as exc:  # the interpreter's Prepare refuses the model's parameters
            reason = " ".join(str(exc).split())
            raise ExportError(f"TensorFlow Lite cannot run model.tflite to compare with: "
                              f"{reason}") from None
    return interpreter


def reference_outputs(tflite: bytes, inputs: np.ndarray) -> np.ndarray:
    """Outputs of TensorFlow Lite's reference kernels for int8 inputs (one row each)."""
    interpreter = _reference_interpreter(tflite)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    rows = np.empty((len(inputs), int(np.prod(out["shape"]))), dtype=np.int8)
    for i, row in enumerate(inputs):
        interpreter.set_tensor(inp["index"], row.reshape(inp["shape"]).astype(np.int8))
        interpreter.invoke()
        rows[i] = interpreter.get_tensor(out["index"]).reshape(-1)
    return rows


@dataclass(frozen=True)
class TensorCheck:
    """One intermediate tensor of the generated runtime compared with TensorFlow Lite's.

    Attributes:
        call: The kernel call that finished the tensor (its number in ``tinynas_model.c``).
        tensor: The tensor's index in the model.
        differing: For how many of the compared inputs its bytes differed.
    """

    call: int
    tensor: int
    differing: int


def _read_trace(path: Path) -> list[list[tuple[int, int, bytes]]]:
    """Trace records grouped per inference (call numbers restart with every inference)."""
    raw = path.read_bytes()
    runs: list[list[tuple[int, int, bytes]]] = []
    pos, last_call = 0, None
    while pos + 12 <= len(raw):
        call, tensor, size = np.frombuffer(raw, dtype="<i4", count=3, offset=pos)
        pos += 12
        if last_call is None or call <= last_call:
            runs.append([])
        runs[-1].append((int(call), int(tensor), raw[pos:pos + int(size)]))
        pos += int(size)
        last_call = call
    return runs


def trace_tensors(folder: Path, inputs: np.ndarray, sanitize: bool = False
                  ) -> list[TensorCheck]:
    """Compare every intermediate tensor of an export's runtime with TensorFlow Lite's.

    Builds the host program with ``TRACE=1`` and runs TensorFlow Lite keeping all tensors.

    Args:
        folder: An export folder.
        inputs: int8 inputs, one per row.
        sanitize: Build with the sanitizers too.

    Returns:
        Every int8 tensor a kernel call finished, in execution order.
    """
    tflite = (Path(folder) / "model.tflite").read_bytes()
    program = build_host(Path(folder), sanitize=sanitize, trace=True)
    trace = Path(folder) / "trace.bin"
    try:
        from tinynas.tflite_reader import read_tflite

        graph = read_tflite(tflite)
        run_host(program, inputs, graph.tensor(graph.outputs[0]).elements, trace_file=trace)
        runs = _read_trace(trace)
    finally:
        trace.unlink(missing_ok=True)
    interpreter = _reference_interpreter(tflite, keep_tensors=True)
    inp = interpreter.get_input_details()[0]
    counts: dict[tuple[int, int], int] = {}
    for row, records in zip(inputs, runs, strict=True):
        interpreter.set_tensor(inp["index"], row.reshape(inp["shape"]).astype(np.int8))
        interpreter.invoke()
        for call, tensor, data in records:
            expected = interpreter.get_tensor(tensor)
            if expected.dtype != np.int8:
                continue
            same = expected.tobytes() == data
            counts[(call, tensor)] = counts.get((call, tensor), 0) + (not same)
    return [TensorCheck(call, tensor, n) for (call, tensor), n in sorted(counts.items())]


def _test_split(info: ExportInfo, count: int, size: int, scale: float,
                zero_point: int) -> np.ndarray:
    """Up to ``count`` quantized test samples, or none when the dataset cannot be loaded."""
    if not info.dataset or count <= 0:
        return np.empty((0, size), dtype=np.int8)
    from tinynas.convert import quantize_input
    from tinynas.datasets import load_dataset

    try:
        data = load_dataset(info.dataset, seed=int(info.seed or 0))
    except TinyNASError as exc:
        raise ExportError(f"the export's dataset {info.dataset!r} cannot be loaded to replay "
                          f"its test split: {exc}") from None
    x = np.asarray(data.x_test[:count], dtype=np.float32).reshape(-1)
    if x.size % size:
        raise ExportError(f"test samples of {info.dataset!r} have {x.size // max(count, 1)} "
                          f"values; the model takes {size}")
    return quantize_input(x.reshape(-1, size), scale, zero_point)


def verify_bundle(folder: Path, inputs: int = 200, sanitize: bool = False,
                  seed: int = 0) -> VerifyResult:
    """Build the host program of an export and compare it with TensorFlow Lite.

    Half of the inputs come from the dataset's test split when the export names its dataset
    (fewer if the split is smaller), the rest are uniform random int8 tensors.

    Args:
        folder: An export folder.
        inputs: How many inputs to compare (at least 1).
        sanitize: Build with AddressSanitizer and UndefinedBehaviorSanitizer.
        seed: Seed of the random inputs.

    Raises:
        ExportError: Not an export, a failed build, or a host program that crashed.
        MissingDependencyError: No compiler or ``make``.
    """
    if inputs < 1:
        raise ExportError(f"--inputs must be at least 1, got {inputs}")
    folder = Path(folder)
    manifest = read_manifest(folder)
    info = ExportInfo.from_dict(manifest.get("info", {}))
    tflite = (folder / "model.tflite").read_bytes()
    from tinynas.tflite_reader import read_tflite

    graph = read_tflite(tflite, str(folder / "model.tflite"))
    x, y = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
    program = build_host(folder, sanitize)
    real = _test_split(info, inputs // 2, x.elements, x.scale[0],
                       x.zero_point[0] if x.zero_point else 0)
    rng = np.random.default_rng(seed)
    noise = rng.integers(-128, 128, size=(inputs - len(real), x.elements), dtype=np.int8)
    data = np.concatenate([real, noise]) if len(real) else noise
    expected = reference_outputs(tflite, data)
    got = run_host(program, data, y.elements)
    same = np.all(expected == got, axis=1)
    mismatch, where = None, None
    if not same.all():
        k = int(np.argmin(same))
        mismatch = Mismatch(index=k, source="test split" if k < len(real) else "random",
                            expected=expected[k].tobytes(), got=got[k].tobytes())
        where = _first_difference(folder, graph, data[~same][:8])
    return VerifyResult(identical=int(same.sum()), total=len(data), from_test_split=len(real),
                        random=len(noise), first_mismatch=mismatch, first_difference=where)


def _first_difference(folder: Path, graph: Graph, inputs: np.ndarray) -> str | None:
    """Name the first kernel call whose output differs, for the mismatching inputs (the host
    program is rebuilt with tracing for that)."""
    from tinynas.codegen import lower

    diffs = [c for c in trace_tensors(folder, inputs) if c.differing]
    if not diffs:
        return None
    program, _ = lower(graph)
    first = diffs[0]
    opcode = program.steps[first.call].opcode if first.call < len(program.steps) else "?"
    return (f"kernel call {first.call} ({opcode}) writes tensor {first.tensor} differently for "
            f"{first.differing} of {len(inputs)} mismatching inputs")
