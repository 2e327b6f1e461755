"""``gru``: one or two GRU layers, unrolled, with an optional convolution front end.

The GRU is unrolled (``unroll=True``): the int8 calibrator crashes on the loop form, and TFLite
Micro then runs plain fully-connected and element-wise operators, one set per time step. That makes
the graph grow with the sequence length, which the estimator sees through :meth:`GRUSpace.graph`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tinynas.errors import SearchSpaceError
from tinynas.spaces._base import Arch, Compression, SearchSpace, register
from tinynas.spaces._common import (
    HeadRanges,
    build_head,
    describe_head,
    graph_head,
    int_range,
    narrowed,
    parse_head,
    sequence_shape,
    stepped_range,
    suggest_head,
)
from tinynas.spaces._convnet import MAX_KERNEL
from tinynas.spaces._graph import GraphBuilder, same_out
from tinynas.tomlfile import Section

if TYPE_CHECKING:
    import optuna
    import tf_keras

    from tinynas.graph import Graph

MAX_LAYERS = 2
#: Longest sequence accepted: every step is a copy of the cell in the graph.
MAX_STEPS = 400


@dataclass(frozen=True)
class GRUArch(Arch):
    """A GRU classifier.

    Attributes:
        conv_filters: Width of a ``(k, 1)`` convolution front end (0 = none).
        conv_kernel: Its kernel length.
        conv_stride: Its stride along time (shortens the sequence the GRU unrolls over).
        units: Units of each GRU layer (one or two layers).
        dense_units: Width of a hidden dense layer before the classifier (0 = none).
        dropout: Dropout rate before the classifier.
    """

    conv_filters: int
    conv_kernel: int
    conv_stride: int
    units: tuple[int, ...]
    dense_units: int
    dropout: float

    def __post_init__(self) -> None:
        if not 1 <= len(self.units) <= MAX_LAYERS:
            raise SearchSpaceError(
                f"architecture: units must list 1 to {MAX_LAYERS} GRU layers, got {self.units}")


@dataclass(frozen=True)
class GRURanges:
    """What a ``gru`` space file lets the search choose."""

    min_input: tuple[int, ...]
    conv_filters: tuple[int, ...]
    conv_kernel: tuple[int, ...]
    conv_stride: tuple[int, ...]
    layers: tuple[int, int]
    units: tuple[int, int, int]
    head: HeadRanges


@register
class GRUSpace(SearchSpace):
    """Unrolled GRU layers (``reset_after``, sigmoid and tanh) on ``(T, C)`` sequences."""

    family = "gru"
    arch_type: ClassVar[type[Arch]] = GRUArch

    @classmethod
    def parse_architecture(cls, section: Section) -> GRURanges:
        """Validate the ``[architecture]`` table; every error names the file, key and rule."""
        min_input = section.int_list("min_input", low=1, high=MAX_STEPS)
        if len(min_input) != 1:
            raise section.fail("min_input", "must be [length]", list(min_input))
        strides = section.int_list("conv_stride", [1], low=1, high=MAX_KERNEL)
        too_big = [s for s in strides if s > min_input[0]]
        if too_big:
            raise section.fail("conv_stride", f"a stride may not exceed the smallest accepted "
                               f"input length ({min_input[0]}, from min_input)", too_big[0])
        ranges = GRURanges(
            min_input=min_input,
            conv_filters=section.int_list("conv_filters", [0], low=0, high=256),
            conv_kernel=section.int_list("conv_kernel", [3], low=1, high=MAX_KERNEL),
            conv_stride=strides,
            layers=int_range(section, "layers", [1, 1], low=1, high=MAX_LAYERS),
            units=stepped_range(section, "units", "units_step", [8, 32], low=1, high=256),
            head=parse_head(section),
        )
        section.check_unknown()
        return ranges

    @property
    def ranges(self) -> GRURanges:
        """The validated ranges of this space's file."""
        ranges: GRURanges = self.config.arch
        return ranges

    def suggest(self, trial: optuna.Trial) -> GRUArch:
        """Sample an architecture with ``trial.suggest_*``."""
        r = self.ranges
        # Genes a choice switches off are sampled all the same (see SearchSpace.suggest).
        conv_filters = int(trial.suggest_categorical("conv_filters", list(r.conv_filters)))
        kernel = int(trial.suggest_categorical("conv_kernel", list(r.conv_kernel)))
        stride = int(trial.suggest_categorical("conv_stride", list(r.conv_stride)))
        if not conv_filters:
            kernel, stride = min(r.conv_kernel), min(r.conv_stride)
        n_layers = trial.suggest_int("layers", r.layers[0], r.layers[1])
        lo, hi, step = r.units
        units = tuple(trial.suggest_int(f"l{i}_units", lo, hi, step=step)
                      for i in range(r.layers[1]))[:n_layers]
        dense_units, dropout = suggest_head(trial, r.head)
        return GRUArch(conv_filters=conv_filters, conv_kernel=kernel, conv_stride=stride,
                       units=units, dense_units=dense_units, dropout=dropout)

    def smallest(self) -> GRUArch:
        """One narrow layer over the fewest steps: every step is a copy of the cell in the graph,
        so a strided front end (the narrowest offered) beats none when a stride above 1 is
        offered."""
        r = self.ranges
        widths = [f for f in r.conv_filters if f] if max(r.conv_stride) > 1 else []
        front = min(widths) if widths else min(r.conv_filters)
        return GRUArch(conv_filters=front, conv_kernel=min(r.conv_kernel),
                       conv_stride=max(r.conv_stride) if front else min(r.conv_stride),
                       units=(r.units[0],) * r.layers[0], dense_units=min(r.head.dense_units),
                       dropout=r.head.dropout[0])

    def effective_arch(self, arch: Arch, compression: Compression) -> GRUArch:
        """Channel pruning keeps ``1 - sparsity`` of the front end's filters and of the units."""
        assert isinstance(arch, GRUArch)
        return narrowed(arch, compression, ("conv_filters", "units", "dense_units"))

    def model_input_shape(self, data_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(T, C)`` for a time series; ``(frames, coefficients)`` for audio features.

        Raises:
            SearchSpaceError: The rank is not accepted, or the sequence is shorter than
                ``min_input`` or longer than the unrolling limit.
        """
        super().model_input_shape(data_shape)
        shape = sequence_shape(self.name, data_shape)
        if not self.ranges.min_input[0] <= shape[0] <= MAX_STEPS:
            raise SearchSpaceError(
                f"search space {self.name!r} accepts sequences of {self.ranges.min_input[0]} to "
                f"{MAX_STEPS} steps (min_input in {self.config.path}), but the dataset's samples "
                f"have shape {data_shape}")
        return shape

    def build(self, arch: Arch, input_shape: tuple[int, ...], num_classes: int) -> tf_keras.Model:
        """The float Keras model with unrolled GRU layers."""
        from tinynas.keras_env import keras

        assert isinstance(arch, GRUArch)
        k = keras()
        layers = k.layers
        steps, channels = input_shape
        inputs = layers.Input((steps, channels), name="input")
        x: Any = inputs
        if arch.conv_filters:
            x = layers.Reshape((steps, 1, channels), name="to_2d")(x)
            x = layers.Conv2D(arch.conv_filters, (arch.conv_kernel, 1),
                              strides=(arch.conv_stride, 1), padding="same", use_bias=False,
                              name="conv0")(x)
            x = layers.BatchNormalization(momentum=0.9, name="conv0_bn")(x)
            x = layers.ReLU(name="conv0_relu")(x)
            x = layers.Reshape((same_out(steps, arch.conv_stride), arch.conv_filters),
                               name="to_sequence")(x)
        for i, units in enumerate(arch.units):
            x = layers.GRU(units, unroll=True, return_sequences=i < len(arch.units) - 1,
                           name=f"gru{i}")(x)
        outputs = build_head(layers, x, arch.dense_units, arch.dropout, num_classes)
        return k.Model(inputs, outputs, name=self.family)

    def graph(self, arch: Arch, input_shape: tuple[int, ...], num_classes: int) -> Graph:
        """The full-int8 graph :func:`tinynas.convert.to_int8_tflite` produces for ``arch``."""
        assert isinstance(arch, GRUArch)
        b = GraphBuilder()
        steps, channels = input_shape
        x = b.input((steps, channels))
        if arch.conv_filters:
            x = b.reshape(x, (1, steps, 1, channels))
            x = b.conv2d(x, arch.conv_filters, (arch.conv_kernel, 1), (arch.conv_stride, 1))
            steps, channels = same_out(steps, arch.conv_stride), arch.conv_filters
        # The converter merges the front end's reshape with the GRU's time-major transpose.
        sequence = b.reshape(x, (steps, 1, channels))
        for i, units in enumerate(arch.units):
            outputs = _gru_layer(b, b.unpack(sequence), units)
            if i < len(arch.units) - 1:
                sequence = b.pack(outputs)
        return b.build([graph_head(b, outputs[-1], arch.dense_units, num_classes)])

    def describe(self, arch: Arch) -> str:
        """E.g. ``conv 8 k3 s2 | gru 16 | gru 16 | dense 32``."""
        assert isinstance(arch, GRUArch)
        parts = []
        if arch.conv_filters:
            parts.append(f"conv {arch.conv_filters} k{arch.conv_kernel} s{arch.conv_stride}")
        parts += [f"gru {u}" for u in arch.units]
        head = describe_head(arch.dense_units, arch.dropout)
        return " | ".join(parts + ([head] if head else []))


def _gru_layer(b: GraphBuilder, xs: list[int], units: int) -> list[int]:
    """One unrolled GRU layer (``reset_after``), as the converter emits it; returns every h_t.

    At step 0 the state is zero, so the converter folds the recurrent product into constants: the
    recurrent bias's update, reset and candidate parts.
    """
    kernel = b.weights((3 * units, b.shape(xs[0])[-1]), 1)
    recurrent: int | None = None
    hs: list[int] = []
    for t, x in enumerate(xs):
        if t == 0:
            xz, xr, xh = b.split(b.fully_connected(x, 3 * units, weight=kernel), 3)
            z = b.unary("LOGISTIC", b.elementwise("ADD", xz, b.quantized_constant((1, units))))
            one_minus_z = b.elementwise("SUB", b.quantized_constant((), key="one"), z)
            r = b.unary("LOGISTIC", b.elementwise("ADD", xr, b.quantized_constant((1, units))))
            rh = b.elementwise("MUL", r, b.quantized_constant((1, units)))
            candidate = b.unary("TANH", b.elementwise("ADD", xh, rh))
            hs.append(b.elementwise("MUL", one_minus_z, candidate))
            continue
        h = hs[-1]
        if recurrent is None:
            recurrent = b.weights((3 * units, units), 1)
        hz, hr, hh = b.split_v(b.fully_connected(h, 3 * units, weight=recurrent),
                               (units, units, units))
        xz, xr, xh = b.split(b.fully_connected(x, 3 * units, weight=kernel), 3)
        z = b.unary("LOGISTIC", b.elementwise("ADD", xz, hz))
        zh = b.elementwise("MUL", z, h)
        one_minus_z = b.elementwise("SUB", b.quantized_constant((), key="one"), z)
        r = b.unary("LOGISTIC", b.elementwise("ADD", xr, hr))
        candidate = b.unary("TANH", b.elementwise("ADD", xh, b.elementwise("MUL", r, hh)))
        hs.append(b.elementwise("ADD", zh, b.elementwise("MUL", one_minus_z, candidate)))
    return hs
