"""``SearchSpace.graph`` predicts the converted int8 graph exactly, for random architectures."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from tinynas.spaces import load_space, space_names

from ._int8 import assert_same_graph

#: Sample shapes with sides that do not divide evenly, so SAME padding rounds up.
SHAPES = {"ds_cnn": (10, 9, 1), "cnn": (9, 10, 2), "cnn1d": (19, 3), "gru": (11, 2),
          "mixed_cnn": (11, 9, 1)}
#: With seed 6 these cover global average and max pooling, flatten, hidden dense layers,
#: depthwise-separable and plain 1-D blocks, and GRUs with and without a strided front end, one
#: and two layers.
ARCHS_PER_SPACE = 2


def randomize(model, rng: np.random.Generator) -> None:
    """Random weights, non-zero biases and positive variances: what training leaves behind
    (an all-zero bias would let the converter drop it)."""
    for weight in model.weights:
        value = rng.normal(size=weight.shape).astype(np.float32) * 0.3
        if "variance" in weight.name:
            value = np.abs(value) + 0.5
        weight.assign(value)


@pytest.mark.slow
@pytest.mark.parametrize("space_name", space_names())
def test_predicted_graph_is_the_converted_graph(space_name: str) -> None:
    from tinynas.convert import to_int8_tflite
    from tinynas.tflite_reader import read_tflite

    space = load_space(space_name)
    shape = space.model_input_shape(SHAPES[space.config.family])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=6))
    rng = np.random.default_rng(0)
    for _ in range(ARCHS_PER_SPACE):
        arch = space.suggest(study.ask())
        model = space.build(arch, shape, 4)
        randomize(model, rng)
        tflite = to_int8_tflite(model, shape, rng.normal(size=(16, *shape)))
        assert_same_graph(space.graph(arch, shape, 4), read_tflite(tflite))
