"""Training a candidate leaves nothing of its training run in memory.

``tf.data.Dataset.from_generator`` keeps its generator function for the life of the process in
eager mode; a search trains hundreds of candidates in one process, so the run's data copies,
``.tflite`` stages and teacher must not hang off that function.
"""

from __future__ import annotations

import gc

import pytest

from tinynas.datasets import load_dataset
from tinynas.spaces import Compression, TrainingConfig, load_space

ARCH = {"first_filters": 4, "first_kernel": 3, "first_stride": 2, "filters": [8],
        "kernels": [3], "strides": [2], "pooling": "avg", "dense_units": 0, "dropout": 0.0}


def _live_runs() -> int:
    from tinynas.train import _Run

    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, _Run))


@pytest.mark.parametrize("compression",
                         [Compression("ptq"), Compression("qat", "unstructured", 0.5)],
                         ids=["ptq", "pruned-qat"])
def test_training_releases_its_run(compression: Compression) -> None:
    from tinynas.train import train_candidate

    data = load_dataset("digits", seed=0)
    space = load_space("ds_cnn")
    training = TrainingConfig(epochs=1, batch_size=64, learning_rate=3e-3, patience=1)
    before = _live_runs()
    result = train_candidate(space, space.arch_from_dict(ARCH), compression, data, training,
                             seed=0)
    assert len(result.stages) >= 2
    assert _live_runs() == before


def _live_graphs() -> int:
    from tensorflow.python.framework.func_graph import FuncGraph

    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, FuncGraph))


def test_training_leaves_no_traced_graph_behind() -> None:
    """Each ``fit`` traces a training graph whose custom gradients TensorFlow registers globally;
    unless they are unregistered, every graph stays alive (about 19 MB a fit)."""
    from tinynas.train import train_candidate

    data = load_dataset("digits", seed=0)
    space = load_space("ds_cnn")
    training = TrainingConfig(epochs=1, batch_size=64, learning_rate=3e-3, patience=1)
    arch = space.arch_from_dict(ARCH)
    train_candidate(space, arch, Compression("ptq"), data, training, seed=0)  # warm-up
    before = _live_graphs()
    for seed in (1, 2):
        train_candidate(space, arch, Compression("qat", "unstructured", 0.5), data, training,
                        seed=seed)
    assert _live_graphs() == before
