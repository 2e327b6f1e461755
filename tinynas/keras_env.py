"""The one place TensorFlow is imported for training: legacy Keras, quiet logs, seeds.

The Model Optimization Toolkit works only with Keras 2 (``tf_keras``), and TensorFlow reads
``TF_USE_LEGACY_KERAS`` once, at its first import; so every module that trains or converts gets
TensorFlow through :func:`keras` instead of importing it itself.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import cast


def _prepare_environment() -> None:
    if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        # Too late to switch Keras versions; tfmot would then fail with obscure type errors.
        warnings.warn("TensorFlow was imported before tinynas.keras_env; tfmot needs "
                      "TF_USE_LEGACY_KERAS=1 set first", RuntimeWarning, stacklevel=3)
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    # 3 hides the CUDA probe's "failed call to cuInit" on machines without a GPU driver.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # oneDNN custom ops make float results depend on the thread layout; off for reproducibility.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def tensorflow() -> ModuleType:
    """TensorFlow, imported with legacy Keras selected and its logs quieted."""
    _prepare_environment()
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    return cast(ModuleType, tf)


def keras() -> ModuleType:
    """The ``tf_keras`` module (Keras 2), which the Model Optimization Toolkit requires."""
    tensorflow()
    import tf_keras

    return cast(ModuleType, tf_keras)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow so a training run can be repeated.

    Args:
        seed: Any integer; reduced modulo 2**31 for TensorFlow.
    """
    keras().utils.set_random_seed(int(seed) % (2**31))


@contextmanager
def forgetting_custom_gradients() -> Iterator[None]:
    """Unregister, on leaving, the custom gradients that graphs traced inside registered.

    A ``tf.custom_gradient`` traced in graph mode registers its gradient function under a fresh
    name in TensorFlow's global gradient registry, which never drops it, and the function's
    closure holds the whole traced training graph. Every ``fit`` of a candidate registers two,
    so each kept about 19 MB alive for the life of the process, 52 MB for a quantization-aware
    candidate of a small DS-CNN (bench/memory_bench.py). The gradients are taken while the
    graph is traced, so once ``fit`` has returned nothing looks them up again. Where TensorFlow
    keeps the registry elsewhere, this does nothing.
    """
    tensorflow()
    from tensorflow.python.framework import ops

    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    if not isinstance(registry, dict):
        yield
        return
    before = set(registry)
    try:
        yield
    finally:
        for name in [n for n in registry if n not in before]:
            if str(name).startswith("CustomGradient-"):
                del registry[name]
