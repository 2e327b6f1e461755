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

import numpy as np

from tinynas.errors import ExportError, MissingDependencyError, TinyNASError
from tinynas.export._bundle import read_manifest
from tinynas.export._info import ExportInfo

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

    @property
    def ok(self) -> bool:
        """Whether every output was identical."""
        return self.identical == self.total

    def summary(self) -> str:
        """One line, e.g. ``identical: 200/200 outputs (test split 100, random 100)``."""
        parts = ([f"test split {self.from_test_split}"] if self.from_test_split else [])
        parts.append(f"random {self.random}")
        return f"identical: {self.identical}/{self.total} outputs ({', '.join(parts)})"


def build_host(folder: Path, sanitize: bool = False) -> Path:
    """``make host`` in an export folder (always rebuilt, so flags take effect).

    Raises:
        MissingDependencyError: No ``make`` or C compiler.
        ExportError: The build failed (the compiler's first error is quoted).
    """
    if shutil.which("make") is None:
        raise MissingDependencyError("`make` is not installed; it builds the host program")
    cmd = ["make", "-B", "host"] + (["SANITIZE=1"] if sanitize else [])
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


def run_host(program: Path, inputs: np.ndarray, output_size: int) -> np.ndarray:
    """Feed int8 inputs (one row each) to a built host program; return its output rows.

    Raises:
        ExportError: The program failed or wrote the wrong number of bytes.
    """
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
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


def reference_outputs(tflite: bytes, inputs: np.ndarray) -> np.ndarray:
    """Outputs of TensorFlow Lite's reference kernels for int8 inputs (one row each)."""
    from tinynas.keras_env import tensorflow

    tf = tensorflow()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(
            model_content=bytes(tflite),
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    rows = np.empty((len(inputs), int(np.prod(out["shape"]))), dtype=np.int8)
    for i, row in enumerate(inputs):
        interpreter.set_tensor(inp["index"], row.reshape(inp["shape"]).astype(np.int8))
        interpreter.invoke()
        rows[i] = interpreter.get_tensor(out["index"]).reshape(-1)
    return rows


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
    mismatch = None
    if not same.all():
        k = int(np.argmin(same))
        mismatch = Mismatch(index=k, source="test split" if k < len(real) else "random",
                            expected=expected[k].tobytes(), got=got[k].tobytes())
    return VerifyResult(identical=int(same.sum()), total=len(data), from_test_split=len(real),
                        random=len(noise), first_mismatch=mismatch)
