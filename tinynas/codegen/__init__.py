"""A dependency-free C99 int8 runtime generated for one model.

Weights become const arrays in flash, intermediate tensors share one static arena laid out over
their lifetimes, and every operator is a call into the kernels of ``runtime/``, which reproduce
TensorFlow Lite's reference arithmetic so outputs are identical, not close.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tinynas.codegen import _emit
from tinynas.codegen._emit import c_float
from tinynas.codegen._ops import lowering, supported_operators
from tinynas.codegen._plan import Layout, lay_out, route_output
from tinynas.codegen._program import Program
from tinynas.codegen._rewrite import elide_float_round_trips
from tinynas.errors import ExportError, UnsupportedOperatorError
from tinynas.graph import Graph

#: The kernel sources copied into every generated runtime.
RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"


@dataclass(frozen=True)
class GeneratedRuntime:
    """What :func:`generate` wrote and the memory it needs.

    Attributes:
        files: Paths written, in a stable order.
        arena_bytes: Static arena for intermediate tensors.
        input_bytes: The caller's input buffer.
        output_bytes: The caller's output buffer.
        const_bytes: Weights, biases, multipliers and tables in flash (parameter blocks and code
            not included).
        calls: Kernel calls per inference.
    """

    files: tuple[Path, ...]
    arena_bytes: int
    input_bytes: int
    output_bytes: int
    const_bytes: int
    calls: int

    @property
    def static_ram_bytes(self) -> int:
        """Arena plus the input and output buffers: all the RAM one inference touches."""
        return self.arena_bytes + self.input_bytes + self.output_bytes


def check_supported(graph: Graph) -> None:
    """Refuse a graph the runtime cannot run, naming the first unsupported operator.

    Raises:
        UnsupportedOperatorError: An operator without a kernel, listing the supported ones.
        ExportError: Not exactly one input and one output.
    """
    for op in graph.operators:
        if lowering(op.opcode) is None:
            raise UnsupportedOperatorError(
                f"operator {op.opcode} is not supported by the generated C runtime; supported: "
                f"{', '.join(supported_operators())}")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ExportError(f"the model has {len(graph.inputs)} inputs and {len(graph.outputs)} "
                          "outputs; the generated runtime needs exactly one of each")


def lower(graph: Graph) -> tuple[Program, Layout]:
    """Lower a graph to kernel calls and place its tensors.

    Raises:
        UnsupportedOperatorError: An operator or a float path the runtime does not implement.
        ExportError: An operator's shapes or quantization outside what its kernel handles.
    """
    check_supported(graph)
    program = Program(elide_float_round_trips(graph))
    for t in (program.tensor(program.graph.inputs[0]), program.tensor(program.graph.outputs[0])):
        if t.dtype != "int8" or not t.scale:
            raise ExportError(f"model {'input' if t.index in graph.inputs else 'output'} tensor "
                              f"{t.index} is {t.dtype}{'' if t.scale else ' without scale'}; "
                              "export needs quantized int8 inputs and outputs")
    for op in program.graph.operators:
        fn = lowering(op.opcode)
        assert fn is not None
        fn(program, op)
    route_output(program)
    return program, lay_out(program)


def generate(graph: Graph, out_dir: Path) -> GeneratedRuntime:
    """Write the C runtime of ``graph`` into ``out_dir`` (which must exist).

    Args:
        graph: A full-int8 graph from :func:`tinynas.tflite_reader.read_tflite`.
        out_dir: Destination folder.

    Returns:
        The files written and the memory figures.

    Raises:
        UnsupportedOperatorError: An operator the runtime does not implement.
        ExportError: A shape or quantization the kernels do not handle.
    """
    program, layout = lower(graph)
    texts = {
        "tinynas_model.h": _emit.model_header(program, layout),
        "tinynas_model.c": _emit.model_source(program, layout),
        "host_main.c": _emit.HOST_MAIN,
        "Makefile": _emit.MAKEFILE,
    }
    files = []
    for name, text in texts.items():
        path = out_dir / name
        path.write_text(text)
        files.append(path)
    for source in sorted(RUNTIME_DIR.iterdir()):
        if source.suffix in (".c", ".h"):
            files.append(Path(shutil.copyfile(source, out_dir / source.name)))
    x = program.tensor(program.graph.inputs[0])
    y = program.tensor(program.graph.outputs[0])
    return GeneratedRuntime(files=tuple(files), arena_bytes=layout.arena_bytes,
                            input_bytes=x.nbytes, output_bytes=y.nbytes,
                            const_bytes=sum(a.nbytes for a in program.consts),
                            calls=len(program.steps))


__all__ = ["RUNTIME_DIR", "GeneratedRuntime", "c_float", "check_supported", "generate", "lower",
           "supported_operators"]
