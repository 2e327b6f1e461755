"""Training refuses what it cannot use: a NaN loss, a teacher that does not fit the data."""

from __future__ import annotations

import numpy as np
import pytest
from spaces_tests._int8 import random_dataset

from tinynas.errors import TinyNASError, TrainingError
from tinynas.spaces import Compression, TrainingConfig, load_space

TINY = TrainingConfig(epochs=1, batch_size=16, learning_rate=3e-3, patience=1)


def tiny_teacher(input_shape: tuple[int, ...], outputs: int):
    from tinynas.keras_env import keras

    k = keras()
    inputs = k.layers.Input(input_shape)
    x = k.layers.Flatten()(inputs)
    return k.Model(inputs, k.layers.Dense(outputs, activation="softmax")(x), name="teacher")


def test_teacher_with_the_wrong_number_of_outputs_is_refused() -> None:
    from tinynas.train import train_candidate

    space = load_space("ds_cnn")
    data = random_dataset((8, 8, 1), classes=3)
    with pytest.raises(TrainingError, match=r"teacher model 'teacher': output shape \(None, 5\) "
                                            r"does not match the dataset's 3 classes"):
        train_candidate(space, space.smallest(), Compression(distillation=True), data, TINY,
                        seed=0, teacher=tiny_teacher((8, 8, 1), 5))


def test_teacher_with_the_wrong_input_is_refused() -> None:
    from tinynas.train import check_teacher

    with pytest.raises(TrainingError, match=r"input shape \(9, 9, 1\) does not hold one sample"):
        check_teacher(tiny_teacher((9, 9, 1), 3), (8, 8, 1), 3)
    # Same sample, other layout (a 1-D model's view of a series): accepted and reshaped.
    assert check_teacher(tiny_teacher((16, 1, 3), 3), (16, 3), 3) == (16, 1, 3)


def test_unreadable_teacher_file_is_refused(tmp_path) -> None:
    from tinynas.train import load_teacher

    bad = tmp_path / "teacher.h5"
    bad.write_bytes(b"not a model")
    with pytest.raises(TinyNASError, match="teacher model .*teacher.h5: cannot be loaded"):
        load_teacher(bad)
    with pytest.raises(TinyNASError, match="no such file"):
        load_teacher(tmp_path / "missing.h5")


@pytest.mark.slow
def test_nan_loss_is_a_training_error() -> None:
    from tinynas.train import train_candidate

    space = load_space("cnn1d")
    data = random_dataset((16, 3))
    data.x_train[:, 0, 0] = np.nan
    with pytest.raises(TrainingError, match="float training: loss became NaN at epoch 1"):
        train_candidate(space, space.smallest(), Compression(), data, TINY, seed=0)
