"""Latency model terms beside MACs: per output element of MAC operators (requantization) and per
kernel row of convolutions (window set-up)."""

from __future__ import annotations

import pytest
from int8_graphs import conv_net, elementwise_chain, residual_net

from tinynas.latency import default_profile, fit_profile, graph_features, predict_cycles
from tinynas.opcount import op_work

GRAPHS = [conv_net(8, 12), conv_net(16, 8), conv_net(4, 20), residual_net(8, 32),
          residual_net(16, 16), elementwise_chain(5)]


def test_mac_operators_count_outputs_and_kernel_rows() -> None:
    graph = conv_net(8, 12)
    seen = set()
    for op in graph.operators:
        work = op_work(graph, op)
        out = graph.tensor(op.outputs[0]).elements
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            height = graph.tensor(op.inputs[1]).shape[1]
            assert (work.outputs, work.rows) == (out, out * height)
            seen.add(op.opcode)
        elif op.opcode == "FULLY_CONNECTED":
            assert (work.outputs, work.rows) == (out, 0)
        else:
            assert (work.outputs, work.rows) == (0, 0)
    assert "CONV_2D" in seen
    features = graph_features(graph)
    assert features["work:conv/output"] > 0 and features["work:conv/row"] > 0


def test_output_and_row_costs_are_charged_and_fitted() -> None:
    truth = default_profile("cortex-m4")
    base = [predict_cycles(truth, g) for g in GRAPHS]
    truth.cycles_per_unit["conv/output"] *= 10
    truth.cycles_per_unit["conv/row"] *= 10
    observations = [(g, predict_cycles(truth, g)) for g in GRAPHS]
    assert any(m > b * 1.1 for (_, m), b in zip(observations, base, strict=True))
    fitted = fit_profile("cortex-m4", observations, prior_weight=1e-6)
    for g, measured in observations:
        assert predict_cycles(fitted, g) == pytest.approx(measured, rel=0.02)
