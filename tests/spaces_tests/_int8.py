"""Checks shared by the space and training tests: predicted graph == converted graph, and the
model runs in the TFLite Micro interpreter as it does in TFLite."""

from __future__ import annotations

import numpy as np

from tinynas.datasets import Dataset
from tinynas.graph import Graph

#: Per-sample shapes that every shipped space accepts, by family.
SAMPLE_SHAPES = {"ds_cnn": (8, 8, 1), "cnn": (8, 8, 1), "cnn1d": (16, 3), "gru": (8, 3),
                 "mixed_cnn": (8, 8, 1)}


def tensor_signature(graph: Graph, index: int) -> tuple:
    """What must agree between prediction and conversion for one tensor."""
    t = graph.tensor(index)
    axis = t.quant_axis if t.quant_channels > 1 else 0
    return (t.shape, t.dtype, t.constant, t.quant_channels, axis)


def assert_same_graph(predicted: Graph, converted: Graph) -> None:
    """Same operators in the same order, same tensor numbering, shapes, dtypes, constness and
    quantization channel counts, and every predicted option equal to the converted one."""
    assert [op.opcode for op in predicted.operators] == [op.opcode for op in converted.operators]
    for i, (p, c) in enumerate(zip(predicted.operators, converted.operators, strict=True)):
        assert (p.inputs, p.outputs) == (c.inputs, c.outputs), f"operator {i} ({p.opcode})"
        for key, value in p.options.items():
            # The writer omits options at their schema default (False, 0).
            assert c.options.get(key, False) == value, f"operator {i} ({p.opcode}) {key}"
    assert len(predicted.tensors) == len(converted.tensors)
    for t in range(len(predicted.tensors)):
        assert tensor_signature(predicted, t) == tensor_signature(converted, t), f"tensor {t}"
    assert (predicted.inputs, predicted.outputs) == (converted.inputs, converted.outputs)


def run_micro(tflite: bytes, x_int8: np.ndarray) -> np.ndarray:
    """Outputs of the TFLite Micro interpreter (reference kernels), one row per sample."""
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(bytes(tflite), arena_size=512 * 1024)
    shape = interpreter.get_input_details(0)["shape"]
    rows = []
    for sample in x_int8:
        interpreter.set_input(sample.reshape(shape), 0)
        interpreter.invoke()
        rows.append(np.array(interpreter.get_output(0)).reshape(-1))
    return np.stack(rows)


#: TFLite Micro's FULLY_CONNECTED rounds a few results 1 LSB away from TFLite's reference kernel
#: (measured: 0.3% of outputs), and LOGISTIC/SOFTMAX can widen that to a few LSB.
MICRO_TOLERANCE = 4


def assert_micro_agrees(tflite: bytes, x: np.ndarray) -> None:
    """TFLite Micro runs the model, and its int8 outputs are TFLite's within a few LSB."""
    from tinynas.convert import predict_tflite, quantize_input
    from tinynas.tflite_reader import read_tflite

    graph = read_tflite(tflite)
    inp = graph.tensor(graph.inputs[0])
    micro = run_micro(tflite, quantize_input(x, inp.scale[0], inp.zero_point[0]))
    reference = predict_tflite(tflite, x)
    assert micro.shape == reference.shape
    assert np.abs(micro.astype(int) - reference.astype(int)).max() <= MICRO_TOLERANCE


def random_dataset(shape: tuple[int, ...], classes: int = 3, per_split: tuple = (48, 16, 16),
                   seed: int = 0) -> Dataset:
    """A small learnable dataset: each class shifts the mean of its samples."""
    rng = np.random.default_rng(seed)
    modality = "image" if len(shape) == 3 else "timeseries"

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, classes, n).astype(np.int64)
        x = rng.normal(size=(n, *shape)).astype(np.float32) + y.reshape((-1,) + (1,) * len(shape))
        return x, y

    (xt, yt), (xv, yv), (xs, ys) = (split(n) for n in per_split)
    return Dataset(name="random", modality=modality, x_train=xt, y_train=yt, x_val=xv,
                   y_val=yv, x_test=xs, y_test=ys, input_shape=shape,
                   class_names=[f"c{i}" for i in range(classes)], preprocessing={},
                   source="random")
