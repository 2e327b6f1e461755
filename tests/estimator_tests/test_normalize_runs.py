"""A normalized model runs exactly like the converter's output, in TFLite and in TFLite Micro."""

from __future__ import annotations

import numpy as np
import pytest

from tinynas.tflite_reader import read_tflite
from tinynas.tflite_writer import normalize


def _converted() -> tuple[bytes, tuple[int, ...]]:
    from tinynas.keras_env import keras, tensorflow

    tf, k = tensorflow(), keras()
    shape = (20, 6)
    inputs = k.Input(shape)
    x = k.layers.Reshape((20, 1, 6))(inputs)
    x = k.layers.Conv2D(8, (3, 1), padding="same", activation="relu")(x)
    x = k.layers.MaxPooling2D((2, 1))(x)
    x = k.layers.Flatten()(x)
    model = k.Model(inputs, k.layers.Softmax()(k.layers.Dense(4)(x)))
    fn = tf.function(lambda t: model(t, training=False),
                     input_signature=[tf.TensorSpec((1, *shape), tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()],
                                                                model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: (
        [rng.normal(size=(1, *shape)).astype(np.float32)] for _ in range(16))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert(), shape


def _tflite_outputs(model: bytes, inputs: np.ndarray) -> np.ndarray:
    from tinynas.keras_env import tensorflow

    tf = tensorflow()
    interpreter = tf.lite.Interpreter(
        model_content=model,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    index_in = interpreter.get_input_details()[0]["index"]
    index_out = interpreter.get_output_details()[0]["index"]
    outputs = []
    for x in inputs:
        interpreter.set_tensor(index_in, x[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(index_out).copy())
    return np.concatenate(outputs)


def _micro_outputs(model: bytes, inputs: np.ndarray) -> np.ndarray:
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model, arena_size=1 << 16)
    outputs = []
    for x in inputs:
        interpreter.set_input(x[None], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0).copy())
    return np.concatenate(outputs)


@pytest.mark.slow
def test_normalized_model_gives_identical_outputs_in_both_interpreters() -> None:
    original, shape = _converted()
    normalized = normalize(original)
    assert len(normalized) < len(original)
    assert [o.opcode for o in read_tflite(normalized).operators] == \
        [o.opcode for o in read_tflite(original).operators]
    inputs = np.random.default_rng(1).integers(-128, 128, (25, *shape)).astype(np.int8)
    reference = _tflite_outputs(original, inputs)
    assert np.array_equal(_tflite_outputs(normalized, inputs), reference)
    assert np.array_equal(_micro_outputs(normalized, inputs), _micro_outputs(original, inputs))
    assert np.array_equal(_micro_outputs(normalized, inputs), reference)
