"""The tensor arena TFLite Micro needs for a graph, by replaying its allocator.

TFLite Micro splits one arena into a head, growing up from the start (the memory plan of
activations and scratch buffers, and temporary allocations while preparing), and a tail,
growing down from the end (everything that lives as long as the interpreter: runtime structs
per tensor and per operator, kernel data, per-channel quantization data). The arena must hold
head and tail together at every moment of ``AllocateTensors``, not only at the end: while
operators are prepared the head holds temporary ``TfLiteTensor`` structs, and while the memory
plan is computed it holds one ``AllocationInfo`` per tensor plus the planner's 40 bytes per
buffer. For graphs of many small tensors (an unrolled GRU) that planning moment, not the final
layout, decides the arena.

This module replays those steps with each target's struct sizes and alignment rules
(``micro_allocator.cc``, ``micro_interpreter.cc``, ``single_arena_buffer_allocator.cc``,
``micro_allocation_info.cc``) and the exact greedy planner of :mod:`tinynas.planner`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinynas.graph import Graph, Operator, Tensor
from tinynas.planner import planner
from tinynas.tflm_kernels import KERNELS, KernelSpec

#: TFLite Micro aligns every planned buffer and kernel allocation to 16 bytes.
ARENA_ALIGNMENT = 16
#: Scratch buffer requests reserved ahead for the operator being prepared.
_MAX_SCRATCH_BUFFERS_PER_OP = 12
#: Per planned buffer: BufferRequirements (16) + ListEntry (12) + 3 int arrays (12).
_PLANNER_BYTES_PER_BUFFER = 40
#: Kernel of an operator this model does not know: a typical parsed-options plus OpData size.
UNKNOWN_KERNEL = KernelSpec(params=32, opdata=((64, 48),))


@dataclass(frozen=True)
class RuntimeLayout:
    """Struct sizes of one build of TFLite Micro.

    Attributes:
        name: ``"host"`` or ``"mcu"``.
        pointer_bytes: Pointer width.
        eval_tensor_bytes: ``TfLiteEvalTensor``: data and dims pointers, type.
        node_bytes: ``NodeAndRegistration``: a ``TfLiteNode`` (6 pointers and an int) and a
            registration pointer.
        tensor_bytes: ``TfLiteTensor`` in TFLite Micro's reduced form.
        quantization_bytes: ``TfLiteAffineQuantization``: 2 pointers and an int.
        scratch_request_bytes: ``ScratchBufferRequest``: a size_t and 2 ints.
        scratch_handle_bytes: ``ScratchBufferHandle``: one pointer.
        allocation_info_bytes: ``AllocationInfo``: a size_t, a pointer, 3 ints and a bool.
        fixed_tail_bytes: Everything allocated before the model's own structs: the arena
            allocator, the ``MicroAllocator``, the greedy planner object, the builtin-data
            allocator and ``SubgraphAllocations`` (and on the host the recording allocator's
            bookkeeping, which the tflite-micro Python interpreter always uses).
    """

    name: str
    pointer_bytes: int
    eval_tensor_bytes: int
    node_bytes: int
    tensor_bytes: int
    quantization_bytes: int
    scratch_request_bytes: int
    scratch_handle_bytes: int
    allocation_info_bytes: int
    fixed_tail_bytes: int


LAYOUTS = {
    # Measured on x86-64 with the tflite-micro Python interpreter (RecordingMicroAllocator).
    "host": RuntimeLayout("host", 8, 24, 64, 64, 24, 16, 8, 32, fixed_tail_bytes=488),
    # 32-bit Cortex-M / Xtensa: the same structs with 4-byte pointers and size_t, and the plain
    # MicroAllocator (no recording): arena allocator (2 vtable pointers, 5 pointers, 2 counters:
    # 36 B), greedy planner object (44 B), MicroAllocator (40 B), builtin-data allocator (8 B)
    # and SubgraphAllocations (8 B).
    "mcu": RuntimeLayout("mcu", 4, 12, 32, 40, 12, 12, 4, 24, fixed_tail_bytes=136),
}


def kernel(opcode: str) -> KernelSpec | None:
    """The arena model of an operator's kernel, or None when unknown."""
    return KERNELS.get(opcode)


@dataclass(frozen=True)
class ArenaPlan:
    """The arena of one graph on one target.

    Attributes:
        arena_bytes: Smallest arena (a multiple of 16) that passes every allocation step.
        planned_bytes: Head after planning: activations and scratch buffers.
        persistent_bytes: Tail after allocation: runtime structs and kernel data.
        peak_step: The step that needs ``arena_bytes``: ``"final"``, ``"planning"`` or
            ``"prepare <opcode> #<index>"``.
        offsets: Planned offset of each tensor that lives in the head (tensor index -> bytes).
        scratch: Scratch buffer bytes per operator.
        persistent_per_op: Tail bytes per operator (options, kernel data, per-channel arrays).
    """

    arena_bytes: int
    planned_bytes: int
    persistent_bytes: int
    peak_step: str
    offsets: dict[int, int]
    scratch: tuple[int, ...]
    persistent_per_op: tuple[int, ...]


def _round(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


class _Allocator:
    """TFLite Micro's single-arena allocator, tracking offsets only.

    The tail is measured from the arena end and the head from the arena start; both ends are
    16-byte aligned, so an allocation's alignment padding is a function of these offsets.
    """

    def __init__(self) -> None:
        self.tail = 0
        self.head = 0
        self.temp = 0
        self.peak = 0
        self.peak_step = ""

    def end_step(self, step: str) -> None:
        """Record the arena in use at the end of a step.

        Within a step, head, temporaries and tail only grow, so its end is its peak.
        """
        need = max(self.head, self.temp) + self.tail
        if need > self.peak:
            self.peak, self.peak_step = need, step

    def persistent(self, size: int, alignment: int) -> int:
        self.tail = -(-(self.tail + size) // alignment) * alignment
        return size

    def temporary(self, size: int, alignment: int) -> None:
        self.temp = -(-self.temp // alignment) * alignment + size

    def resize_head(self, size: int) -> None:
        self.head = self.temp = size


def _quantized(t: Tensor) -> bool:
    return t.quant_channels > 0


def _tensor_struct(alloc: _Allocator, t: Tensor, layout: RuntimeLayout, persistent: bool) -> None:
    """A ``TfLiteTensor`` with its quantization, as the interpreter or a kernel asks for it."""
    add = alloc.persistent if persistent else alloc.temporary
    add(layout.tensor_bytes, layout.pointer_bytes)
    if _quantized(t):
        add(layout.quantization_bytes, layout.pointer_bytes)
        add(4 + 4 * t.quant_channels, 4)


def _per_channel_weights(graph: Graph, op: Operator) -> bool:
    return (len(op.inputs) > 1 and op.inputs[1] >= 0
            and graph.tensor(op.inputs[1]).quant_channels > 1)


def _output_channels(graph: Graph, op_index: int) -> int:
    """Channels of an operator's first output (the last dimension)."""
    op = graph.operators[op_index]
    shape = graph.tensor(op.outputs[0]).shape
    return shape[-1] if shape else 1


def plan_arena(graph: Graph, target: str = "mcu", kind: str = "greedy") -> ArenaPlan:
    """Replay TFLite Micro's ``AllocateTensors`` for ``graph`` on ``target``.

    Args:
        graph: The int8 graph.
        target: ``"host"`` (64-bit, the tflite-micro Python interpreter) or ``"mcu"`` (32-bit).
        kind: Memory planner, ``"greedy"`` (TFLite Micro's default) or ``"linear"``.

    Returns:
        The arena plan.
    """
    layout = LAYOUTS[target]
    specs = [kernel(op.opcode) or UNKNOWN_KERNEL for op in graph.operators]
    index = 1 if target == "mcu" else 0
    alloc = _Allocator()
    persistent_per_op = [0] * len(graph.operators)

    alloc.persistent(layout.fixed_tail_bytes, layout.pointer_bytes)
    alloc.resize_head(layout.scratch_request_bytes * _MAX_SCRATCH_BUFFERS_PER_OP)
    alloc.persistent(layout.eval_tensor_bytes * len(graph.tensors), layout.pointer_bytes)
    alloc.persistent(layout.node_bytes * len(graph.operators), layout.pointer_bytes)
    for i, spec in enumerate(specs):
        if spec.params:
            persistent_per_op[i] += alloc.persistent(spec.params, spec.params_align)
    for i, spec in enumerate(specs):
        for sizes in spec.opdata:
            persistent_per_op[i] += alloc.persistent(sizes[index], ARENA_ALIGNMENT)

    scratch: list[tuple[int, int]] = []  # (operator, bytes)
    for i, (op, spec) in enumerate(zip(graph.operators, specs, strict=True)):
        for t in spec.temp_tensors(op):
            _tensor_struct(alloc, graph.tensor(t), layout, persistent=False)
        channels = _output_channels(graph, i)
        arrays = spec.per_channel_arrays
        if spec.per_channel_only and not _per_channel_weights(graph, op):
            arrays = 0
        for _ in range(arrays):
            persistent_per_op[i] += alloc.persistent(4 * channels, ARENA_ALIGNMENT)
        scratch.extend((i, size) for size in spec.scratch(op, graph))
        alloc.end_step(f"prepare {op.opcode} #{i}")
        alloc.resize_head(layout.scratch_request_bytes
                          * (len(scratch) + _MAX_SCRATCH_BUFFERS_PER_OP))

    if scratch:
        alloc.persistent(layout.scratch_handle_bytes * len(scratch), layout.pointer_bytes)
    for tensor in graph.tensors:
        if tensor.variable:
            alloc.persistent(tensor.nbytes, ARENA_ALIGNMENT)
    buffers, tensor_ids = _lifetimes(graph, scratch)
    memory = planner(kind)
    for size, first, last in buffers:
        memory.add_buffer(_round(size, ARENA_ALIGNMENT), first, last)
    alloc.temporary(layout.pointer_bytes, layout.pointer_bytes)
    alloc.temporary(layout.allocation_info_bytes * (len(graph.tensors) + len(scratch)),
                    layout.pointer_bytes)
    alloc.temporary(sum(spec.planning_extra[index] for spec in specs), layout.pointer_bytes)
    alloc.temporary(_PLANNER_BYTES_PER_BUFFER * len(buffers), ARENA_ALIGNMENT)
    alloc.end_step("planning")
    offsets = memory.offsets()
    planned = max((o + b.size for o, b in zip(offsets, memory.buffers, strict=True)), default=0)

    alloc.temp = 0
    alloc.resize_head(planned)
    for group in (graph.inputs, graph.outputs):
        # MicroAllocator::AllocatePersistentBuffer: always 16-byte aligned.
        alloc.persistent(layout.pointer_bytes * len(group), ARENA_ALIGNMENT)
        for t in group:
            _tensor_struct(alloc, graph.tensor(t), layout, persistent=True)
    alloc.end_step("final")

    scratch_per_op = [0] * len(graph.operators)
    for op_index, size in scratch:
        scratch_per_op[op_index] += _round(size, ARENA_ALIGNMENT)
    return ArenaPlan(
        arena_bytes=_round(alloc.peak, ARENA_ALIGNMENT),
        planned_bytes=planned,
        persistent_bytes=alloc.tail,
        peak_step=alloc.peak_step,
        offsets={t: offsets[k] for k, t in enumerate(tensor_ids) if t >= 0},
        scratch=tuple(scratch_per_op),
        persistent_per_op=tuple(persistent_per_op),
    )


def _lifetimes(graph: Graph, scratch: list[tuple[int, int]]
               ) -> tuple[list[tuple[int, int, int]], list[int]]:
    """Buffers to plan as (bytes, first step, last step), in TFLite Micro's order: tensors by
    index, then scratch buffers by request; and the tensor index of each (-1 for scratch)."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in graph.inputs + graph.outputs:
        first[t] = last[t] = 0
    for step, op in enumerate(graph.operators, start=1):
        for t in op.outputs:
            first[t] = last[t] = step
        for t in op.inputs:
            if t >= 0:
                last[t] = step
    end = len(graph.operators)
    for t in graph.outputs:
        last[t] = end
    buffers, ids = [], []
    for tensor in graph.tensors:
        if tensor.constant or tensor.variable or tensor.nbytes == 0:
            continue
        # A tensor no operator touches is still planned, with TFLite Micro's unset lifetime.
        buffers.append((tensor.nbytes, first.get(tensor.index, -1), last.get(tensor.index, -1)))
        ids.append(tensor.index)
    for op_index, size in scratch:
        buffers.append((size, op_index + 1, op_index + 1))
        ids.append(-1)
    return buffers, ids
