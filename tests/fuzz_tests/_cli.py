"""Helpers shared by the bad-input tests."""

from __future__ import annotations

import contextlib
import io
from functools import cache

from tinynas.cli import main


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run the command line in this process; return exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own refusals
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@cache
def real_model_bytes() -> bytes:
    """A real full-int8 .tflite of the smallest ds_cnn architecture (written without
    TensorFlow by the project's own flatbuffer writer)."""
    from tinynas.spaces import load_space
    from tinynas.tflite_writer import serialize

    space = load_space("ds_cnn")
    return serialize(space.graph(space.smallest(), (8, 8, 1), 10))


@cache
def exportable_model_bytes() -> bytes:
    """:func:`real_model_bytes` with every int8 and int32 tensor given a scale (the int8
    softmax output the one TFLite requires), so that export accepts it; its bias scales are not
    the product of input and weight scales, which TensorFlow Lite's own kernels refuse."""
    import dataclasses

    from tinynas.spaces import load_space
    from tinynas.tflite_writer import serialize

    space = load_space("ds_cnn")
    graph = space.graph(space.smallest(), (8, 8, 1), 10)
    out = graph.outputs[0]
    tensors = []
    for t in graph.tensors:
        if t.dtype in ("int8", "int32"):
            n = max(1, t.quant_channels)
            scale, zero = (1 / 256, -128) if t.index == out else (0.05, 0)
            t = dataclasses.replace(t, scale=(scale,) * n, zero_point=(zero,) * n)
        tensors.append(t)
    return serialize(dataclasses.replace(graph, tensors=tensors))
