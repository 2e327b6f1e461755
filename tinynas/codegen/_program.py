"""What the generator builds from a graph before writing any C: kernel calls in execution order,
views (tensors that share another tensor's bytes), and constant arrays for flash."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinynas.errors import ExportError
from tinynas.graph import Graph, Operator, Tensor

#: numpy dtype of each C element type the generated code stores in flash.
CTYPES = {"int8_t": np.int8, "int32_t": np.int32}


@dataclass(frozen=True)
class TensorRef:
    """A kernel argument pointing into a tensor (``offset`` bytes in)."""

    index: int
    offset: int = 0
    write: bool = False


@dataclass(frozen=True)
class ConstRef:
    """A kernel argument naming a constant array (or ``NULL`` when ``name`` is empty)."""

    name: str


@dataclass(frozen=True)
class Literal:
    """A kernel argument written as it is (a size, for instance)."""

    text: str


Arg = TensorRef | ConstRef | Literal


@dataclass
class Step:
    """One kernel call.

    Attributes:
        opcode: The TFLite operator it implements (for comments and the report).
        kernel: The C function.
        params: The C struct type of its parameter block and the block's fields, or None.
        args: The remaining arguments, in order.
    """

    opcode: str
    kernel: str
    params: tuple[str, dict[str, Any]] | None
    args: list[Arg]

    @property
    def reads(self) -> list[int]:
        """Tensors the call reads."""
        return [a.index for a in self.args if isinstance(a, TensorRef) and not a.write]

    @property
    def writes(self) -> list[int]:
        """Tensors the call writes."""
        return [a.index for a in self.args if isinstance(a, TensorRef) and a.write]


@dataclass
class ConstArray:
    """An array in flash."""

    name: str
    ctype: str
    values: np.ndarray
    comment: str = ""

    @property
    def nbytes(self) -> int:
        """Bytes the array takes."""
        return int(self.values.size * np.dtype(CTYPES[self.ctype]).itemsize)


@dataclass
class Program:
    """A graph lowered to kernel calls.

    Attributes:
        graph: The (rewritten) graph the calls implement.
        steps: Kernel calls in execution order.
        views: Tensor -> (tensor whose bytes it shares, byte offset into them).
        consts: Arrays for flash, in order of first use.
    """

    graph: Graph
    steps: list[Step] = field(default_factory=list)
    views: dict[int, tuple[int, int]] = field(default_factory=dict)
    consts: list[ConstArray] = field(default_factory=list)
    _by_content: dict[tuple[str, bytes], str] = field(default_factory=dict, repr=False)
    _by_tensor: dict[tuple[int, str], str] = field(default_factory=dict, repr=False)

    def tensor(self, index: int) -> Tensor:
        """A tensor of the graph."""
        return self.graph.tensors[index]

    def add(self, op: Operator, kernel: str, params: tuple[str, dict[str, Any]] | None,
            *args: Arg) -> None:
        """Append a kernel call implementing ``op``."""
        self.steps.append(Step(op.opcode, kernel, params, list(args)))

    def view(self, tensor: int, base: int, offset: int = 0) -> None:
        """Make ``tensor`` share the bytes of ``base`` from ``offset`` on."""
        self.views[tensor] = (base, offset)

    def const(self, ctype: str, values: Any, comment: str = "") -> ConstRef:
        """A flash array holding ``values`` (identical arrays are stored once)."""
        array = np.ascontiguousarray(np.asarray(values, dtype=CTYPES[ctype]).reshape(-1))
        key = (ctype, array.tobytes())
        name = self._by_content.get(key)
        if name is None:
            name = f"tn_c{len(self.consts)}"
            self._by_content[key] = name
            self.consts.append(ConstArray(name, ctype, array, comment))
        return ConstRef(name)

    def tensor_data(self, index: int, ctype: str) -> ConstRef:
        """The constant tensor ``index`` as a flash array of ``ctype``."""
        t = self.tensor(index)
        if t.data is None:
            raise ExportError(f"tensor {index} should be a constant but has no data")
        dtype = np.dtype(CTYPES[ctype]).newbyteorder("<")
        if len(t.data) != t.elements * dtype.itemsize:
            raise ExportError(f"tensor {index} is {t.dtype}, expected {ctype} data")
        return self.const(ctype, np.frombuffer(t.data, dtype=dtype),
                          f"tensor {index} {list(t.shape)}")


NULL = ConstRef("")
