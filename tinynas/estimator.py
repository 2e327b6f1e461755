"""Analytic resource estimate of an int8 graph: arena, flash, MACs, parameters and latency.

One code path serves both uses: the search estimates the graph a space predicts for a sampled
architecture (before any training), and ``tinynas analyze`` estimates the graph read from a
converted ``.tflite``. Both reach :func:`estimate_graph`, so they agree whenever the predicted
graph matches the converted one.

* Arena: :mod:`tinynas.arena` replays TFLite Micro's allocator (greedy memory plan of
  activations and scratch buffers, persistent runtime structs sized for the target's pointer
  width, kernel data, per-channel quantization data, temporary allocations while preparing and
  planning, 16-byte alignment).
* Flash: the ``.tflite`` bytes (:func:`tinynas.tflite_writer.serialized_size` for a predicted
  graph) plus a code reserve for the TFLite Micro runtime and each distinct kernel.
* Latency: :mod:`tinynas.latency`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tinynas.arena import kernel, plan_arena
from tinynas.latency import CoreProfile, default_profile
from tinynas.opcount import op_work
from tinynas.tflite_writer import serialized_size

if TYPE_CHECKING:
    from tinynas.boards import Board
    from tinynas.graph import Graph

TARGETS = ("mcu", "host")

#: Flash for the TFLite Micro runtime without kernels (interpreter, allocator, flatbuffer
#: access, op resolver, error reporting). Assumption: about 28 KB for a Cortex-M build with
#: -Os, the order of the interpreter's size in TFLite Micro's own footprint reports
#: (David et al., "TensorFlow Lite Micro", MLSys 2021).
RUNTIME_BASE_BYTES = 28 * 1024
#: Flash per reference kernel compiled in (assumption: -Os Cortex-M sizes of the kernels'
#: object files, int8 paths plus shared requantization helpers).
KERNEL_CODE_BYTES = {
    "CONV_2D": 6144, "DEPTHWISE_CONV_2D": 6144, "FULLY_CONNECTED": 3072,
    "AVERAGE_POOL_2D": 2560, "MAX_POOL_2D": 2048, "MEAN": 3072, "SUM": 3072, "REDUCE_MAX": 2048,
    "REDUCE_MIN": 2048,
    "SOFTMAX": 3072, "ADD": 3072, "SUB": 3072, "MUL": 2560, "LOGISTIC": 2048, "TANH": 2048,
    "RESHAPE": 512, "SQUEEZE": 512, "EXPAND_DIMS": 512, "QUANTIZE": 2048, "DEQUANTIZE": 1536,
    "RELU": 1024, "RELU6": 1024, "HARD_SWISH": 1536, "LEAKY_RELU": 1024,
    "CONCATENATION": 1536, "SPLIT": 1024, "SPLIT_V": 1024, "PACK": 1024, "UNPACK": 1024,
    "STRIDED_SLICE": 2048, "PAD": 1536, "TRANSPOSE": 1536, "MAXIMUM": 1024, "MINIMUM": 1024,
}
#: Code reserve for an operator missing from the table.
UNKNOWN_KERNEL_CODE_BYTES = 4096


@dataclass(frozen=True)
class OpCost:
    """Costs of one operator.

    Attributes:
        index: Position in execution order.
        opcode: Operator name.
        known: Whether the estimator models this operator (unknown ones get generic costs).
        input_shapes: Shapes of the non-constant inputs.
        output_shapes: Shapes of the outputs.
        macs: Multiply-accumulates.
        weight_bytes: Bytes of constant inputs other than the bias.
        bias_bytes: Bytes of the bias (third input of convolutions and fully connected).
        scratch_bytes: Scratch buffers the kernel requests (planned in the arena head).
        persistent_bytes: Arena tail bytes of the kernel (options, kernel data, per-channel).
        cycles: Estimated cycles.
    """

    index: int
    opcode: str
    known: bool
    input_shapes: tuple[tuple[int, ...], ...]
    output_shapes: tuple[tuple[int, ...], ...]
    macs: int
    weight_bytes: int
    bias_bytes: int
    scratch_bytes: int
    persistent_bytes: int
    cycles: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready costs."""
        data = asdict(self)
        data["input_shapes"] = [list(s) for s in self.input_shapes]
        data["output_shapes"] = [list(s) for s in self.output_shapes]
        return data


@dataclass(frozen=True)
class Estimate:
    """Resources of one graph on one target.

    Attributes:
        arena_bytes: Tensor arena TFLite Micro needs.
        model_bytes: The ``.tflite`` flatbuffer.
        runtime_bytes: Code reserve for the runtime and the model's kernels.
        flash_bytes: ``model_bytes + runtime_bytes``.
        macs: Multiply-accumulates per inference.
        params: Quantized constants (weights, biases), in elements.
        cycles: Estimated cycles per inference.
        latency_ms: ``cycles`` at the board's clock; None without a board.
        ops: Per-operator costs.
        target: ``"mcu"`` (32-bit build) or ``"host"`` (64-bit, the Python interpreter).
        planned_bytes: Arena head: activations and scratch buffers.
        persistent_bytes: Arena tail: runtime structs and kernel data.
        arena_peak: Allocation step that sets the arena size.
        unknown_ops: Operators the estimator does not model (costs are generic guesses).
    """

    arena_bytes: int
    model_bytes: int
    runtime_bytes: int
    flash_bytes: int
    macs: int
    params: int
    cycles: float
    latency_ms: float | None
    ops: list[OpCost]
    target: str = "mcu"
    planned_bytes: int = 0
    persistent_bytes: int = 0
    arena_peak: str = ""
    unknown_ops: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready estimate, per-operator table included."""
        data = {k: v for k, v in asdict(self).items() if k != "ops"}
        data["ops"] = [op.to_dict() for op in self.ops]
        return data

    def limits(self, board: Board) -> dict[str, dict[str, float]]:
        """Each limit of ``board`` with the estimate, the limit and the headroom.

        Headroom is ``limit - estimate``: negative means an overrun. This is the opposite sign
        of Optuna's constraint convention, where a value above 0 is a violation.
        """
        rows = {"ram": (self.arena_bytes, board.ram_limit),
                "flash": (self.flash_bytes, board.flash_limit)}
        result = {k: {"estimate": float(v), "limit": float(lim), "headroom": float(lim - v)}
                  for k, (v, lim) in rows.items()}
        if self.latency_ms is not None:
            result["latency_ms"] = {"estimate": self.latency_ms, "limit": board.latency_ms,
                                    "headroom": board.latency_ms - self.latency_ms}
        return result


def _params(graph: Graph) -> int:
    return sum(t.elements for t in graph.tensors if t.constant and t.quant_channels)


def runtime_code_bytes(opcodes: list[str]) -> int:
    """Flash reserve for the runtime and one copy of each distinct kernel."""
    return RUNTIME_BASE_BYTES + sum(KERNEL_CODE_BYTES.get(o, UNKNOWN_KERNEL_CODE_BYTES)
                                    for o in dict.fromkeys(opcodes))


def estimate_graph(graph: Graph, board: Board | None = None, target: str = "mcu",
                   profile: CoreProfile | None = None, model_bytes: int | None = None
                   ) -> Estimate:
    """Estimate the resources of an int8 graph.

    Args:
        graph: A graph predicted by a search space or read from a ``.tflite``.
        board: Gives the clock for ``latency_ms`` and the core for the default profile.
        target: ``"mcu"`` (32-bit TFLite Micro) or ``"host"`` (64-bit, the Python interpreter).
        profile: Latency constants; defaults to the board's core (Cortex-M4 without a board).
        model_bytes: Size of the model file when known (a file read from disk); otherwise the
            size the normalized flatbuffer of ``graph`` takes.

    Returns:
        The estimate.

    Raises:
        ValueError: Unknown target.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if profile is None:
        profile = default_profile(board.core if board else "cortex-m4")
    arena = plan_arena(graph, target)
    ops: list[OpCost] = []
    for i, op in enumerate(graph.operators):
        work = op_work(graph, op)
        weights = bias = 0
        for position, t in enumerate(op.inputs):
            if t < 0 or not graph.tensor(t).constant:
                continue
            nbytes = graph.tensor(t).nbytes
            if position == 2 and work.macs:
                bias += nbytes
            else:
                weights += nbytes
        ops.append(OpCost(
            index=i, opcode=op.opcode, known=kernel(op.opcode) is not None,
            input_shapes=tuple(graph.tensor(t).shape for t in op.inputs
                               if t >= 0 and not graph.tensor(t).constant),
            output_shapes=tuple(graph.tensor(t).shape for t in op.outputs),
            macs=work.macs, weight_bytes=weights, bias_bytes=bias,
            scratch_bytes=arena.scratch[i], persistent_bytes=arena.persistent_per_op[i],
            cycles=profile.work_cycles(work)))
    cycles = profile.invoke_cycles + sum(op.cycles for op in ops)
    size = serialized_size(graph) if model_bytes is None else model_bytes
    runtime = runtime_code_bytes([op.opcode for op in graph.operators])
    return Estimate(
        arena_bytes=arena.arena_bytes, model_bytes=size, runtime_bytes=runtime,
        flash_bytes=size + runtime, macs=sum(op.macs for op in ops), params=_params(graph),
        cycles=cycles, latency_ms=cycles / (board.clock_mhz * 1000.0) if board else None,
        ops=ops, target=target, planned_bytes=arena.planned_bytes,
        persistent_bytes=arena.persistent_bytes, arena_peak=arena.peak_step,
        unknown_ops=sorted({op.opcode for op in ops if not op.known}))


def estimate_tflite(data: bytes, board: Board | None = None, target: str = "mcu",
                    path: str = "<bytes>", profile: CoreProfile | None = None) -> Estimate:
    """Estimate a ``.tflite`` file (flash counts the file as it is).

    Raises:
        ModelFileError: Not a readable full-int8 TFLite flatbuffer.
    """
    from tinynas.tflite_reader import read_tflite

    graph = read_tflite(data, path)
    return estimate_graph(graph, board, target, profile, model_bytes=len(data))
