"""Convolution stacks: a first convolution, then blocks, global pooling or flatten, a classifier.

A space file may also offer models with no convolution at all (``convolution = [true, false]``):
the flattened input feeds one hidden dense layer (``dense_only_units``) and the classifier. Its
arena holds only the input and the hidden layer: on 8x8 digits less than the narrowest
convolution needs.

Four families share this: ``ds_cnn`` (depthwise-separable blocks on images or audio features),
``cnn`` (plain convolution blocks, the baseline), ``mixed_cnn`` (each block plain or
depthwise-separable, chosen per block) and ``cnn1d`` (1-D convolutions written as ``(k, 1)`` 2-D
ones, because the Model Optimization Toolkit and TFLite Micro support those).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tinynas.errors import SearchSpaceError
from tinynas.spaces._base import Arch, Compression, SearchSpace, _bool_list
from tinynas.spaces._common import (
    MAX_WIDTH,
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
from tinynas.spaces._graph import GraphBuilder
from tinynas.tomlfile import Section

if TYPE_CHECKING:
    import optuna
    import tf_keras

    from tinynas.graph import Graph

POOLINGS = ("avg", "max", "flatten")
#: Block kinds whose architectures carry a ``separable`` field sampled from the space file.
CHOSEN_KINDS = ("choice", "per_block")
MAX_BLOCKS = 6
MAX_KERNEL = 15


@dataclass(frozen=True)
class ConvArch(Arch):
    """A convolution stack.

    Attributes:
        first_filters: Output channels of the first (full) convolution; 0 for a dense-only
            model (no convolution: no blocks, ``flatten``, ``first_kernel`` and
            ``first_stride`` 1).
        first_kernel: Its kernel size (square in 2-D, ``(k, 1)`` in 1-D).
        first_stride: Its stride.
        filters: Output channels of each block.
        kernels: Kernel size of each block.
        strides: Stride of each block.
        pooling: ``avg`` or ``max`` (global), or ``flatten``.
        dense_units: Width of a hidden dense layer before the classifier (0 = none).
        dropout: Dropout rate before the classifier.
    """

    first_filters: int
    first_kernel: int
    first_stride: int
    filters: tuple[int, ...]
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    pooling: str
    dense_units: int
    dropout: float

    def __post_init__(self) -> None:
        if not len(self.filters) == len(self.kernels) == len(self.strides):
            raise SearchSpaceError(
                f"architecture: filters, kernels and strides must have one entry per block, got "
                f"{len(self.filters)}, {len(self.kernels)}, {len(self.strides)}")
        if self.pooling not in POOLINGS:
            raise SearchSpaceError(
                f"architecture: pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.first_filters < 0:
            raise SearchSpaceError(
                f"architecture: first_filters must be 0 (no convolution) or more, got "
                f"{self.first_filters}")
        if self.dense_only and (self.filters or self.pooling != "flatten"
                                or (self.first_kernel, self.first_stride) != (1, 1)):
            raise SearchSpaceError(
                "architecture: a model without convolution (first_filters 0) has no blocks, "
                "pooling 'flatten', and first_kernel and first_stride 1")

    @property
    def dense_only(self) -> bool:
        """Whether the model has no convolution (the flattened input feeds the dense head)."""
        return self.first_filters == 0


@dataclass(frozen=True)
class ConvRanges:
    """What a space file lets a convolution stack choose.

    Attributes:
        min_input: Smallest input (height, width) or (length,) the space accepts.
        first_filters: ``(min, max, step)`` of the first convolution's width.
        first_kernel: Kernel-size choices of the first convolution.
        first_stride: Stride choices of the first convolution.
        blocks: ``(min, max)`` number of blocks.
        filters: ``(min, max, step)`` of each block's width.
        kernel: Kernel-size choices of the blocks.
        stride: Stride choices of the blocks.
        pooling: Pooling choices.
        head: Classifier choices.
        separable: Depthwise-separable choices for the blocks (``choice`` and ``per_block``
            kinds only).
        convolution: Whether models have convolutions; ``(True, False)`` also samples
            dense-only models.
        dense_only_units: Hidden-layer width choices of a dense-only model.
    """

    min_input: tuple[int, ...]
    first_filters: tuple[int, int, int]
    first_kernel: tuple[int, ...]
    first_stride: tuple[int, ...]
    blocks: tuple[int, int]
    filters: tuple[int, int, int]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    pooling: tuple[str, ...]
    head: HeadRanges
    separable: tuple[bool, ...] = ()
    convolution: tuple[bool, ...] = (True,)
    dense_only_units: tuple[int, ...] = ()


class ConvStackSpace(SearchSpace):
    """Shared implementation; subclasses set :attr:`spatial_dims` and :attr:`block_kind`.

    ``block_kind`` is ``"separable"`` (depthwise then pointwise convolution), ``"plain"`` (one full
    convolution), ``"choice"`` (the architecture's ``separable`` flag decides for every block) or
    ``"per_block"`` (the architecture's ``separable`` tuple decides block by block).
    """

    spatial_dims: ClassVar[int] = 2
    block_kind: ClassVar[str] = "separable"
    arch_type: ClassVar[type[Arch]] = ConvArch

    # -- space file --------------------------------------------------------------------------
    @classmethod
    def parse_architecture(cls, section: Section) -> ConvRanges:
        """Validate the ``[architecture]`` table; every error names the file, key and rule."""
        min_input = section.int_list("min_input", low=1, high=100_000)
        if len(min_input) != cls.spatial_dims:
            what = "[height, width]" if cls.spatial_dims == 2 else "[length]"
            raise section.fail("min_input", f"must be {what}", list(min_input))
        smallest_side = min(min_input)
        strides = {}
        for key in ("first_stride", "stride"):
            strides[key] = section.int_list(key, [1], low=1, high=MAX_KERNEL)
            too_big = [s for s in strides[key] if s > smallest_side]
            if too_big:
                raise section.fail(
                    key, f"a stride may not exceed the smallest accepted input side "
                    f"({smallest_side}, from min_input)", too_big[0])
        ranges = ConvRanges(
            min_input=min_input,
            first_filters=stepped_range(section, "first_filters", "first_filters_step", [8, 32],
                                        low=1),
            first_kernel=section.int_list("first_kernel", [3], low=1, high=MAX_KERNEL),
            first_stride=strides["first_stride"],
            blocks=int_range(section, "blocks", [1, 3], low=0, high=MAX_BLOCKS),
            filters=stepped_range(section, "filters", "filters_step", [8, 64], low=1),
            kernel=section.int_list("kernel", [3], low=1, high=MAX_KERNEL),
            stride=strides["stride"],
            pooling=section.str_list("pooling", ["avg"], choices=POOLINGS),
            head=parse_head(section),
            separable=(_bool_choices(section, "separable") if cls.block_kind in CHOSEN_KINDS
                       else ()),
            **_dense_only_choices(section),
        )
        section.check_unknown()
        return ranges

    @property
    def ranges(self) -> ConvRanges:
        """The validated ranges of this space's file."""
        ranges: ConvRanges = self.config.arch
        return ranges

    # -- sampling ----------------------------------------------------------------------------
    def suggest(self, trial: optuna.Trial) -> ConvArch:
        """Sample an architecture with ``trial.suggest_*``."""
        r = self.ranges
        convolution = (bool(trial.suggest_categorical("convolution", list(r.convolution)))
                       if len(r.convolution) > 1 else r.convolution[0])
        lo, hi, step = r.first_filters
        first_filters = trial.suggest_int("first_filters", lo, hi, step=step)
        first_kernel = int(trial.suggest_categorical("first_kernel", list(r.first_kernel)))
        first_stride = int(trial.suggest_categorical("first_stride", list(r.first_stride)))
        n_blocks = trial.suggest_int("blocks", r.blocks[0], r.blocks[1])
        lo, hi, step = r.filters
        filters, kernels, strides, separable = [], [], [], []
        # Every block the space allows is sampled; those past ``blocks`` are inactive genes
        # (see SearchSpace.suggest).
        for i in range(r.blocks[1]):
            filters.append(trial.suggest_int(f"b{i}_filters", lo, hi, step=step))
            kernels.append(int(trial.suggest_categorical(f"b{i}_kernel", list(r.kernel))))
            strides.append(int(trial.suggest_categorical(f"b{i}_stride", list(r.stride))))
            if self.block_kind == "per_block":
                separable.append(bool(trial.suggest_categorical(f"b{i}_separable",
                                                                list(r.separable))))
        del filters[n_blocks:], kernels[n_blocks:], strides[n_blocks:], separable[n_blocks:]
        pooling = str(trial.suggest_categorical("pooling", list(r.pooling)))
        if n_blocks == 0:
            pooling = self._stem_only_pooling() or pooling
        dense_units, dropout = suggest_head(trial, r.head)
        chosen = (bool(trial.suggest_categorical("separable", list(r.separable)))
                  if self.block_kind == "choice" else False)
        hidden = 0
        if r.dense_only_units:
            hidden = int(trial.suggest_categorical("dense_only_units", list(r.dense_only_units)))
        if not convolution:
            # Every convolution gene above is inactive here (see SearchSpace.suggest).
            return self._arch(first_filters=0, first_kernel=1, first_stride=1, filters=(),
                              kernels=(), strides=(), pooling="flatten", dense_units=hidden,
                              dropout=dropout, **self._separable_field(False, ()))
        return self._arch(first_filters=first_filters, first_kernel=first_kernel,
                          first_stride=first_stride, filters=tuple(filters),
                          kernels=tuple(kernels), strides=tuple(strides), pooling=pooling,
                          dense_units=dense_units, dropout=dropout,
                          **self._separable_field(chosen, tuple(separable)))

    def smallest(self) -> ConvArch:
        """Fewest, narrowest blocks with the largest strides: the least RAM, flash and MACs."""
        r = self.ranges
        n = r.blocks[0]
        pooling = ((self._stem_only_pooling() if n == 0 else None)
                   or next((p for p in ("avg", "max") if p in r.pooling), r.pooling[0]))
        return self._arch(first_filters=r.first_filters[0], first_kernel=min(r.first_kernel),
                          first_stride=max(r.first_stride), filters=(r.filters[0],) * n,
                          kernels=(min(r.kernel),) * n, strides=(max(r.stride),) * n,
                          pooling=pooling, dense_units=min(r.head.dense_units),
                          dropout=r.head.dropout[0],
                          **self._separable_field(True in r.separable,
                                                  (True in r.separable,) * n))

    def _separable_field(self, chosen: bool, per_block: tuple[bool, ...]) -> dict[str, Any]:
        """The ``separable`` field of this family's architecture: ``chosen`` for the ``choice``
        kind, ``per_block`` for ``per_block``, none for the others."""
        if self.block_kind == "choice":
            return {"separable": chosen}
        if self.block_kind == "per_block":
            return {"separable": per_block}
        return {}

    def _stem_only_pooling(self) -> str | None:
        """The pooling of a zero-block model: ``flatten`` where the space offers it.

        Global pooling straight after the first convolution leaves the classifier only the
        channel means of one layer of local features. In the first 24-trial searches of
        ``mixed_cnn`` such models scored 0.17 to 0.88 int8 on digits and 0.10 to 0.57 on
        fashion_mnist (80 trained), where flattened ones scored 0.71 to 1.00 and 0.79 to 0.83
        (52 trained); their tiny cost still kept them on the front, and NSGA-II kept breeding them.
        """
        return "flatten" if "flatten" in self.ranges.pooling else None

    def _arch(self, **fields: Any) -> ConvArch:
        arch = self.arch_type(**fields)
        assert isinstance(arch, ConvArch)
        return arch

    def effective_arch(self, arch: Arch, compression: Compression) -> ConvArch:
        """The architecture after channel pruning keeps ``1 - sparsity`` of every hidden width."""
        assert isinstance(arch, ConvArch)
        return narrowed(arch, compression, ("first_filters", "filters", "dense_units"))

    # -- shapes ------------------------------------------------------------------------------
    def model_input_shape(self, data_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The model input for a sample shape; 1-D stacks see ``(T, C)`` as ``(T, 1, C)``.

        Raises:
            SearchSpaceError: The rank is not accepted, or the input is smaller than
                ``min_input``.
        """
        super().model_input_shape(data_shape)
        shape: tuple[int, ...]
        if self.spatial_dims == 1:
            length, channels = sequence_shape(self.name, data_shape)
            shape = (length, 1, channels)
        elif len(data_shape) == 3:
            shape = tuple(data_shape)
        else:
            raise SearchSpaceError(
                f"search space {self.name!r} takes (height, width, channels) inputs, but the "
                f"dataset's samples have shape {data_shape}")
        sides = shape[:1] if self.spatial_dims == 1 else shape[:2]
        if any(s < m for s, m in zip(sides, self.ranges.min_input, strict=True)):
            raise SearchSpaceError(
                f"search space {self.name!r} accepts inputs of at least "
                f"{' x '.join(map(str, self.ranges.min_input))} (min_input in "
                f"{self.config.path}), but the dataset's samples have shape {data_shape}")
        return shape

    def _window(self, k: int) -> tuple[int, int]:
        return (k, k) if self.spatial_dims == 2 else (k, 1)

    @staticmethod
    def _stride(s: int) -> tuple[int, int]:
        # Square even in 1-D: over a width of 1 an (s, s) stride is an (s, 1) one, and
        # TensorFlow's CPU depthwise convolution refuses unequal strides.
        return (s, s)

    def _separable(self, arch: ConvArch) -> tuple[bool, ...]:
        """Whether each block is depthwise-separable."""
        n = len(arch.filters)
        if self.block_kind == "per_block":
            return tuple(getattr(arch, "separable"))  # noqa: B009  (only MixedCNNArch has it)
        if self.block_kind == "choice":
            return (bool(getattr(arch, "separable")),) * n  # noqa: B009  (only CNN1DArch has it)
        return (self.block_kind == "separable",) * n

    # -- model -------------------------------------------------------------------------------
    def build(self, arch: Arch, input_shape: tuple[int, ...], num_classes: int) -> tf_keras.Model:
        """The float Keras model (batch norm folds into the convolutions at conversion)."""
        from tinynas.keras_env import keras

        assert isinstance(arch, ConvArch)
        k = keras()
        layers = k.layers

        def conv_bn_relu(x: Any, name: str, filters: int | None, kernel: int, stride: int) -> Any:
            if filters is None:
                x = layers.DepthwiseConv2D(self._window(kernel), strides=self._stride(stride),
                                           padding="same", use_bias=False, name=name)(x)
            else:
                x = layers.Conv2D(filters, self._window(kernel), strides=self._stride(stride),
                                  padding="same", use_bias=False, name=name)(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
            return layers.ReLU(name=f"{name}_relu")(x)

        inputs = layers.Input(tuple(input_shape), name="input")
        x = inputs if arch.dense_only else conv_bn_relu(
            inputs, "conv0", arch.first_filters, arch.first_kernel, arch.first_stride)
        blocks = zip(arch.filters, arch.kernels, arch.strides, self._separable(arch), strict=True)
        for i, (f, kern, s, separable) in enumerate(blocks):
            if separable:
                x = conv_bn_relu(x, f"block{i}_dw", None, kern, s)
                x = conv_bn_relu(x, f"block{i}_pw", f, 1, 1)
            else:
                x = conv_bn_relu(x, f"block{i}_conv", f, kern, s)
        if arch.pooling == "avg":
            x = layers.GlobalAveragePooling2D(name="pool")(x)
        elif arch.pooling == "max":
            x = layers.GlobalMaxPooling2D(name="pool")(x)
        else:
            x = layers.Flatten(name="flatten")(x)
        outputs = build_head(layers, x, arch.dense_units, arch.dropout, num_classes)
        return k.Model(inputs, outputs, name=self.family)

    def graph(self, arch: Arch, input_shape: tuple[int, ...], num_classes: int) -> Graph:
        """The full-int8 graph :func:`tinynas.convert.to_int8_tflite` produces for ``arch``."""
        assert isinstance(arch, ConvArch)
        b = GraphBuilder()
        x = b.input(tuple(input_shape))
        if not arch.dense_only:
            x = b.conv2d(x, arch.first_filters, self._window(arch.first_kernel),
                         self._stride(arch.first_stride))
        blocks = zip(arch.filters, arch.kernels, arch.strides, self._separable(arch), strict=True)
        for f, kern, s, separable in blocks:
            if separable:
                x = b.depthwise_conv2d(x, self._window(kern), self._stride(s))
                x = b.conv2d(x, f, (1, 1), (1, 1))
            else:
                x = b.conv2d(x, f, self._window(kern), self._stride(s))
        if arch.pooling == "flatten":
            _, h, w, c = b.shape(x)
            # Over a 1x1 map the fully-connected layer flattens by itself; no RESHAPE is emitted.
            if h * w > 1:
                x = b.reshape(x, (1, h * w * c))
        else:
            x = b.global_pool(x, arch.pooling)
        return b.build([graph_head(b, x, arch.dense_units, num_classes)])

    def describe(self, arch: Arch) -> str:
        """E.g. ``conv 8 k3 s1 | ds 16 k3 s2 | avg | dense 32``."""
        assert isinstance(arch, ConvArch)
        parts = ([] if arch.dense_only else
                 [f"conv {arch.first_filters} k{arch.first_kernel} s{arch.first_stride}"])
        blocks = zip(arch.filters, arch.kernels, arch.strides, self._separable(arch), strict=True)
        parts += [f"{'ds' if sep else 'conv'} {f} k{k} s{s}" for f, k, s, sep in blocks]
        parts.append(arch.pooling)
        head = describe_head(arch.dense_units, arch.dropout)
        return " | ".join(parts + ([head] if head else []))


def _bool_choices(section: Section, key: str) -> tuple[bool, ...]:
    return tuple(_bool_list(section, key)) if section.has(key) else (True, False)


def _dense_only_choices(section: Section) -> dict[str, Any]:
    """``convolution`` and, where it offers ``false``, ``dense_only_units`` (widths > 0)."""
    convolution = (tuple(dict.fromkeys(_bool_list(section, "convolution")))
                   if section.has("convolution") else (True,))
    if False not in convolution:
        if section.has("dense_only_units"):
            raise section.fail("dense_only_units", "applies only where convolution offers false",
                               section.data["dense_only_units"])
        return {"convolution": convolution}
    units = section.int_list("dense_only_units", low=1, high=MAX_WIDTH)
    return {"convolution": convolution, "dense_only_units": units}
