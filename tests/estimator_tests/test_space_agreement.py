"""The estimate from an architecture agrees with its converted model and with TFLite Micro.

For a few architectures of every shipped space: the ``.tflite`` size predicted before
conversion matches the converted file, and the host arena estimated from the architecture is
within 2% of the minimum arena the tflite-micro interpreter works with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tinynas.estimator import estimate_graph
from tinynas.measure import min_working_arena

SPACES = ["ds_cnn", "cnn1d", "gru", "cnn", "mixed_cnn"]
PER_SPACE = 2
#: Sample shapes other than the spaces' examples: a short sequence keeps the unrolled GRU small.
SHAPES = {"gru": (24, 6)}


def _randomize(model: Any, rng: np.random.Generator) -> None:
    # Zero biases (a fresh model) are dropped by the converter; trained models keep them.
    for layer in model.layers:
        values = [rng.uniform(0.5, 1.5, w.shape).astype(w.dtype)
                  if "variance" in v.name or "gamma" in v.name
                  else rng.normal(0, 0.3, w.shape).astype(w.dtype)
                  for v, w in zip(layer.weights, layer.get_weights(), strict=True)]
        if values:
            layer.set_weights(values)


def _architectures(space: Any, shape: tuple[int, ...]) -> list[Any]:
    """The cheapest few of 40 random architectures: an unrolled GRU of a thousand operators
    takes half a minute to convert, and a test should not."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    archs = [space.suggest(study.ask()) for _ in range(40)]
    sizes = [len(space.graph(arch, shape, 5).operators) for arch in archs]
    order = sorted(range(len(archs)), key=lambda i: sizes[i])
    return [archs[i] for i in order[:PER_SPACE]]


@pytest.mark.slow
@pytest.mark.parametrize("name", SPACES)
def test_estimate_from_architecture_matches_conversion_and_tflite_micro(name: str) -> None:
    from tinynas.convert import to_int8_tflite
    from tinynas.spaces import load_space

    space = load_space(name)
    shape = space.model_input_shape(SHAPES.get(name, space.default_input_shape()))
    rng = np.random.default_rng(0)
    for arch in _architectures(space, shape):
        graph = space.graph(arch, shape, 5)
        estimate = estimate_graph(graph, target="host")
        model = space.build(arch, shape, 5)
        _randomize(model, rng)
        tflite = to_int8_tflite(model, shape, rng.normal(size=(16, *shape)).astype(np.float32))
        assert abs(estimate.model_bytes - len(tflite)) <= 0.02 * len(tflite), space.describe(arch)
        measured = min_working_arena(tflite)
        assert abs(estimate.arena_bytes - measured) <= 0.02 * measured, (space.describe(arch),
                                                                        estimate.arena_bytes,
                                                                        measured)
