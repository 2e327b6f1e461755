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
        overlaps: Calls whose output was placed over the consumed part of their input.
    """

    where: dict[int, tuple[str, int]] = field(default_factory=dict)
    arena_bytes: int = 0
    buffers: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    overlaps: list[Overlap] = field(default_factory=list)


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


#: Kernels that finish output row y before reading input rows past y * stride - pad + window:
#: their output may start a few rows below their input and overwrite rows already consumed.
_WINDOW_KERNELS = ("tn_conv2d_s8", "tn_depthwise_conv2d_s8", "tn_avg_pool_s8", "tn_max_pool_s8")
#: Kernels that write element i only after reading element i of the given input arguments, so
#: their output may take that input's place.
_ELEMENTWISE_INPUTS = {"tn_lut_s8": (1,), "tn_requantize_s8": (0,), "tn_add_s8": (0, 1),
                       "tn_mul_s8": (0, 1)}


@dataclass(frozen=True)
class Overlap:
    """A kernel call whose output starts ``gap`` bytes below its input, in the input's bytes.

    Attributes:
        call: The kernel call.
        source: The input's root tensor (its last use is this call).
        target: The output's root tensor (first written by this call).
        gap: Bytes between the output's start and the input's start.
    """

    call: int
    source: int
    target: int
    gap: int


def _window_gap(fields: dict[str, int]) -> int:
    """Smallest gap keeping every output row below the input rows still to be read."""
    channels_in = fields.get("in_c", fields.get("channels", 0))
    channels_out = fields.get("out_c", fields.get("channels", 0))
    row_in, row_out = fields["in_w"] * channels_in, fields["out_w"] * channels_out
    return max(0, max((y + 1) * row_out - max(0, y * fields["stride_h"] - fields["pad_h"]) * row_in
                      for y in range(fields["out_h"])))


def _overlaps(program: Program, first: dict[int, int], last: dict[int, int],
              arena: set[int]) -> list[Overlap]:
    """Every call that could write its output over its dying input, best saving first."""
    writers: dict[int, list[int]] = {}
    for k, step in enumerate(program.steps):
        for t in step.writes:
            writers.setdefault(_root(program, t)[0], []).append(k)
    found = []
    for k, step in enumerate(program.steps):
        if len(step.writes) != 1:
            continue
        target, offset = _root(program, step.writes[0])
        size = program.tensor(target).nbytes
        if target not in arena or offset or writers[target] != [k] or \
                program.tensor(step.writes[0]).nbytes != size:
            continue
        positions: tuple[int, ...]
        if step.kernel in _WINDOW_KERNELS and step.params is not None:
            positions, gap = (0,), _window_gap(step.params[1])
        elif step.kernel in _ELEMENTWISE_INPUTS:
            positions, gap = _ELEMENTWISE_INPUTS[step.kernel], 0
            if step.kernel in ("tn_add_s8", "tn_mul_s8") and step.params is not None:
                dims = step.params[1]["dims"]
                dense = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1]
                positions = tuple(p for p, key in zip(positions, ("stride1", "stride2"),
                                                      strict=True)
                                  if [s if d > 1 else 0 for s, d in zip(step.params[1][key], dims,
                                                                        strict=True)]
                                  == [s if d > 1 else 0 for s, d in zip(dense, dims,
                                                                        strict=True)])
        else:
            continue
        for position in positions:
            arg = step.args[position]
            if not isinstance(arg, TensorRef):
                continue
            source, source_offset = _root(program, arg.index)
            if (source in arena and not source_offset and arg.offset == 0 and last[source] == k
                    and program.tensor(arg.index).nbytes == program.tensor(source).nbytes
                    and gap < size):
                found.append(Overlap(k, source, target, gap))
                break
    return sorted(found, key=lambda o: o.gap - program.tensor(o.target).nbytes)


class _Groups:
    """Roots bound together by accepted overlaps, each at a fixed offset inside its group."""

    def __init__(self) -> None:
        self.group: dict[int, int] = {}
        self.offset: dict[int, int] = {}
        self.members: dict[int, list[int]] = {}
        #: Pairs of roots (either order) that may share bytes: an overlap or one group.
        self.allowed: set[tuple[int, int]] = set()

    def copy(self) -> _Groups:
        new = _Groups()
        new.group, new.offset = dict(self.group), dict(self.offset)
        new.members = {g: list(m) for g, m in self.members.items()}
        new.allowed = set(self.allowed)
        return new

    def _ensure(self, root: int) -> int:
        if root not in self.group:
            self.group[root], self.offset[root], self.members[root] = root, 0, [root]
        return self.group[root]

    def bind(self, overlap: Overlap) -> None:
        """Place the target ``gap`` bytes below the source (merging their groups)."""
        g_src, g_dst = self._ensure(overlap.source), self._ensure(overlap.target)
        if g_src == g_dst:
            return
        shift = self.offset[overlap.source] - overlap.gap - self.offset[overlap.target]
        for m in self.members.pop(g_dst):
            self.group[m], self.offset[m] = g_src, self.offset[m] + shift
            self.members[g_src].append(m)
        low = min(self.offset[m] for m in self.members[g_src])
        for m in self.members[g_src]:
            self.offset[m] -= low
        # Within a group, offsets were checked once (see _consistent); placement skips them.
        members = self.members[g_src]
        self.allowed |= {(a, b) for a in members for b in members if a != b}


def _consistent(groups: _Groups, overlaps: list[Overlap], sizes: dict[int, int],
                first: dict[int, int], last: dict[int, int]) -> bool:
    """Whether members of one group share bytes only where an overlap allows it."""
    allowed = {(o.source, o.target) for o in overlaps}
    for members in groups.members.values():
        for a in members:
            for b in members:
                if a >= b or first[a] > last[b] or first[b] > last[a]:
                    continue
                if (a, b) in allowed or (b, a) in allowed:
                    continue
                lo_a, lo_b = groups.offset[a], groups.offset[b]
                if lo_a < lo_b + sizes[b] and lo_b < lo_a + sizes[a]:
                    return False
    return True


def _greedy(roots: list[int], sizes: dict[int, int], first: dict[int, int],
            last: dict[int, int]) -> tuple[int, dict[int, int]]:
    """Arena size and offsets from the project's greedy planner (no overlaps)."""
    plan = GreedyPlanner()
    for r in roots:
        # Sizes rounded up keep every buffer word-aligned.
        plan.add_buffer(_aligned(sizes[r]), first[r], last[r])
    base = dict(zip(roots, plan.offsets(), strict=True))
    return max((base[r] + sizes[r] for r in roots), default=0), base


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _first_fit(roots: list[int], sizes: dict[int, int], first: dict[int, int],
               last: dict[int, int], groups: _Groups) -> tuple[int, dict[int, int]]:
    """Arena size and offsets when grouped roots keep their offsets relative to each other.

    The greedy planner's rule, applied to groups: largest group first, each at the lowest
    aligned offset where none of its members meets a placed member alive at the same time.
    Members are checked one by one, so a group is not charged its whole extent for its whole
    lifetime.
    """
    units: dict[int, list[int]] = {}
    for r in roots:
        units.setdefault(groups.group.get(r, r), []).append(r)
    rel = {r: groups.offset.get(r, 0) for r in roots}

    def extent(key: int) -> int:
        return max(rel[m] + sizes[m] for m in units[key])

    base: dict[int, int] = {}
    placed: list[int] = []
    for key in sorted(units, key=lambda k: (-extent(k), min(first[m] for m in units[k]))):
        members = units[key]
        clashes = [(p, m) for p in placed for m in members
                   if first[m] <= last[p] and first[p] <= last[m]]
        candidates = sorted({0} | {_aligned(base[p] + sizes[p] - rel[m]) for p, m in clashes})
        for start in candidates:
            if start < 0:
                continue
            if all(start + rel[m] >= base[p] + sizes[p] or base[p] >= start + rel[m] + sizes[m]
                   for p, m in clashes if (p, m) not in groups.allowed):
                break
        for m in members:
            base[m] = start + rel[m]
        placed.extend(members)
    return max((base[r] + sizes[r] for r in roots), default=0), base


def lay_out(program: Program) -> Layout:
    """Place every tensor the steps touch.

    Buffers whose lifetimes do not overlap share bytes (the greedy planner). Then, one kernel
    call at a time, an output is moved to start just below its dying input, in the bytes that
    input no longer needs (as TinyEngine does), whenever that does not grow the arena.

    Args:
        program: The lowered graph, after :func:`route_output`.

    Returns:
        The layout.
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
    sizes = {r: program.tensor(r).nbytes for r in roots}
    groups = _Groups()
    accepted: list[Overlap] = []
    best, base = _first_fit(roots, sizes, first, last, groups)
    pending = _overlaps(program, first, last, set(roots))
    # An overlap can pay off only once a neighbouring one is in place: retry until none is taken.
    while pending:
        taken = []
        for overlap in pending:
            trial = groups.copy()
            trial.bind(overlap)
            if not _consistent(trial, [*accepted, overlap], sizes, first, last):
                continue
            arena, trial_base = _first_fit(roots, sizes, first, last, trial)
            if arena <= best:
                best, base, groups = arena, trial_base, trial
                accepted.append(overlap)
                taken.append(overlap)
        if not taken:
            break
        pending = [o for o in pending if o not in taken]
    plain, plain_base = _greedy(roots, sizes, first, last)
    if plain <= best:
        # Without a strict gain, keep the planner's layout and every kernel in its own bytes.
        best, base, accepted = plain, plain_base, []
    layout.overlaps = accepted
    for r in roots:
        externals[r] = ARENA
        layout.buffers.append((r, base[r], sizes[r], first[r], last[r]))
    for step in program.steps:
        for index in step.reads + step.writes:
            root, offset = _root(program, index)
            layout.where[index] = (externals[root], base.get(root, 0) + offset)
    layout.arena_bytes = best
    return layout
