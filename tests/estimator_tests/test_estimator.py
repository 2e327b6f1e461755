"""The arena model against the real TFLite Micro interpreter, and the estimate's other figures."""

from __future__ import annotations

import dataclasses

import pytest
from int8_graphs import conv_net, elementwise_chain, residual_net

from tinynas.boards import load_board
from tinynas.estimator import estimate_graph, estimate_tflite
from tinynas.measure import min_working_arena, recorded_arena, recorded_head_tail
from tinynas.tflite_writer import serialize

GRAPHS = {
    "conv_net": conv_net(8, 12),
    "wide_conv_net": conv_net(24, 16),
    "residual_net": residual_net(8, 32),
    # Many small tensors: the planning step, not the final layout, sizes the arena.
    "elementwise_chain": elementwise_chain(40),
}


@pytest.mark.parametrize("name", GRAPHS)
def test_host_arena_matches_tflite_micro_minimum(name: str) -> None:
    graph = GRAPHS[name]
    data = serialize(graph)
    est = estimate_graph(graph, target="host")
    measured = min_working_arena(data)
    assert abs(est.arena_bytes - measured) <= 0.02 * measured, (est.arena_bytes, measured)


@pytest.mark.parametrize("name", ["conv_net", "residual_net"])
def test_head_and_tail_match_the_recording_allocator_exactly(name: str) -> None:
    data = serialize(GRAPHS[name])
    est = estimate_graph(GRAPHS[name], target="host")
    assert (est.planned_bytes, est.persistent_bytes) == recorded_head_tail(data)


def test_planning_step_sizes_arenas_of_many_small_tensors() -> None:
    graph = GRAPHS["elementwise_chain"]
    est = estimate_graph(graph, target="host")
    assert est.arena_peak == "planning"
    # The recording allocator reports only what stays allocated: well below the real need.
    assert recorded_arena(serialize(graph)) < 0.8 * est.arena_bytes


def test_mcu_arena_is_smaller_than_host_by_the_pointer_width() -> None:
    graph = GRAPHS["conv_net"]
    host, mcu = (estimate_graph(graph, target=t) for t in ("host", "mcu"))
    assert mcu.planned_bytes == host.planned_bytes
    assert mcu.persistent_bytes < host.persistent_bytes
    assert 0.4 * host.persistent_bytes < mcu.persistent_bytes


def test_costs_of_a_known_graph() -> None:
    est = estimate_graph(conv_net(8, 12))
    conv, depthwise, mean, fc, softmax = est.ops
    assert conv.macs == 12 * 12 * 8 * 9
    assert depthwise.macs == 12 * 12 * 8 * 9
    assert fc.macs == 4 * 8
    assert est.macs == conv.macs + depthwise.macs + fc.macs
    assert (conv.weight_bytes, conv.bias_bytes) == (8 * 9, 8 * 4)
    assert mean.scratch_bytes == 32 + 32  # int32 accumulators (8 x 4 B) and resolved axes
    assert est.params == 8 * 9 + 8 + 8 * 9 + 8 + 4 * 8 + 4
    assert est.model_bytes == len(serialize(conv_net(8, 12)))
    assert est.flash_bytes == est.model_bytes + est.runtime_bytes
    assert est.latency_ms is None and est.cycles > 0


def test_board_gives_latency_and_limits() -> None:
    board = load_board("nucleo_l432kc")
    est = estimate_graph(conv_net(8, 12), board)
    assert est.latency_ms == pytest.approx(est.cycles / (board.clock_mhz * 1000))
    limits = est.limits(board)
    assert limits["ram"]["headroom"] == board.ram_limit - est.arena_bytes
    assert set(limits) == {"ram", "flash", "latency_ms"}


def test_estimate_from_file_counts_the_file_as_it_is() -> None:
    graph = dataclasses.replace(conv_net(8, 12), tensors=tuple(
        dataclasses.replace(t, name=f"tensor_{t.index}") for t in conv_net(8, 12).tensors))
    data = serialize(graph) + bytes(100)  # trailing bytes stay in flash
    assert estimate_tflite(data).model_bytes == len(data)


def test_unknown_operator_is_marked_not_fatal() -> None:
    graph = conv_net(8, 12)
    ops = list(graph.operators)
    ops[4] = dataclasses.replace(ops[4], opcode="CEIL", options={})
    est = estimate_graph(dataclasses.replace(graph, operators=tuple(ops)))
    assert est.unknown_ops == ["CEIL"]
    assert [op.known for op in est.ops] == [True, True, True, True, False]
    assert est.arena_bytes > 0


def test_unknown_target_is_refused() -> None:
    with pytest.raises(ValueError, match="target must be one of"):
        estimate_graph(conv_net(), target="gpu")
