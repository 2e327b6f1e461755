"""Full-int8 conversion and int8 evaluation with TFLite's reference kernels.

Models are converted from a concrete function with a fixed batch of 1: with a dynamic batch an
unrolled GRU gains SHAPE/FILL operators and TFLite Micro cannot allocate its tensors. The
converter's detour through a temporary SavedModel is switched off: it gives the same normalized
model and costs ten times the conversion itself. The result is
put in the canonical operator order (:mod:`tinynas.canonical`) and normalized
(:func:`tinynas.tflite_writer.normalize`), so that its graph and size are what
``SearchSpace.graph`` predicted before training.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tinynas.cstderr import capture_fd2
from tinynas.errors import ModelFileError, TrainingError

if TYPE_CHECKING:
    import tf_keras

#: Samples the calibrator sees; more only slows conversion down.
CALIBRATION_SAMPLES = 256


#: Conversions tried before a model that is not full int8 is given up on. The smallest
#: unrolled GRU came out with a float detour in 5 of 20 conversions, so three tries could
#: give up on a convertible model; six make that rare.
CONVERSION_ATTEMPTS = 6


def _batch1_converters(model: tf_keras.Model, shape: tuple[int, ...]) -> Callable[[], Any]:
    """A factory of fresh converters for ``model`` traced with a batch of 1.

    A converter is good for one conversion (with TensorFlow's SavedModel detour on, the first
    leaves its temporary directory set and a second ``convert()`` fails), so every attempt asks
    for a new one; the detour itself is switched off.
    """
    from tinynas.keras_env import tensorflow

    tf = tensorflow()
    fn = tf.function(lambda x: model(x, training=False),
                     input_signature=[tf.TensorSpec((1, *shape), tf.float32)])
    concrete = fn.get_concrete_function()

    def fresh() -> Any:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
        converter.experimental_lower_to_saved_model = False
        return converter

    return fresh


def to_int8_tflite(model: tf_keras.Model, input_shape: tuple[int, ...],
                   representative: np.ndarray) -> bytes:
    """Convert a Keras model (float or quantization-aware) to a full-int8 ``.tflite``.

    Args:
        model: The model; wrappers from pruning or clustering must be stripped already.
        input_shape: One sample's shape, batch excluded.
        representative: Calibration samples (any leading count; reshaped to ``input_shape``).

    Returns:
        The normalized flatbuffer: int8 input and output, int8 weights, int32 biases.

    Raises:
        TrainingError: The converter failed; the message gives its reason.
    """
    from tinynas.canonical import canonicalize
    from tinynas.keras_env import tensorflow
    from tinynas.tflite_reader import read_tflite
    from tinynas.tflite_writer import normalize, serialize

    tf = tensorflow()
    shape = tuple(int(d) for d in input_shape)
    samples = np.asarray(representative, dtype=np.float32).reshape((-1, *shape))
    samples = samples[:CALIBRATION_SAMPLES]
    converters = _batch1_converters(model, shape)

    def int8_converter() -> Any:
        converter = converters()
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([s[None]] for s in samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        # Quantization-aware training quantizes dense (and GRU) weights per tensor; so must
        # post-training quantization, or the graph (and its size) would depend on the method.
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
        return converter

    problem = ""
    for _ in range(CONVERSION_ATTEMPTS):
        try:
            # The converter prints progress lines from C++; keep them off the user's terminal.
            # Without the SavedModel detour the converter warns that the (float) input has no
            # statistics: calibration supplies them.
            with capture_fd2(), warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                raw = int8_converter().convert()
        except Exception as exc:  # the converter raises many unrelated types
            reason = str(exc).strip().splitlines()
            raise TrainingError(f"int8 conversion of {model.name!r} failed: "
                                f"{reason[0] if reason else type(exc).__name__}") from None
        try:
            graph = read_tflite(raw, f"converted {model.name}")
        except ModelFileError as exc:
            # Now and then the calibrator leaves an unrolled GRU step on a float detour
            # (DEQUANTIZE); converting again gives a full-int8 model.
            problem = str(exc)
            continue
        return normalize(serialize(canonicalize(graph)))
    raise TrainingError(f"int8 conversion of {model.name!r} did not give a full-int8 model in "
                        f"{CONVERSION_ATTEMPTS} attempts: {problem}")


def to_float_tflite(model: tf_keras.Model, input_shape: tuple[int, ...]) -> bytes:
    """Convert to a float32 ``.tflite`` (batch 1): the size the model would take unquantized."""
    converter = _batch1_converters(model, tuple(int(d) for d in input_shape))()
    try:
        with capture_fd2():
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises many unrelated types
        raise TrainingError(f"float conversion of {model.name!r} failed: {exc}") from None


def _interpreter(tflite: bytes) -> Any:
    from tinynas.keras_env import tensorflow

    tf = tensorflow()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(
            model_content=bytes(tflite),
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    return interpreter


def quantize_input(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float samples to int8 with the model input's quantization."""
    q = np.round(np.asarray(x, dtype=np.float32) / scale) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def predict_tflite(tflite: bytes, x: np.ndarray) -> np.ndarray:
    """Run a full-int8 model on float samples with TFLite's reference kernels.

    Args:
        tflite: The model.
        x: Float samples, already normalized like the training data; each is reshaped to the
            model's input shape.

    Returns:
        The int8 outputs, one row per sample.
    """
    interpreter = _interpreter(tflite)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    scale, zero_point = inp["quantization"]
    data = quantize_input(np.asarray(x).reshape((len(x), *inp["shape"][1:])), scale, zero_point)
    rows = np.empty((len(data), int(np.prod(out["shape"][1:]))), dtype=np.int8)
    for i, sample in enumerate(data):
        interpreter.set_tensor(inp["index"], sample[None])
        interpreter.invoke()
        rows[i] = interpreter.get_tensor(out["index"]).reshape(-1)
    return rows


def evaluate_tflite(tflite: bytes, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of a full-int8 model with TFLite's reference kernels.

    Args:
        tflite: The model.
        x: Float samples.
        y: Integer labels.

    Returns:
        The fraction of samples whose largest int8 output is the label (0.0 for no samples).
    """
    if len(x) == 0:
        return 0.0
    predicted = predict_tflite(tflite, x).argmax(axis=1)
    return float(np.mean(predicted == np.asarray(y).reshape(-1)))
