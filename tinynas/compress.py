"""Compression with the Model Optimization Toolkit: pruning, clustering, quantization-aware
training, and the knowledge-distillation loss.

What each step buys on a microcontroller: TFLite Micro has no sparse kernels, so unstructured and
2:4 sparsity only make the model compress better (``compressed_bytes``); channel pruning removes
whole filters (:func:`shrink_channels`), which cuts RAM, flash and MACs. Clustering leaves few
distinct weight values per layer, which again only helps compression. The preserving QAT schemes
keep the zeros and the clusters through quantization-aware training.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from tinynas.errors import TrainingError

if TYPE_CHECKING:
    import tf_keras

#: Fraction of a pruning run over which sparsity ramps up (polynomial decay); the rest recovers.
RAMP_FRACTION = 0.7
#: Knowledge-distillation temperature and the weight of the hard-label loss.
TEMPERATURE = 4.0
HARD_LABEL_WEIGHT = 0.5

_WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _tfmot() -> Any:
    from tinynas.keras_env import keras

    keras()
    import tensorflow_model_optimization as tfmot

    return tfmot


# -- pruning --------------------------------------------------------------------------------
def prune(model: tf_keras.Model, pruning: str, sparsity: float,
          total_steps: int) -> tuple[tf_keras.Model, list[Any]]:
    """Wrap a model for magnitude pruning with a polynomial sparsity schedule.

    Args:
        model: A float model.
        pruning: ``"unstructured"`` or ``"2:4"`` (two zeros in every four consecutive weights,
            applied to convolutions and dense layers, the layers the toolkit supports it for).
        sparsity: Target sparsity for ``"unstructured"``.
        total_steps: Training steps of the pruning run; sparsity reaches its target after
            :data:`RAMP_FRACTION` of them.

    Returns:
        The wrapped model (compile it again) and the callbacks its ``fit`` needs.
    """
    tfmot = _tfmot()
    sk = tfmot.sparsity.keras
    end = max(1, int(total_steps * RAMP_FRACTION))
    frequency = max(1, end // 10)
    if pruning == "2:4":
        schedule = sk.ConstantSparsity(0.5, begin_step=0, frequency=frequency)

        def wrap(layer: Any) -> Any:
            if _is_weight_layer(layer, dense_or_conv_only=True):
                return sk.prune_low_magnitude(layer, pruning_schedule=schedule,
                                              sparsity_m_by_n=(2, 4))
            return layer
    else:
        schedule = sk.PolynomialDecay(initial_sparsity=0.0, final_sparsity=sparsity,
                                      begin_step=0, end_step=end, frequency=frequency)

        def wrap(layer: Any) -> Any:
            if _is_weight_layer(layer):
                return sk.prune_low_magnitude(layer, pruning_schedule=schedule)
            return layer
    pruned = _clone(model, wrap)
    return pruned, [sk.UpdatePruningStep()]


def strip_pruning(model: tf_keras.Model) -> tf_keras.Model:
    """Remove the pruning wrappers, keeping the zeroed weights."""
    return _tfmot().sparsity.keras.strip_pruning(model)


def _is_weight_layer(layer: Any, dense_or_conv_only: bool = False) -> bool:
    from tinynas.keras_env import keras

    layers = keras().layers
    if dense_or_conv_only:
        # 2:4 needs an input dimension that is a multiple of 4.
        if isinstance(layer, layers.DepthwiseConv2D) or not isinstance(
                layer, layers.Conv2D | layers.Dense):
            return False
        kernel = layer.get_weights()[0]
        return bool(kernel.shape[-2] % 4 == 0)
    return isinstance(layer, layers.Conv2D | layers.Dense | layers.GRU) and not isinstance(
        layer, layers.DepthwiseConv2D)


def copy_model(model: tf_keras.Model) -> tf_keras.Model:
    """A copy with its own layers and weights (wrapping a model reuses its layer objects)."""
    from tinynas.keras_env import keras

    copy = keras().models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _clone(model: tf_keras.Model, wrap: Any) -> tf_keras.Model:
    """A copy of ``model`` whose layers pass through ``wrap`` (which may return them as is)."""
    from tinynas.keras_env import keras

    return keras().models.clone_model(copy_model(model), clone_function=wrap)


# -- channel pruning ------------------------------------------------------------------------
def shrink_channels(big: tf_keras.Model, small: tf_keras.Model) -> None:
    """Copy the most important channels of ``big`` into the narrower ``small``.

    Both models come from the same space and differ only in widths; their layers pair up by
    name, in order. A layer that narrows keeps the output channels with the largest L1 norm of
    their weights; every later layer keeps the matching input channels. ``small`` then computes
    what ``big`` computes with the dropped channels set to zero.

    Raises:
        TrainingError: The models do not have the same layers.
    """
    from tinynas.keras_env import keras

    layers = keras().layers
    big_layers = {layer.name: layer for layer in big.layers}
    kept: np.ndarray | None = None
    for layer in small.layers:
        source = big_layers.get(layer.name)
        if source is None:
            raise TrainingError(f"channel pruning: layer {layer.name!r} is missing from the "
                                f"unpruned model")
        weights = source.get_weights()
        if isinstance(layer, layers.InputLayer):
            kept = np.arange(layer.output_shape[0][-1])
            continue
        assert kept is not None
        if isinstance(layer, layers.DepthwiseConv2D):
            layer.set_weights([weights[0][:, :, kept, :]] + [w[kept] for w in weights[1:]])
        elif isinstance(layer, layers.Conv2D):
            kernel = weights[0][:, :, kept, :]
            out = _strongest(np.abs(kernel).sum(axis=(0, 1, 2)), layer.filters)
            layer.set_weights([kernel[..., out]] + [w[out] for w in weights[1:]])
            kept = out
        elif isinstance(layer, layers.BatchNormalization):
            layer.set_weights([w[kept] for w in weights])
        elif isinstance(layer, layers.Flatten):
            height_width = int(np.prod(source.input_shape[1:-1]))
            channels = source.input_shape[-1]
            kept = (np.arange(height_width)[:, None] * channels + kept[None, :]).reshape(-1)
        elif isinstance(layer, layers.Dense):
            kernel = weights[0][kept, :]
            out = _strongest(np.abs(kernel).sum(axis=0), layer.units)
            layer.set_weights([kernel[:, out]] + [w[out] for w in weights[1:]])
            kept = out
        elif isinstance(layer, layers.GRU):
            kernel, recurrent, bias = weights
            units = source.units
            score = (np.abs(kernel[kept]).reshape(len(kept), 3, units).sum(axis=(0, 1))
                     + np.abs(recurrent).reshape(units, 3, units).sum(axis=(0, 1)))
            out = _strongest(score, layer.units)
            columns = np.concatenate([out, out + units, out + 2 * units])
            layer.set_weights([kernel[kept][:, columns], recurrent[out][:, columns],
                               bias[:, columns]])
            kept = out
        elif weights:
            raise TrainingError(f"channel pruning does not know layer {layer.name!r} "
                                f"({type(layer).__name__})")


def _strongest(score: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest scores, in their original order."""
    if n >= len(score):
        return np.arange(len(score))
    return np.sort(np.argsort(-score, kind="stable")[:n])


def channel_schedule(sparsity: float, steps: int) -> list[float]:
    """Sparsity after each of ``steps`` shrinking rounds, on a cubic polynomial ramp."""
    return [round(sparsity * (1.0 - (1.0 - k / steps) ** 3), 4) for k in range(1, steps + 1)]


# -- clustering -----------------------------------------------------------------------------
def cluster(model: tf_keras.Model, clusters: int, preserve_sparsity: bool) -> tf_keras.Model:
    """Wrap convolution, dense and GRU layers for weight clustering (k-means++ centroids).

    Layers with fewer weights than ``clusters`` stay unclustered; with ``preserve_sparsity`` the
    count is of non-zero weights (k-means++ seeds its centroids from those alone and fails when
    they are fewer than the clusters).

    Args:
        model: A float model (pruning wrappers stripped).
        clusters: Distinct values per weight tensor.
        preserve_sparsity: Keep zeros at zero (for a pruned model).
    """
    tfmot = _tfmot()
    ck = tfmot.clustering.keras
    from tinynas.keras_env import keras

    layers = keras().layers

    def enough_weights(layer: Any) -> bool:
        weights = layer.get_weights()[:2 if isinstance(layer, layers.GRU) else 1]
        counts = [np.count_nonzero(w) if preserve_sparsity else w.size for w in weights]
        return bool(min(counts) >= clusters)

    def wrap(layer: Any) -> Any:
        if isinstance(layer, layers.Conv2D | layers.Dense | layers.GRU) and enough_weights(layer):
            return ck.cluster_weights(
                layer, number_of_clusters=clusters, preserve_sparsity=preserve_sparsity,
                cluster_centroids_init=ck.CentroidInitialization.KMEANS_PLUS_PLUS)
        return layer

    return _clone(model, wrap)


def strip_clustering(model: tf_keras.Model) -> tf_keras.Model:
    """Remove the clustering wrappers, keeping the clustered weights."""
    return _tfmot().clustering.keras.strip_clustering(model)


# -- quantization-aware training ------------------------------------------------------------
def quantize_aware(model: tf_keras.Model, preserve: str = "none",
                   preserve_sparsity: bool = False) -> tf_keras.Model:
    """Insert fake quantization for int8 quantization-aware training.

    GRU layers get the toolkit's RNN quantize config (the default registry refuses them).

    Args:
        model: A float model, pruning and clustering wrappers stripped.
        preserve: ``"none"``, ``"sparsity"`` (prune-preserving QAT) or ``"clusters"``
            (cluster-preserving QAT).
        preserve_sparsity: With ``preserve="clusters"``, also keep the zeros.
    """
    tfmot = _tfmot()
    qk = tfmot.quantization.keras
    from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.cluster_preserve import (  # noqa: E501
        default_8bit_cluster_preserve_quantize_scheme as cqat,
    )
    from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.prune_preserve import (  # noqa: E501
        default_8bit_prune_preserve_quantize_scheme as pqat,
    )
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry,
    )

    from tinynas.keras_env import keras

    layers = keras().layers
    rnn_config = registry.Default8BitQuantizeConfigRNN(
        [["kernel", "recurrent_kernel"]], [["activation", "recurrent_activation"]], False)

    def annotate(layer: Any) -> Any:
        if isinstance(layer, layers.GRU):
            return qk.quantize_annotate_layer(layer, quantize_config=rnn_config)
        return qk.quantize_annotate_layer(layer) if _quantizable(layer) else layer

    annotated = qk.quantize_annotate_model(_clone(model, annotate))
    if preserve == "sparsity":
        scheme = pqat.Default8BitPrunePreserveQuantizeScheme()
    elif preserve == "clusters":
        scheme = cqat.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity)
    else:
        scheme = qk.default_8bit.Default8BitQuantizeScheme()
    with qk.quantize_scope({"Default8BitQuantizeConfigRNN": registry.Default8BitQuantizeConfigRNN}):
        return qk.quantize_apply(annotated, scheme)


def _quantizable(layer: Any) -> bool:
    from tinynas.keras_env import keras

    return not isinstance(layer, keras().layers.InputLayer)


# -- distillation ---------------------------------------------------------------------------
def distillation_targets(labels: np.ndarray, num_classes: int,
                         teacher_probs: np.ndarray | None) -> np.ndarray:
    """Training targets: one-hot labels, then the teacher's probabilities (or the labels again).

    The loss of :func:`distillation_loss` reads both halves, so one target array serves training
    with and without a teacher.
    """
    one_hot = np.eye(num_classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]
    soft = one_hot if teacher_probs is None else np.asarray(teacher_probs, dtype=np.float32)
    return np.concatenate([one_hot, soft], axis=1)


def distillation_loss(num_classes: int, with_teacher: bool) -> Any:
    """Cross-entropy on the labels, plus (with a teacher) Hinton's softened KL term.

    The student outputs probabilities, and ``softmax(log p / T) == softmax(z / T)`` for logits
    ``z``, so the softened distributions come from the probabilities directly.
    """
    from tinynas.keras_env import tensorflow

    tf = tensorflow()
    alpha = HARD_LABEL_WEIGHT if with_teacher else 1.0

    def loss(y_true: Any, y_pred: Any) -> Any:
        hard, soft = y_true[:, :num_classes], y_true[:, num_classes:]
        p = tf.clip_by_value(y_pred, 1e-7, 1.0)
        ce = -tf.reduce_sum(hard * tf.math.log(p), axis=-1)
        if alpha == 1.0:
            return ce
        student = tf.nn.log_softmax(tf.math.log(p) / TEMPERATURE)
        teacher = tf.nn.softmax(tf.math.log(tf.clip_by_value(soft, 1e-7, 1.0)) / TEMPERATURE)
        kl = tf.reduce_sum(teacher * (tf.math.log(tf.clip_by_value(teacher, 1e-7, 1.0))
                                      - student), axis=-1)
        return alpha * ce + (1.0 - alpha) * TEMPERATURE**2 * kl

    return loss


def label_accuracy(num_classes: int) -> Any:
    """Accuracy against the one-hot half of :func:`distillation_targets`."""
    from tinynas.keras_env import tensorflow

    tf = tensorflow()

    def accuracy(y_true: Any, y_pred: Any) -> Any:
        hit = tf.equal(tf.argmax(y_true[:, :num_classes], axis=-1), tf.argmax(y_pred, axis=-1))
        return tf.cast(hit, tf.float32)

    return accuracy


# -- measuring ------------------------------------------------------------------------------
def compressed_bytes(tflite: bytes) -> int:
    """Size of the ``.tflite`` after zlib at level 9: what sparsity and clustering buy."""
    return len(zlib.compress(bytes(tflite), 9))


def weight_sparsity(tflite: bytes) -> float:
    """Fraction of exactly-zero int8 weights in convolution and dense layers of a ``.tflite``."""
    from tinynas.tflite_reader import read_tflite

    graph = read_tflite(tflite)
    weights = {op.inputs[1] for op in graph.operators if op.opcode in _WEIGHT_OPS}
    total = zeros = 0
    for index in weights:
        data = graph.tensor(index).data
        if data is None:
            continue
        values = np.frombuffer(data, dtype=np.int8)
        total += values.size
        zeros += int(np.count_nonzero(values == 0))
    return zeros / total if total else 0.0
