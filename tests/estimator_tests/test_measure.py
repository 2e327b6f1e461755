"""Arena measurements with the tflite-micro interpreter."""

from __future__ import annotations

import pytest
from int8_graphs import elementwise_chain, residual_net

from tinynas.errors import ModelFileError
from tinynas.measure import _probe, _runtime, min_working_arena, recorded_arena
from tinynas.tflite_writer import serialize


def test_minimum_arena_works_and_eight_bytes_less_does_not() -> None:
    data = serialize(residual_net())
    minimum = min_working_arena(data)
    runtime = _runtime()
    assert _probe(runtime, data, minimum)
    assert not _probe(runtime, data, minimum - 8)


def test_recorded_arena_is_a_lower_bound() -> None:
    data = serialize(elementwise_chain(30))
    assert recorded_arena(data) < min_working_arena(data)


def test_a_model_tflite_micro_cannot_run_is_reported() -> None:
    with pytest.raises(ModelFileError, match="TFLite Micro cannot allocate"):
        recorded_arena(b"\x00" * 64)
