"""Channel pruning keeps the strongest filters: a model whose dropped channels are already silent
computes the same function after shrinking."""

from __future__ import annotations

import numpy as np
import pytest

from tinynas.compress import channel_schedule
from tinynas.spaces import Compression, load_space

CASES = {
    "ds_cnn": ((8, 8, 1), {"first_filters": 8, "first_kernel": 3, "first_stride": 1,
                           "filters": [8, 16], "kernels": [3, 3], "strides": [2, 1],
                           "pooling": "flatten", "dense_units": 16, "dropout": 0.0}),
    "cnn1d": ((16, 3), {"first_filters": 8, "first_kernel": 3, "first_stride": 2,
                        "filters": [16], "kernels": [5], "strides": [1], "pooling": "max",
                        "dense_units": 0, "dropout": 0.0, "separable": False}),
    "gru": ((8, 3), {"conv_filters": 8, "conv_kernel": 3, "conv_stride": 2, "units": [8, 6],
                     "dense_units": 16, "dropout": 0.0}),
}


def silence_weakest(model, small, rng: np.random.Generator) -> None:
    """Random weights, except that the channels ``small`` has no room for output exactly zero:
    zero kernels and biases (GRU: gate columns), and batch norm that maps zero to zero."""
    from tinynas.keras_env import keras

    layers = keras().layers
    widths = {layer.name: layer for layer in small.layers}
    for layer in model.layers:
        weights = [rng.normal(size=w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()]
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = weights
            weights = [gamma, beta * 0, mean * 0, np.abs(var) + 0.5]
        elif isinstance(layer, layers.GRU):
            units, keep = layer.units, widths[layer.name].units
            drop = rng.choice(units, units - keep, replace=False)
            columns = np.concatenate([drop, drop + units, drop + 2 * units])
            for w in weights:
                w[..., columns] = 0
        elif isinstance(layer, layers.Conv2D | layers.Dense) and not isinstance(
                layer, layers.DepthwiseConv2D):
            out = weights[0].shape[-1]
            keep = getattr(widths[layer.name], "filters", None) or widths[layer.name].units
            drop = rng.choice(out, out - keep, replace=False)
            for w in weights:
                w[..., drop] = 0
        layer.set_weights(weights)


@pytest.mark.parametrize("family", list(CASES))
def test_shrinking_a_model_with_silent_channels_keeps_its_outputs(family: str) -> None:
    from tinynas.compress import shrink_channels

    space = load_space(family)
    sample, arch_dict = CASES[family]
    shape = space.model_input_shape(sample)
    arch = space.arch_from_dict(arch_dict)
    narrow = space.effective_arch(arch, Compression("ptq", "channel", 0.5))
    big = space.build(arch, shape, 4)
    small = space.build(narrow, shape, 4)
    rng = np.random.default_rng(3)
    silence_weakest(big, small, rng)

    shrink_channels(big, small)

    x = rng.normal(size=(5, *shape)).astype(np.float32)
    np.testing.assert_allclose(small.predict(x, verbose=0), big.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-5)
    assert small.count_params() < big.count_params()


def test_channel_schedule_ramps_up_polynomially_to_the_target() -> None:
    steps = channel_schedule(0.6, 3)
    assert steps[-1] == 0.6
    assert steps == sorted(steps) and steps[0] > 0.6 / 3  # front-loaded, like tfmot's decay
    assert channel_schedule(0.5, 1) == [0.5]
