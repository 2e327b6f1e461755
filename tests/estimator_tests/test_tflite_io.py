"""Reading and writing .tflite flatbuffers: round trips, determinism, and refusals of bad files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from int8_graphs import conv_net, residual_net

from tinynas.errors import ModelFileError
from tinynas.graph import Graph, Operator, Tensor
from tinynas.tflite_reader import read_tflite
from tinynas.tflite_writer import normalize, serialize, serialized_size


def _structure(g: Graph) -> list[object]:
    # Scales are stored as float32.
    tensors = [(t.shape, t.dtype, t.constant, t.quant_channels, t.quant_axis,
                tuple(float(np.float32(s)) for s in t.scale), t.zero_point, t.data)
               for t in g.tensors]
    ops = [(o.opcode, o.inputs, o.outputs, dict(o.options)) for o in g.operators]
    return [tensors, ops, g.inputs, g.outputs]


@pytest.mark.parametrize("build", [conv_net, residual_net])
def test_serialize_then_read_gives_the_same_graph(build) -> None:  # type: ignore[no-untyped-def]
    graph = build()
    data = serialize(graph)
    back = read_tflite(data)
    assert _structure(back)[0] == _structure(graph)[0]
    assert [(o.opcode, o.inputs, o.outputs) for o in back.operators] == \
        [(o.opcode, o.inputs, o.outputs) for o in graph.operators]
    conv = back.operators[0]
    assert conv.options["padding"] == "SAME"
    assert conv.options["fused_activation_function"] == "RELU"
    assert conv.options["stride_w"] == 1
    assert serialize(back) == data
    assert serialized_size(graph) == len(data)


def test_size_depends_on_structure_not_on_names_or_values() -> None:
    graph = conv_net()
    renamed = dataclasses.replace(graph, tensors=tuple(
        dataclasses.replace(t, name=f"a/long/tensor/name/{t.index}",
                            data=None if t.constant else t.data,
                            scale=tuple(s * 3 for s in t.scale)) for t in graph.tensors),
        description="converter 9.9")
    assert serialized_size(renamed) == serialized_size(graph)
    assert b"long/tensor" not in serialize(renamed)


def test_normalize_strips_names_and_is_idempotent() -> None:
    named = dataclasses.replace(conv_net(), tensors=tuple(
        dataclasses.replace(t, name=f"layer_{t.index}") for t in conv_net().tensors))
    data = serialize(named)
    once = normalize(data)
    assert normalize(once) == once
    assert all(t.name == "" for t in read_tflite(once).tensors)


def test_normalized_model_runs_in_tflite_micro_like_the_graph_says() -> None:
    runtime = pytest.importorskip("tflite_micro").runtime
    data = normalize(serialize(residual_net()))
    interpreter = runtime.Interpreter.from_bytes(data, arena_size=1 << 16)
    x = np.random.default_rng(1).integers(-128, 128, (1, 32, 1, 2)).astype(np.int8)
    interpreter.set_input(x, 0)
    interpreter.invoke()
    y = interpreter.get_output(0)
    assert y.shape == (1, 3) and y.dtype == np.int8


def test_not_a_flatbuffer_names_the_file() -> None:
    with pytest.raises(ModelFileError, match=r"^notes.txt: not a TFLite flatbuffer"):
        read_tflite(b"hello, this is text and not a model", "notes.txt")
    with pytest.raises(ModelFileError, match="not a TFLite flatbuffer"):
        read_tflite(b"", "empty.tflite")


@pytest.mark.parametrize("keep", [12, 100, 0.5, 0.95])
def test_truncated_files_are_refused_in_one_line(keep: float) -> None:
    data = serialize(conv_net())
    cut = data[:int(keep * len(data))] if isinstance(keep, float) else data[:keep]
    with pytest.raises(ModelFileError, match=r"^m.tflite: truncated or corrupt") as info:
        read_tflite(cut, "m.tflite")
    assert "\n" not in str(info.value)


def test_float_model_is_refused_naming_the_tensor() -> None:
    graph = Graph((Tensor(0, "", (1, 4), "float32"), Tensor(1, "", (1, 4), "float32")),
                  (Operator("RELU", (0,), (1,)),), (0,), (1,))
    with pytest.raises(ModelFileError, match=r"f.tflite: tensor 0 is float32: a float or hybrid"):
        read_tflite(serialize(graph), "f.tflite")


def test_unknown_operator_is_read_by_name() -> None:
    t = (Tensor(0, "", (1, 8), "int8", quant_channels=1, scale=(0.1,), zero_point=(0,)),
         Tensor(1, "", (1, 8), "int8", quant_channels=1, scale=(0.1,), zero_point=(0,)))
    graph = Graph(t, (Operator("CEIL", (0,), (1,)),), (0,), (1,))
    assert read_tflite(serialize(graph)).operators[0].opcode == "CEIL"
