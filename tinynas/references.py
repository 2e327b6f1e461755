"""Hand-designed TinyML models written as architectures of the shipped search spaces.

Each reference is trained by the same pipeline as a searched candidate
(:func:`tinynas.train.train_candidate` with quantization-aware training), so a comparison with
the search differs only in the architecture. Where a published model uses something a space
cannot express, the closest architecture of the space is used and :attr:`Reference.differences`
says exactly what changed.

Training-only layers (dropout inside the body) leave the int8 graph unchanged; they are listed
in the differences when they are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tinynas.errors import unknown_name
from tinynas.spaces._base import Compression

if TYPE_CHECKING:
    from tinynas.spaces import Arch, SearchSpace

#: Compression every reference is trained with: quantization-aware training to full int8, no
#: pruning or clustering (the published models are dense).
REFERENCE_COMPRESSION = Compression(quantization="qat")

#: The closest square kernel to the 10x4 first convolution of the keyword-spotting DS-CNNs,
#: chosen by tap count (49 taps against 40; 5x5 would give 25), so the first layer's weights
#: and MACs stay within a quarter of the original's.
KWS_FIRST_KERNEL = 7

_KWS_DIFFERENCES = (
    "first convolution 7x7 instead of 10x4 (the ds_cnn space has square kernels only; 7x7 is "
    "the square kernel closest in taps and MACs); 'same' padding and batch norm after every "
    "convolution as in the original")


def _ds_cnn_kws(dropout: float) -> dict[str, Any]:
    """The DS-CNN of Hello Edge (DS-CNN-S) and MLPerf Tiny keyword spotting: a 64-filter first
    convolution with stride 2, four 3x3 depthwise-separable blocks of 64, average pooling."""
    return {"first_filters": 64, "first_kernel": KWS_FIRST_KERNEL, "first_stride": 2,
            "filters": [64] * 4, "kernels": [3] * 4, "strides": [1] * 4, "pooling": "avg",
            "dense_units": 0, "dropout": dropout}


#: MobileNetV1's 13 depthwise-separable blocks: (pointwise filters at width 1.0, stride).
_MOBILENET_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1),
                        (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def _mobilenet_v1(alpha: float) -> dict[str, Any]:
    """MobileNetV1 at width multiplier ``alpha``: 3x3 stride-2 stem of 32 alpha filters."""
    return {"first_filters": round(32 * alpha), "first_kernel": 3, "first_stride": 2,
            "filters": [round(f * alpha) for f, _ in _MOBILENET_V1_BLOCKS],
            "kernels": [3] * len(_MOBILENET_V1_BLOCKS),
            "strides": [s for _, s in _MOBILENET_V1_BLOCKS], "pooling": "avg",
            "dense_units": 0, "dropout": 0.0}


@dataclass(frozen=True)
class Reference:
    """A published architecture expressed in one of the shipped search spaces.

    Attributes:
        name: Short identifier, e.g. ``hello_edge_ds_cnn_s``.
        title: The model as its authors name it.
        space: The shipped search space whose family builds it.
        modalities: Dataset modalities it is meant for.
        arch: The architecture's fields (as :meth:`tinynas.spaces.Arch.to_dict` gives them).
        source: Where the architecture is published.
        differences: How it differs from the published model ("none" when it does not).
        compression: What it is trained with.
    """

    name: str
    title: str
    space: str
    modalities: tuple[str, ...]
    arch: dict[str, Any]
    source: str
    differences: str
    compression: Compression = field(default=REFERENCE_COMPRESSION)

    def load(self) -> tuple[SearchSpace, Arch]:
        """The search space and the architecture, ready for training or estimation."""
        from tinynas.spaces import load_space

        space = load_space(self.space)
        return space, space.arch_from_dict(self.arch)


REFERENCES: dict[str, Reference] = {r.name: r for r in (
    Reference(
        name="hello_edge_ds_cnn_s",
        title="Hello Edge DS-CNN-S",
        space="ds_cnn",
        modalities=("audio",),
        arch=_ds_cnn_kws(dropout=0.0),
        source="Zhang et al., 'Hello Edge: Keyword Spotting on Microcontrollers', 2017, "
               "DS-CNN small (64 filters, 10x4 stride 2x2, 4 DS layers 3x3, average pooling)",
        differences=_KWS_DIFFERENCES),
    Reference(
        name="mlperf_tiny_kws_ds_cnn",
        title="MLPerf Tiny keyword-spotting DS-CNN",
        space="ds_cnn",
        modalities=("audio",),
        arch=_ds_cnn_kws(dropout=0.4),
        source="Banbury et al., 'MLPerf Tiny Benchmark', 2021, keyword-spotting reference "
               "model (DS-CNN on 49x10 MFCC, dropout 0.2 after the first convolution and 0.4 "
               "before pooling)",
        differences=_KWS_DIFFERENCES + "; the dropout of 0.4 sits after pooling instead of "
        "before it and the training-only dropout of 0.2 after the first convolution is left "
        "out"),
    Reference(
        name="keras_mnist_cnn",
        title="Keras MNIST convnet (plain CNN)",
        space="cnn",
        modalities=("image",),
        arch={"first_filters": 32, "first_kernel": 3, "first_stride": 2, "filters": [64],
              "kernels": [3], "strides": [2], "pooling": "flatten", "dense_units": 0,
              "dropout": 0.5},
        source="Keras code example 'Simple MNIST convnet' (conv 32 3x3, max pool 2, conv 64 "
               "3x3, max pool 2, flatten, dropout 0.5, dense)",
        differences="each 3x3 convolution + 2x2 max pooling pair is one 3x3 convolution with "
                    "stride 2 (the cnn space has no pooling layers), 'same' instead of 'valid' "
                    "padding, batch norm after each convolution"),
    Reference(
        name="mobilenet_v1_025",
        title="MobileNetV1 0.25 (MobileNet-style DS-CNN)",
        space="ds_cnn",
        modalities=("image",),
        arch=_mobilenet_v1(0.25),
        source="Howard et al., 'MobileNets', 2017, width multiplier 0.25; the TinyML "
               "person-detection and MLPerf Tiny visual-wake-words reference backbone",
        differences="none in the layers: 13 depthwise-separable blocks, average pooling, "
                    "dense classifier (the classifier's dropout of 0.001 is left out)"),
    Reference(
        name="keras_timeseries_cnn",
        title="Keras time-series CNN",
        space="cnn1d",
        modalities=("timeseries",),
        arch={"first_filters": 64, "first_kernel": 3, "first_stride": 1, "filters": [64, 64],
              "kernels": [3, 3], "strides": [1, 1], "pooling": "avg", "dense_units": 0,
              "dropout": 0.0, "separable": False},
        source="Keras code example 'Timeseries classification from scratch' (three Conv1D 64 "
               "k3 with batch norm and ReLU, global average pooling, dense)",
        differences="none in the layers (Conv1D written as (k, 1) Conv2D, as in every cnn1d "
                    "model)"),
    Reference(
        name="fcn_wang2017",
        title="FCN time-series baseline",
        space="cnn1d",
        modalities=("timeseries",),
        arch={"first_filters": 128, "first_kernel": 8, "first_stride": 1, "filters": [256, 128],
              "kernels": [5, 3], "strides": [1, 1], "pooling": "avg", "dense_units": 0,
              "dropout": 0.0, "separable": False},
        source="Wang et al., 'Time Series Classification from Scratch with Deep Neural "
               "Networks: A Strong Baseline', 2017 (Conv1D 128 k8, 256 k5, 128 k3, global "
               "average pooling)",
        differences="'same' padding with an even kernel of 8 pads one step more on the right "
                    "than on the left, as in the original Keras code"),
)}


def reference_names() -> list[str]:
    """Names of the shipped references."""
    return sorted(REFERENCES)


def get_reference(name: str) -> Reference:
    """The reference called ``name``.

    Raises:
        UnknownNameError: No such reference; the message lists the known ones.
    """
    if name not in REFERENCES:
        raise unknown_name("reference model", name, reference_names())
    return REFERENCES[name]


def references_for(modality: str) -> list[Reference]:
    """The references meant for a dataset modality (``image``, ``audio``, ``timeseries``)."""
    return [r for r in REFERENCES.values() if modality in r.modalities]
