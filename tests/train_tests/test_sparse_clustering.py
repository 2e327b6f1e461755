"""Sparsity-preserving clustering of a heavily pruned layer: k-means++ seeds its centroids from
the non-zero weights alone, so a layer with fewer of them than clusters stays unclustered
instead of failing inside TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest


def _dense(nonzero: int):  # type: ignore[no-untyped-def]
    from tinynas.keras_env import keras

    k = keras()
    inputs = k.Input((8,))
    model = k.Model(inputs, k.layers.Dense(8)(inputs))
    kernel = np.zeros(64, np.float32)
    kernel[:nonzero] = np.linspace(0.1, 1.0, nonzero)
    model.layers[1].set_weights([kernel.reshape(8, 8), np.zeros(8, np.float32)])
    return model


@pytest.mark.parametrize("nonzero, clustered", [(20, False), (40, True)])
def test_pruned_layer_clusters_only_with_enough_nonzero_weights(nonzero: int,
                                                                clustered: bool) -> None:
    from tinynas.compress import cluster, strip_clustering

    model = cluster(_dense(nonzero), 32, preserve_sparsity=True)
    wrapped = [type(layer).__name__ for layer in model.layers]
    assert ("ClusterWeights" in wrapped) == clustered
    out = model(np.ones((2, 8), np.float32)).numpy()
    assert np.isfinite(out).all()
    kernel = strip_clustering(model).layers[1].get_weights()[0]
    assert np.count_nonzero(kernel) == nonzero  # zeros stay zeros
    assert len(np.unique(kernel)) <= (33 if clustered else nonzero + 1)
