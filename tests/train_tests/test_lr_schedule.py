"""The float training's learning-rate schedule: constant, or a cosine down to zero that a
multi-fidelity probe does not restart."""

from __future__ import annotations

import math

import pytest
from spaces_tests._int8 import random_dataset

from tinynas.spaces import Compression, TrainingConfig, load_space


def test_cosine_rate_runs_from_the_rate_to_zero() -> None:
    from tinynas.train import cosine_rate

    assert cosine_rate(3e-3, 0, 10) == pytest.approx(3e-3)
    assert cosine_rate(3e-3, 5, 10) == pytest.approx(1.5e-3)
    assert cosine_rate(3e-3, 10, 10) == pytest.approx(0.0, abs=1e-12)
    assert cosine_rate(3e-3, 12, 10) == pytest.approx(0.0, abs=1e-12)
    assert cosine_rate(1.0, 1, 4) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))


def _train(schedule: str, epochs: int, probe_epochs: int = 0):
    from tinynas.train import train_candidate

    space = load_space("cnn1d")
    training = TrainingConfig(epochs=epochs, batch_size=16, learning_rate=3e-3,
                              patience=epochs, lr_schedule=schedule)
    return train_candidate(space, space.smallest(), Compression(), random_dataset((16, 3)),
                           training, seed=0, probe=(lambda _: True) if probe_epochs else None,
                           probe_epochs=probe_epochs)


@pytest.mark.slow
def test_cosine_decays_to_zero_and_constant_keeps_the_rate() -> None:
    constant = _train("constant", 2).float_model.optimizer
    assert float(constant.learning_rate) == pytest.approx(3e-3)
    cosine = _train("cosine", 2).float_model.optimizer
    assert float(cosine.learning_rate) == pytest.approx(0.0, abs=1e-9)
    # 48 samples in batches of 16: three steps an epoch, two epochs.
    assert cosine.get_config()["learning_rate"]["config"]["decay_steps"] == 6


@pytest.mark.slow
def test_after_a_probe_the_cosine_goes_on_from_where_the_probe_left_it() -> None:
    from tinynas.train import cosine_rate

    result = _train("cosine", 3, probe_epochs=1)
    assert result.epochs == 3
    schedule = result.float_model.optimizer.get_config()["learning_rate"]["config"]
    assert schedule["initial_learning_rate"] == pytest.approx(cosine_rate(3e-3, 1, 3))
    assert schedule["decay_steps"] == 6
    assert float(result.float_model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
