"""Early stopping waits for a warm-up counted in optimizer updates, so a small dataset (a few
updates per epoch, its validation accuracy flat at first) is not stopped untrained."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from spaces_tests._int8 import random_dataset

from tinynas.spaces import Compression, TrainingConfig, load_space


def test_the_warm_up_is_counted_in_updates() -> None:
    from tinynas.train import EARLY_STOP_WARMUP_STEPS, warmup_epochs

    assert warmup_epochs(2) == EARLY_STOP_WARMUP_STEPS // 2          # BasicMotions: 32 / 16
    assert warmup_epochs(3) == -(-EARLY_STOP_WARMUP_STEPS // 3)
    assert warmup_epochs(EARLY_STOP_WARMUP_STEPS) == 1
    assert warmup_epochs(10 * EARLY_STOP_WARMUP_STEPS) == 1
    assert warmup_epochs(0) == EARLY_STOP_WARMUP_STEPS


def _float_epochs(monkeypatch: pytest.MonkeyPatch, warmup_steps: int) -> int:
    from tinynas import train

    monkeypatch.setattr(train, "EARLY_STOP_WARMUP_STEPS", warmup_steps)
    space = load_space("cnn1d")
    # Identical validation samples get one prediction, so their accuracy takes at most three
    # values and improves at most twice: patience 1 stops the float training by its fourth
    # epoch unless the warm-up holds it off.
    data = random_dataset((16, 3))
    data = replace(data, x_val=np.zeros_like(data.x_val))
    training = TrainingConfig(epochs=6, batch_size=16, learning_rate=3e-3, patience=1)
    result = train.train_candidate(space, space.smallest(), Compression(), data, training,
                                   seed=0)
    return int(result.history["step"].count("float"))


@pytest.mark.slow
def test_few_updates_an_epoch_train_the_whole_budget(monkeypatch) -> None:
    # 48 samples in batches of 16 are 3 updates an epoch: 6 epochs stay inside the warm-up.
    assert _float_epochs(monkeypatch, 100) == 6
    # Without the warm-up the same training stops early: what the warm-up prevents.
    assert _float_epochs(monkeypatch, 0) < 6
