"""A real model for the device tests: a small DS-CNN trained briefly on digits, converted to
full int8 and exported (about 10 s, once per session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tinynas.convert import to_int8_tflite
    from tinynas.datasets import load_dataset
    from tinynas.export import ExportInfo, export_bundle
    from tinynas.keras_env import keras, seed_everything
    from tinynas.spaces import load_space

    seed_everything(0)
    data = load_dataset("digits", 0)
    space = load_space("ds_cnn")
    shape = space.model_input_shape(data.input_shape)
    model = space.build(space.smallest(), shape, data.num_classes)
    model.compile(optimizer=keras().optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    x_train = data.x_train.reshape(-1, *shape)
    model.fit(x_train, data.y_train, epochs=4, batch_size=32, verbose=0)
    tflite = to_int8_tflite(model, shape, x_train[:128].astype(np.float32))
    out = tmp_path_factory.mktemp("digits") / "bundle"
    export_bundle(tflite, out, ExportInfo(dataset="digits", seed=0,
                                          class_names=data.class_names,
                                          preprocessing=data.preprocessing))
    return out
