"""Write a :class:`tinynas.graph.Graph` as a TFLite flatbuffer, deterministically.

The layout is a fixed function of the graph's structure: tensor names, the description,
signature defs and metadata are not written, every activation shares the empty buffer 0, and
options at their schema default are omitted. So the size of a converted-then-normalized model
can be predicted exactly from the architecture before training (constants without ``data``
are written as zeros of the right size).

Objects are laid out front to back, breadth first: each table is preceded by its vtable (or
reuses an identical earlier one), and every offset points forward, as flatbuffers requires.
Constant buffers are aligned to 16 bytes like the TFLite converter's, so kernels may read
int32 biases and int8 weights with word loads.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from tinynas.graph import Graph, Tensor
from tinynas.tflite_schema import builtin_code, enum_values, options_fields, options_type

#: Scalar kind -> (struct format, size).
_SCALARS = {
    "Bool": ("<?", 1), "Int8": ("<b", 1), "Uint8": ("<B", 1), "Int16": ("<h", 2),
    "Uint16": ("<H", 2), "Int32": ("<i", 4), "Uint32": ("<I", 4), "Int64": ("<q", 8),
    "Uint64": ("<Q", 8), "Float32": ("<f", 4), "Float64": ("<d", 8),
}

_SCHEMA_VERSION = 3
_BUFFER_ALIGN = 16
#: ``deprecated_builtin_code`` is an int8: larger operator codes store this placeholder there.
_PLACEHOLDER_FOR_GREATER_OP_CODES = 127

_SCALAR_STRUCTS = {kind: struct.Struct(fmt) for kind, (fmt, _size) in _SCALARS.items()}
_SOFFSET = struct.Struct("<i")
_UOFFSET = struct.Struct("<I")

_Child = Callable[["_Sizer"], int]
#: A table field: (slot, scalar kind or "offset", value or child writer).
_Field = tuple[int, str, Any]


#: (slot, kind) sequence of a table -> (vtable, inline size, alignment, field offsets).
_TABLE_LAYOUTS: dict[tuple[tuple[int, str], ...],
                     tuple[bytes, int, int, tuple[int, ...]]] = {}


def _table_layout(key: tuple[tuple[int, str], ...]) -> tuple[bytes, int, int, tuple[int, ...]]:
    """Inline layout of a table with these fields: largest first, as flatc does, so the inline
    part needs no inner padding; then the vtable that describes it."""
    sizes = [4 if kind == "offset" else _SCALARS[kind][1] for _slot, kind in key]
    order = sorted(range(len(key)), key=lambda i: (-sizes[i], key[i][0]))
    offsets = [0] * len(key)
    inline = 4
    for i in order:
        inline += -inline % sizes[i]
        offsets[i] = inline
        inline += sizes[i]
    table_align = max([4, *sizes])
    inline += -inline % table_align
    by_slot = {key[i][0]: offsets[i] for i in range(len(key))}
    slots = max(by_slot) + 1 if by_slot else 0
    vtable = struct.pack(f"<{2 + slots}H", 4 + 2 * slots, inline,
                         *(by_slot.get(i, 0) for i in range(slots)))
    return vtable, inline, table_align, tuple(offsets)


class _Sizer:
    """Lays objects out front to back with deferred children, tracking positions only.

    :class:`_Writer` adds the bytes; both share every layout decision, so
    :func:`serialized_size` is the length of :func:`serialize` by construction.
    """

    #: Whether scalars are stored (a sizer only needs positions).
    writes = False

    def __init__(self) -> None:
        self.pos = 8
        self._pending: deque[tuple[int, _Child]] = deque()
        self._vtables: dict[bytes, int] = {}

    def _grow(self, n: int, data: Callable[[], bytes] | None = None) -> None:
        """Append ``n`` bytes: ``data()`` when writing, zeros when it is None."""
        self.pos += n

    def _put(self, packer: struct.Struct, at: int, value: Any) -> None:
        """Store a scalar at an already reserved position."""

    def _align(self, alignment: int, extra: int = 0) -> None:
        """Pad so that ``pos + extra`` is a multiple of ``alignment``."""
        pad = -(self.pos + extra) % alignment
        if pad:
            self._grow(pad)

    def table(self, fields: list[_Field]) -> int:
        """Lay out a table (fields at default already dropped); return its position."""
        key = tuple([field[:2] for field in fields])
        layout = _TABLE_LAYOUTS.get(key)
        if layout is None:
            layout = _TABLE_LAYOUTS[key] = _table_layout(key)
        vtable, inline, table_align, offsets = layout
        vt_pos = self._vtables.get(vtable)
        if vt_pos is None:
            self._align(2)
            vt_pos = self._vtables[vtable] = self.pos
            self._grow(len(vtable), lambda: vtable)
        self._align(table_align)
        pos = self.pos
        self._grow(inline)
        pending = self._pending
        for (_slot, kind, value), offset in zip(fields, offsets, strict=True):
            if kind == "offset":
                pending.append((pos + offset, value))
            elif self.writes:
                self._put(_SCALAR_STRUCTS[kind], pos + offset, value)
        if self.writes:
            self._put(_SOFFSET, pos, pos - vt_pos)
        return pos

    def scalars(self, kind: str, values: Any, alignment: int = 1) -> int:
        """Lay out a vector of scalars; return the position of its length field."""
        fmt, size = _SCALARS[kind]
        self._align(max(4, size, alignment), extra=4)
        pos = self.pos
        self._grow(4 + size * len(values),
                   lambda: struct.pack(f"<I{len(values)}{fmt[1]}", len(values), *values))
        return pos

    def blob(self, content: bytes | None, length: int, alignment: int) -> int:
        """Lay out a ``[ubyte]`` vector (zeros when ``content`` is None)."""
        self._align(alignment, extra=4)
        pos = self.pos
        self._grow(4, lambda: _UOFFSET.pack(length))
        self._grow(length, None if content is None else lambda: content)
        return pos

    def string(self, text: str) -> int:
        """Lay out a string; return the position of its length field."""
        raw = text.encode("utf-8")
        self._align(4)
        pos = self.pos
        self._grow(len(raw) + 5, lambda: _UOFFSET.pack(len(raw)) + raw + b"\0")
        return pos

    def tables(self, children: list[_Child]) -> int:
        """Lay out a vector of tables (the tables themselves follow later)."""
        self._align(4)
        pos = self.pos
        self._grow(4 + 4 * len(children), lambda: _UOFFSET.pack(len(children)))
        for i, child in enumerate(children):
            self._pending.append((pos + 4 + 4 * i, child))
        return pos

    def run(self, root: _Child) -> None:
        """Lay out the root table and everything it refers to, breadth first."""
        self._pending.append((0, root))
        while self._pending:
            at, child = self._pending.popleft()
            target = child(self)
            self._put(_UOFFSET, at, target - at)


class _Writer(_Sizer):
    """:class:`_Sizer` that also produces the bytes."""

    writes = True

    def __init__(self, identifier: bytes) -> None:
        super().__init__()
        self.buf = bytearray(4) + identifier

    def _grow(self, n: int, data: Callable[[], bytes] | None = None) -> None:
        chunk = data() if data is not None else bytes(n)
        # A vector's length prefix may come alone, the rest of its reservation as zeros.
        self.buf.extend(chunk)
        if len(chunk) < n:
            self.buf.extend(bytes(n - len(chunk)))
        self.pos += n

    def _put(self, packer: struct.Struct, at: int, value: Any) -> None:
        packer.pack_into(self.buf, at, value)


def _offset(slot: int, child: _Child) -> _Field:
    return (slot, "offset", child)


def _string_child(value: str) -> _Child:
    return lambda w: w.string(value)


def _scalars_child(kind: str, values: tuple[Any, ...]) -> _Child:
    return lambda w: w.scalars(kind, values)


def _ints(slot: int, values: tuple[int, ...] | list[int]) -> _Field:
    return _offset(slot, lambda w: w.scalars("Int32", values))


def serialize(graph: Graph) -> bytes:
    """The flatbuffer of ``graph``, with names, description and metadata left out.

    Args:
        graph: The graph; constant tensors without ``data`` are written as zeros, and quantized
            tensors without scales as ``quant_channels`` zero scales and zero points.

    Returns:
        The ``.tflite`` bytes.
    """
    writer = _Writer(b"TFL3")
    writer.run(_model(graph))
    return bytes(writer.buf)


def serialized_size(graph: Graph) -> int:
    """Bytes of :func:`serialize` ``(graph)`` (the predicted size of the converted model),
    computed without producing them."""
    sizer = _Sizer()
    sizer.run(_model(graph))
    return sizer.pos


def _model(graph: Graph) -> _Child:
    """The root table of ``graph``'s flatbuffer, as a deferred child."""
    opcodes = graph.opcodes
    opcode_index = {name: i for i, name in enumerate(opcodes)}
    constants = [t for t in graph.tensors if t.constant]
    buffer_of = {t.index: i + 1 for i, t in enumerate(constants)}

    def opcode_table(name: str) -> _Child:
        code = builtin_code(name)
        fields: list[_Field] = [(0, "Int8", min(code, _PLACEHOLDER_FOR_GREATER_OP_CODES))]
        if code:
            fields.append((3, "Int32", code))
        return lambda w: w.table([f for f in fields if f[2]])

    def buffer_table(t: Tensor | None) -> _Child:
        if t is None:
            return lambda w: w.table([])
        return lambda w: w.table([_offset(0, lambda w2: w2.blob(t.data, t.nbytes,
                                                                 _BUFFER_ALIGN))])

    def subgraph(w: _Sizer) -> int:
        fields = [
            _offset(0, lambda w2: w2.tables([_tensor_table(t, buffer_of.get(t.index, 0))
                                             for t in graph.tensors])),
            _ints(1, graph.inputs),
            _ints(2, graph.outputs),
            _offset(3, lambda w2: w2.tables([_operator_table(op.opcode, opcode_index[op.opcode],
                                                             op.inputs, op.outputs, op.options)
                                             for op in graph.operators])),
        ]
        return w.table(fields)

    def model(w: _Sizer) -> int:
        return w.table([
            (0, "Uint32", _SCHEMA_VERSION),
            _offset(1, lambda w2: w2.tables([opcode_table(n) for n in opcodes])),
            _offset(2, lambda w2: w2.tables([subgraph])),
            _offset(4, lambda w2: w2.tables([buffer_table(None)]
                                            + [buffer_table(t) for t in constants])),
        ])

    return model


def _tensor_table(t: Tensor, buffer: int) -> _Child:
    fields: list[_Field] = [_ints(0, t.shape)]
    type_value = enum_values("TensorType")[t.dtype.upper()]
    if type_value:
        fields.append((1, "Int8", type_value))
    if buffer:
        fields.append((2, "Uint32", buffer))
    if t.quant_channels:
        fields.append(_offset(4, _quantization_table(t)))
    if t.variable:
        fields.append((5, "Bool", True))
    return lambda w: w.table(fields)


def _quantization_table(t: Tensor) -> _Child:
    n = t.quant_channels
    scale = t.scale if len(t.scale) == n else (0.0,) * n
    zero_point = t.zero_point if len(t.zero_point) == n else (0,) * n
    fields: list[_Field] = [
        _offset(2, lambda w: w.scalars("Float32", scale)),
        _offset(3, lambda w: w.scalars("Int64", zero_point)),
    ]
    if t.quant_axis:
        fields.append((6, "Int32", t.quant_axis))
    return lambda w: w.table(fields)


def _operator_table(opcode: str, opcode_index: int, inputs: tuple[int, ...],
                    outputs: tuple[int, ...], options: Mapping[str, Any]) -> _Child:
    fields: list[_Field] = [_ints(1, inputs), _ints(2, outputs)]
    if opcode_index:
        fields.append((0, "Uint32", opcode_index))
    type_name = options_type(opcode) if options else None
    if options and type_name is None:
        raise ValueError(f"operator {opcode} takes no builtin options, got {dict(options)}")
    if type_name is not None:
        fields.append((3, "Uint8", enum_values("BuiltinOptions")[type_name]))
        fields.append(_offset(4, _options_table(type_name, options)))
    return lambda w: w.table(fields)


def _options_table(type_name: str, options: Mapping[str, Any]) -> _Child:
    fields: list[_Field] = []
    known = options_fields(type_name)
    unknown = set(options) - {f.name for f in known}
    if unknown:
        raise ValueError(f"{type_name} has no field {sorted(unknown)[0]!r}; fields: "
                         f"{', '.join(f.name for f in known)}")
    for field in known:
        value = options.get(field.name)
        if value is None:
            continue
        if field.kind == "String":
            fields.append(_offset(field.slot, _string_child(str(value))))
        elif field.kind.startswith("vector:"):
            kind = field.kind.split(":", 1)[1]
            fields.append(_offset(field.slot, _scalars_child(kind, tuple(value))))
        else:
            if isinstance(value, str):
                if field.enum is None:
                    raise ValueError(f"{type_name}.{field.name} takes a number, got {value!r}")
                value = enum_values(field.enum)[value]
            if value != field.default:
                fields.append((field.slot, field.kind, value))
    return lambda w: w.table(fields)


def normalize(data: bytes, path: str = "<bytes>") -> bytes:
    """Rewrite a TFLite model so that its bytes depend on its structure and values only.

    Strips tensor names, the description, signature defs and metadata, and repacks with
    :func:`serialize`. Runs identically in TFLite and TFLite Micro.

    Args:
        data: A full-int8 ``.tflite``.
        path: Name used in error messages.

    Raises:
        ModelFileError: The model is not a readable full-int8 TFLite flatbuffer.
    """
    from tinynas.tflite_reader import read_tflite

    return serialize(read_tflite(data, path))
