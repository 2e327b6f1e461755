"""The C generator without a compiler: quantization arithmetic, lowering, refusals and the
static arena layout."""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest

from tinynas.codegen import _quant as q
from tinynas.codegen import check_supported, generate, lower, supported_operators
from tinynas.codegen._plan import ARENA, OUTPUT, _root
from tinynas.errors import UnsupportedOperatorError
from tinynas.graph import Graph, Operator, Tensor

from ._graphs import (
    digits_classifier,
    image_chain,
    overlap_chain,
    sequence_chain,
    with_operator,
)


def test_quantize_multiplier_matches_tflite_definition() -> None:
    assert q.quantize_multiplier(0.5) == (1 << 30, 0)
    assert q.quantize_multiplier(1.0) == (1 << 30, 1)
    assert q.quantize_multiplier(0.75) == (1610612736, 0)
    assert q.quantize_multiplier(0.0) == (0, 0)
    assert q.quantize_multiplier(1e-12) == (0, 0)  # below 2**-31: flushed to zero
    for real in (0.001234, 0.3, 3.7, 123.456):
        m, s = q.quantize_multiplier(real)
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (s - 31) - real) <= real * 2.0 ** -30


def test_mean_multiplier_folds_the_count_in_fixed_point() -> None:
    m, s = q.mean_multiplier(0.4, 19)
    base, base_shift = q.quantize_multiplier(0.4)
    assert (m, s) == ((base << 4) // 19, base_shift - 4)
    assert m * 2.0 ** (s - 31) == pytest.approx(0.4 / 19, rel=1e-6)


def test_activation_ranges() -> None:
    assert q.activation_range("NONE", 0.1, 3) == (-128, 127)
    assert q.activation_range("RELU", 0.1, 3) == (3, 127)
    assert q.activation_range("RELU6", 0.05, -128) == (-128, -8)
    with pytest.raises(Exception, match="TANH"):
        q.activation_range("TANH", 0.1, 0)


def test_lookup_tables_are_monotonic_and_span_the_range() -> None:
    table = q.lookup_table("LOGISTIC", 0.1, 0, 1 / 256, -128)
    values = [table[v & 0xFF] for v in range(-128, 128)]
    assert values == sorted(values) and values[0] == -128 and values[-1] == 127
    table = q.lookup_table("TANH", 0.05, 10, 1 / 128, 0)
    values = [table[v & 0xFF] for v in range(-128, 128)]
    assert values == sorted(values) and values[0] < -100 and values[-1] > 100


def test_unsupported_operator_is_refused_with_the_supported_list() -> None:
    graph = with_operator(digits_classifier(0), "HARD_SWISH")
    with pytest.raises(UnsupportedOperatorError) as err:
        check_supported(graph)
    message = str(err.value)
    assert "HARD_SWISH" in message
    assert "supported: " + ", ".join(supported_operators()) in message
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX", "LOGISTIC", "TANH",
            "SPLIT", "SPLIT_V", "UNPACK", "MEAN", "ADD", "SUB", "MUL"} <= set(supported_operators())


def _float_detour(requantize_scale: float, consumer: str = "QUANTIZE") -> Graph:
    """int8 -> DEQUANTIZE -> SPLIT -> (QUANTIZE x2) -> ADD, as the converter leaves in GRUs."""
    s, z = 0.05, 3

    def i8(index: int, shape: tuple[int, ...], scale: float = s, zp: int = z) -> Tensor:
        return Tensor(index, "", shape, "int8", quant_channels=1, scale=(scale,),
                      zero_point=(zp,))

    tensors = (i8(0, (1, 8)), Tensor(1, "", (1, 8), "float32"),
               Tensor(2, "", (), "int32", constant=True, data=(1).to_bytes(4, "little")),
               Tensor(3, "", (1, 4), "float32"), Tensor(4, "", (1, 4), "float32"),
               i8(5, (1, 4), requantize_scale), i8(6, (1, 4)), i8(7, (1, 4), 0.1, 0))
    ops = (Operator("DEQUANTIZE", (0,), (1,)), Operator("SPLIT", (2, 1), (3, 4)),
           Operator(consumer, (3,), (5,)), Operator("QUANTIZE", (4,), (6,)),
           Operator("ADD", (5, 6), (7,), {"fused_activation_function": "NONE"}))
    return Graph(tensors, ops, (0,), (7,))


def test_exact_float_round_trips_become_shared_bytes() -> None:
    program, layout = lower(_float_detour(0.05))
    assert [s.opcode for s in program.steps] == ["ADD"]
    add = program.steps[0]
    a, b = add.reads
    assert layout.where[a][1] != layout.where[b][1]  # the two halves of the split input
    assert layout.where[add.writes[0]] == (OUTPUT, 0)


@pytest.mark.parametrize("scale,consumer,expect", [
    (0.07, "QUANTIZE", "other quantization"), (0.05, "LOGISTIC", "LOGISTIC")])
def test_other_float_paths_are_refused(scale: float, consumer: str, expect: str) -> None:
    with pytest.raises(UnsupportedOperatorError, match=expect):
        lower(_float_detour(scale, consumer))


@pytest.mark.parametrize("graph,overlapping", [
    (image_chain(3), None), (sequence_chain(4), None), (overlap_chain(0), True),
    (digits_classifier(1), False)], ids=["image", "sequence", "overlap", "digits"])
def test_buffers_alive_together_never_share_bytes(graph: Graph, overlapping: bool | None) -> None:
    program, layout = lower(graph)
    designed = {(o.source, o.target) for o in layout.overlaps}
    for (r1, o1, n1, f1, l1), (r2, o2, n2, f2, l2) in itertools.combinations(layout.buffers, 2):
        if f1 <= l2 and f2 <= l1 and (r1, r2) not in designed and (r2, r1) not in designed:
            assert o1 + n1 <= o2 or o2 + n2 <= o1
    for o in layout.overlaps:
        # An output placed over its input starts `gap` bytes below it, never above.
        assert layout.where[o.source][1] - layout.where[o.target][1] == o.gap
    assert layout.arena_bytes <= sum(-(-n // 4) * 4 for _, _, n, _, _ in layout.buffers)
    if overlapping is not None:
        assert bool(layout.overlaps) == overlapping
    # Every arena tensor a kernel reads lies in bytes an earlier kernel wrote.
    written: set[int] = set()
    for step in program.steps:
        for t in step.reads:
            if layout.where[t][0] == ARENA:
                assert _root(program, t)[0] in written
        written.update(_root(program, t)[0] for t in step.writes)
    assert layout.where[program.graph.outputs[0]][0] == OUTPUT


def test_reshapes_and_contiguous_splits_cost_no_copy() -> None:
    program, layout = lower(sequence_chain(2))
    opcodes = {s.opcode for s in program.steps}
    assert not opcodes & {"RESHAPE", "UNPACK", "SPLIT", "SQUEEZE", "EXPAND_DIMS"}
    assert "PACK" in opcodes  # gathering rows needs a copy


def test_generate_writes_runtime_and_header(tmp_path) -> None:
    graph = digits_classifier(2)
    runtime = generate(graph, tmp_path)
    names = {p.name for p in runtime.files}
    assert {"tinynas_model.h", "tinynas_model.c", "host_main.c", "Makefile",
            "tinynas_kernels.h", "tn_conv.c", "tn_softmax.c"} <= names
    header = (tmp_path / "tinynas_model.h").read_text()
    assert "#define TINYNAS_INPUT_SIZE 64\n" in header
    assert "#define TINYNAS_OUTPUT_SIZE 10\n" in header
    assert f"#define TINYNAS_ARENA_BYTES {runtime.arena_bytes}\n" in header
    assert "int tinynas_invoke(const int8_t *input, int8_t *output);" in header
    source = (tmp_path / "tinynas_model.c").read_text()
    assert not re.search(r"\b(malloc|float|double)\b", source)
    assert runtime.static_ram_bytes == runtime.arena_bytes + 64 + 10


def test_kernels_use_no_heap_stdio_or_float() -> None:
    from tinynas.codegen import RUNTIME_DIR

    for path in RUNTIME_DIR.iterdir():
        text = path.read_text()
        for word in (r"\bmalloc\b", r"\bfree\(", r"printf", r"stdio\.h", r"\bfloat\b",
                     r"\bdouble\b"):
            assert not re.search(word, text), (path.name, word)


def test_output_buffer_is_copied_when_it_aliases_the_input() -> None:
    s = (0.1,)
    tensors = (Tensor(0, "", (1, 4), "int8", quant_channels=1, scale=s, zero_point=(0,)),
               Tensor(1, "", (2,), "int32", constant=True, data=b"\x04\0\0\0\x01\0\0\0"),
               Tensor(2, "", (4, 1), "int8", quant_channels=1, scale=s, zero_point=(0,)))
    graph = Graph(tensors, (Operator("RESHAPE", (0, 1), (2,)),), (0,), (2,))
    program, _ = lower(graph)
    assert [s.kernel for s in program.steps] == ["tn_copy_blocks"]
    assert dataclasses.replace(program.steps[0]).writes == [2]


def test_outputs_written_over_dying_inputs_shrink_the_arena() -> None:
    graph = overlap_chain(1)
    program, layout = lower(graph)
    kernels = {program.steps[o.call].kernel for o in layout.overlaps}
    assert {"tn_conv2d_s8", "tn_depthwise_conv2d_s8", "tn_avg_pool_s8", "tn_max_pool_s8",
            "tn_lut_s8", "tn_requantize_s8", "tn_add_s8", "tn_mul_s8"} <= kernels
    separate = max(sum(layout.buffers[i][2] for i in range(len(layout.buffers))
                       if layout.buffers[i][3] <= k <= layout.buffers[i][4])
                   for k in range(len(program.steps)))
    assert layout.arena_bytes < separate
    # A 3x3 SAME convolution needs its input row above the output row it writes: one row gap.
    depthwise = next(o for o in layout.overlaps
                     if program.steps[o.call].kernel == "tn_depthwise_conv2d_s8")
    assert depthwise.gap == 2 * 10 * 8
