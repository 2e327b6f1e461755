"""Reference architectures: each is an architecture of its space, builds, converts to the graph
its space predicts, and fits a board exactly when its estimate says so."""

from __future__ import annotations

import numpy as np
import pytest

from tinynas.boards import load_board
from tinynas.errors import UnknownNameError
from tinynas.estimator import estimate_graph
from tinynas.hypervolume import Point
from tinynas.references import (
    KWS_FIRST_KERNEL,
    REFERENCES,
    get_reference,
    reference_names,
    references_for,
)

#: Sample shapes of the benchmark's datasets, by modality.
SHAPES = {"image": [(8, 8, 1), (28, 28, 1)], "audio": [(49, 10, 1)], "timeseries": [(100, 6)]}
BOARDS = ("arduino_nano33_ble", "nucleo_l432kc")
CLASSES = 10


def _cases():
    for r in REFERENCES.values():
        for modality in r.modalities:
            for shape in SHAPES[modality]:
                yield r, shape


def test_every_modality_has_references_and_names_are_unique():
    for modality in SHAPES:
        assert references_for(modality), modality
    assert reference_names() == sorted(REFERENCES)
    assert {r.name for r in REFERENCES.values()} == set(REFERENCES)


def test_unknown_reference_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="unknown reference model 'dscnn'.*mobilenet"):
        get_reference("dscnn")


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_reference_is_an_architecture_of_its_space(name):
    ref = get_reference(name)
    space, arch = ref.load()
    assert space.name == ref.space
    assert arch.to_dict() == ref.arch
    assert space.arch_from_dict(arch.to_dict()) == arch
    assert ref.differences and ref.source and ref.compression.quantization == "qat"


def test_keyword_spotting_models_follow_the_published_layout():
    for name in ("hello_edge_ds_cnn_s", "mlperf_tiny_kws_ds_cnn"):
        _, arch = get_reference(name).load()
        assert (arch.first_filters, arch.first_stride) == (64, 2)
        assert arch.first_kernel == KWS_FIRST_KERNEL
        assert arch.filters == (64,) * 4 and arch.kernels == (3,) * 4
        assert arch.strides == (1,) * 4 and arch.pooling == "avg"
    _, mobilenet = get_reference("mobilenet_v1_025").load()
    assert len(mobilenet.filters) == 13 and mobilenet.filters[-1] == 256
    assert mobilenet.strides.count(2) == 4 and mobilenet.first_filters == 8


@pytest.mark.parametrize("board_name", BOARDS)
def test_fit_follows_the_estimate(board_name):
    board = load_board(board_name)
    fits = {}
    for ref, shape in _cases():
        space, arch = ref.load()
        est = estimate_graph(space.graph(arch, space.model_input_shape(shape), CLASSES), board)
        point = Point(0.5, est.arena_bytes, est.flash_bytes, est.latency_ms)
        headroom = est.limits(board)
        assert point.fits(board) == all(v["headroom"] >= 0 for v in headroom.values())
        fits[(ref.name, shape)] = point.fits(board)
    # The plain CNN on 8x8 digits is small on any board; MobileNetV1's 200 k weights and the
    # FCN's 270 k do not fit the 192 KB of flash left on the NUCLEO-L432KC.
    assert fits[("keras_mnist_cnn", (8, 8, 1))]
    if board_name == "nucleo_l432kc":
        assert not fits[("mobilenet_v1_025", (8, 8, 1))]
        assert not fits[("fcn_wang2017", (100, 6))]


#: One of the two keyword-spotting models is enough: they differ in dropout only.
CONVERTED = ["hello_edge_ds_cnn_s", "keras_mnist_cnn", "mobilenet_v1_025",
             "keras_timeseries_cnn", "fcn_wang2017"]


@pytest.mark.slow
@pytest.mark.parametrize("name", CONVERTED)
def test_reference_builds_and_converts_to_the_predicted_graph(name):
    from spaces_tests._int8 import assert_same_graph
    from spaces_tests.test_graph_prediction import randomize

    from tinynas.convert import to_int8_tflite
    from tinynas.tflite_reader import read_tflite

    ref = get_reference(name)
    space, arch = ref.load()
    shape = space.model_input_shape(SHAPES[ref.modalities[0]][0])
    model = space.build(arch, shape, CLASSES)
    assert model.output_shape == (None, CLASSES)
    rng = np.random.default_rng(0)
    randomize(model, rng)
    tflite = to_int8_tflite(model, shape, rng.normal(size=(8, *shape)))
    assert_same_graph(space.graph(arch, shape, CLASSES), read_tflite(tflite))
