"""Where every tensor lives: the caller's input and output buffers, flash, or an offset in one
static arena laid out over tensor lifetimes by :class:`tinynas.planner.GreedyPlanner`.

Unlike TFLite Micro's arena, the arena holds nothing but intermediate tensors: views (reshapes,
contiguous slices, exact requantization round trips) share their source's bytes, the graph input
is read where the caller keeps it, and the last operator writes into the caller's output buffer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinynas.codegen._program import Literal, Program, Step, TensorRef
from tinynas.planner import GreedyPlanner

#: Arena offsets are multiples of this, so word loads stay aligned on every core.
ALIGN = 4

INPUT, OUTPUT, ARENA = "input", "output", "arena"


@dataclass
class Layout:
    """Tensor placement.

    Attributes:
        where: Tensor -> (region, byte offset); region is :data:`INPUT`, :data:`OUTPUT` or
            :data:`ARENA`.
        arena_bytes: Size of the static arena.
        buffers: Arena buffers as (root tensor, offset, size, first step, last step).
    """

    where: dict[int, tuple[str, int]] = field(default_factory=dict)
    arena_bytes: int = 0
    buffers: list[tuple[int, int, int, int, int]] = field(default_factory=list)


def _root(program: Program, index: int) -> tuple[int, int]:
    offset = 0
    while index in program.views:
        index, extra = program.views[index]
        offset += extra
    return index, offset


def route_output(program: Program) -> None:
    """Let the producer of the graph output write straight into the caller's output buffer.

    When the output shares bytes with a tensor that cannot move there (the graph input, or a
    larger tensor it is a slice of), a final copy is appended instead.
    """
    graph = program.graph
    out = graph.outputs[0]
    root, offset = _root(program, out)
    size = program.tensor(out).nbytes
    movable = (root not in graph.inputs and offset == 0 and program.tensor(root).nbytes == size
               and program.tensor(root).data is None)
    if root != out and not movable:
        del program.views[out]
        src = TensorRef(root, offset)
        program.steps.append(Step("COPY", "tn_copy_blocks", None, [
            src, TensorRef(out, write=True), Literal("1"), Literal(str(size)), Literal("0"),
            Literal("0")]))


def lay_out(program: Program) -> Layout:
    """Place every tensor the steps touch.

    Args:
        program: The lowered graph, after :func:`route_output`.

    Returns:
        The layout; the arena packs buffers whose lifetimes do not overlap into the same bytes.
    """
    graph = program.graph
    layout = Layout()
    out_root, _ = _root(program, graph.outputs[0])
    externals = {graph.inputs[0]: INPUT, out_root: OUTPUT}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for k, step in enumerate(program.steps):
        for index in step.reads + step.writes:
            root, _ = _root(program, index)
            first.setdefault(root, k)
            last[root] = k
    roots = [r for r in first if r not in externals]
    plan = GreedyPlanner()
    for r in roots:
        # Sizes rounded up keep every buffer word-aligned.
        plan.add_buffer(-(-program.tensor(r).nbytes // ALIGN) * ALIGN, first[r], last[r])
    offsets = plan.offsets()
    for r, offset in zip(roots, offsets, strict=True):
        externals[r] = ARENA
        layout.buffers.append((r, offset, program.tensor(r).nbytes, first[r], last[r]))
    base = dict(zip(roots, offsets, strict=True))
    for step in program.steps:
        for index in step.reads + step.writes:
            root, offset = _root(program, index)
            layout.where[index] = (externals[root], base.get(root, 0) + offset)
    layout.arena_bytes = max((o + s for _, o, s, _, _ in layout.buffers), default=0)
    return layout
