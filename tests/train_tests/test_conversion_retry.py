"""A conversion whose first result is not full int8 is converted again, and the second attempt
runs the real converter from scratch (a TFLite converter cannot convert twice)."""

from __future__ import annotations

import numpy as np
import pytest

import tinynas.tflite_reader as tflite_reader
from tinynas.errors import ModelFileError, TrainingError
from tinynas.spaces import load_space


def _gru_model():  # type: ignore[no-untyped-def]
    from tinynas.keras_env import seed_everything

    seed_everything(3)
    space = load_space("gru")
    shape = space.model_input_shape((8, 3))
    samples = np.random.default_rng(0).normal(size=(32, *shape)).astype(np.float32)
    return space.build(space.smallest(), shape, 5), shape, samples


def test_a_rejected_first_result_is_converted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinynas.convert import to_int8_tflite

    real = tflite_reader.read_tflite
    calls: list[int] = []

    def first_rejected(data, path="<bytes>"):  # type: ignore[no-untyped-def]
        calls.append(len(data))
        if len(calls) == 1:
            raise ModelFileError(f"{path}: tensor 3 is float32 (DEQUANTIZE)")
        return real(data, path)

    monkeypatch.setattr(tflite_reader, "read_tflite", first_rejected)
    model, shape, samples = _gru_model()
    tflite = to_int8_tflite(model, shape, samples)
    assert len(calls) >= 2
    graph = real(tflite)
    assert graph.tensor(graph.inputs[0]).dtype == "int8"


def test_every_attempt_rejected_gives_a_training_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinynas.convert import CONVERSION_ATTEMPTS, to_int8_tflite

    calls: list[int] = []

    def always_rejected(data, path="<bytes>"):  # type: ignore[no-untyped-def]
        calls.append(len(data))
        raise ModelFileError(f"{path}: tensor 3 is float32")

    monkeypatch.setattr(tflite_reader, "read_tflite", always_rejected)
    model, shape, samples = _gru_model()
    with pytest.raises(TrainingError, match="did not give a full-int8 model"):
        to_int8_tflite(model, shape, samples)
    assert len(calls) == CONVERSION_ATTEMPTS
