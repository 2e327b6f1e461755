"""The search-space interface, the space-file parser and the registry of space families."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from tinynas.errors import SearchSpaceError
from tinynas.tomlfile import Section, load_toml, resolve, shipped_names

if TYPE_CHECKING:
    import optuna
    import tf_keras

    from tinynas.graph import Graph

SPACES_DIR = Path(__file__).resolve().parent.parent.parent / "search_spaces"

QUANTIZATIONS = ("ptq", "qat")
PRUNINGS = ("none", "unstructured", "2:4", "channel")
#: Learning-rate schedules of the float training: constant, or cosine decay to zero over the
#: float epochs (fine-tuning after compression always runs at a constant, lower rate).
LR_SCHEDULES = ("constant", "cosine")

A = TypeVar("A", bound="Arch")


@dataclass(frozen=True)
class Arch:
    """Base of every architecture: a frozen dataclass that round-trips through a plain dict.

    The dict is what a trial stores, so any trial can be rebuilt exactly.
    """

    def to_dict(self) -> dict[str, Any]:
        """The architecture as JSON-ready data."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[A], data: dict[str, Any]) -> A:
        """Rebuild an architecture from :meth:`to_dict` output.

        Raises:
            SearchSpaceError: A field is missing or unknown.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k != "space"}
        missing, extra = names - set(data), set(data) - names
        if missing or extra:
            raise SearchSpaceError(
                f"architecture for {cls.__name__}: missing {sorted(missing)}, "
                f"unknown {sorted(extra)}")
        hints = typing.get_type_hints(cls)
        return cls(**{k: _typed(hints[k], v) for k, v in data.items()})


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _typed(hint: Any, value: Any) -> Any:
    """Turn JSON lists back into the tuples the dataclass declares."""
    origin = typing.get_origin(hint)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return tuple(_typed(inner, v) for v in value)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if typing.get_origin(arg) is tuple and isinstance(value, list):
                return _typed(arg, value)
    return value


@dataclass(frozen=True)
class Compression:
    """Compression settings sampled next to the architecture.

    Attributes:
        quantization: ``"ptq"`` (post-training) or ``"qat"`` (quantization-aware training);
            the result is always full int8 with int8 input and output.
        pruning: ``"none"``, ``"unstructured"`` (magnitude), ``"2:4"`` (structured 2 of 4) or
            ``"channel"`` (whole filters removed, which shrinks RAM, flash and MACs).
        sparsity: Target sparsity in ``[0, 1)``.
        clusters: Weight clusters per layer; 0 for no clustering.
        distillation: Whether a teacher's soft labels join the loss.
    """

    quantization: str = "ptq"
    pruning: str = "none"
    sparsity: float = 0.0
    clusters: int = 0
    distillation: bool = False

    def __post_init__(self) -> None:
        if self.quantization not in QUANTIZATIONS:
            raise SearchSpaceError(
                f"quantization must be one of {QUANTIZATIONS}, got {self.quantization!r}")
        if self.pruning not in PRUNINGS:
            raise SearchSpaceError(f"pruning must be one of {PRUNINGS}, got {self.pruning!r}")
        if not 0.0 <= self.sparsity < 1.0:
            raise SearchSpaceError(f"sparsity must be in [0, 1), got {self.sparsity}")
        if self.clusters < 0:
            raise SearchSpaceError(f"clusters must be >= 0, got {self.clusters}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Compression:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**data)

    def summary(self) -> str:
        """One short line, e.g. ``qat, channel 50%, 16 clusters``."""
        parts = [self.quantization]
        if self.pruning != "none" and self.sparsity > 0:
            parts.append(f"{self.pruning} {self.sparsity:.0%}")
        if self.clusters:
            parts.append(f"{self.clusters} clusters")
        if self.distillation:
            parts.append("distilled")
        return ", ".join(parts)


@dataclass(frozen=True)
class CompressionChoices:
    """What a space file lets the search choose for compression."""

    quantization: tuple[str, ...] = ("ptq",)
    pruning: tuple[str, ...] = ("none",)
    sparsity: tuple[float, float] = (0.0, 0.0)
    clusters: tuple[int, ...] = (0,)
    distillation: tuple[bool, ...] = (False,)


@dataclass(frozen=True)
class TrainingConfig:
    """Training budget and options for every candidate of a space."""

    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 3e-3
    patience: int = 4
    augment: tuple[str, ...] = ()
    lr_schedule: str = "constant"


@dataclass(frozen=True)
class SpaceConfig:
    """The parsed, validated content of a space file (family-specific ranges in ``arch``)."""

    name: str
    family: str
    description: str
    path: Path
    input_ranks: tuple[int, ...]
    example_input: tuple[int, ...]
    arch: Any
    compression: CompressionChoices
    training: TrainingConfig


class SearchSpace(ABC):
    """A family of architectures: how to sample one, build it, and predict its int8 graph.

    Subclasses set :attr:`family` and implement the abstract methods; the registry finds them by
    family name.
    """

    family: ClassVar[str]
    arch_type: ClassVar[type[Arch]]

    def __init__(self, config: SpaceConfig):
        self.config = config

    @property
    def name(self) -> str:
        """The space's name (its file name)."""
        return self.config.name

    @classmethod
    @abstractmethod
    def parse_architecture(cls, section: Section) -> Any:
        """Validate the ``[architecture]`` table of a space file into family-specific ranges."""

    @abstractmethod
    def suggest(self, trial: optuna.Trial) -> Arch:
        """Sample an architecture with ``trial.suggest_*``.

        Every parameter the space file allows is sampled in every trial, including those the
        other choices switch off (the widths of blocks past ``blocks``, a front end's kernel
        when it has no filters, the sparsity of an unpruned model): inactive genes. Optuna's
        NSGA-II breeds only the parameters every earlier trial has; a parameter that only some
        trials sample is drawn at random for every offspring, so without inactive genes the
        offspring of a search over depths inherited no block's width, kernel or stride.
        """

    @abstractmethod
    def smallest(self) -> Arch:
        """The cheapest architecture of the space (for refusing boards nothing fits)."""

    @abstractmethod
    def build(self, arch: Arch, input_shape: tuple[int, ...], num_classes: int) -> tf_keras.Model:
        """Build the float Keras model (TensorFlow is imported here, not at module level)."""

    @abstractmethod
    def graph(self, arch: Arch, input_shape: tuple[int, ...], num_classes: int) -> Graph:
        """Predict the full-int8 TFLite graph the converter will produce for ``arch``."""

    @abstractmethod
    def describe(self, arch: Arch) -> str:
        """A one-line summary of ``arch``."""

    def effective_arch(self, arch: Arch, compression: Compression) -> Arch:
        """The architecture the compressed model has: narrower after channel pruning.

        Other compression settings keep every shape, so the default returns ``arch``.
        """
        return arch

    def signature(self, effective: Arch, compression: Compression) -> str:
        """One string per distinct model: the effective architecture and the compression.

        Candidates that differ only in inactive genes share it; the search reuses a trained
        model whose signature a new candidate repeats.
        """
        return json.dumps({"arch": {"space": self.name, **effective.to_dict()},
                           "compression": compression.to_dict()}, sort_keys=True)

    def params_signature(self, params: Mapping[str, Any]) -> str | None:
        """The :meth:`signature` of the model a set of Optuna parameters stands for.

        Returns:
            The signature, or None when a parameter that can take more than one value is
            missing from ``params`` (parameters with a single allowed value may be left out).
        """
        model = self.params_model(params)
        return None if model is None else self.signature(*model)

    def params_model(self, params: Mapping[str, Any]) -> tuple[Arch, Compression] | None:
        """The effective architecture and the compression a set of Optuna parameters stands for.

        Returns:
            Both, or None when a parameter that can take more than one value is missing from
            ``params`` (parameters with a single allowed value may be left out).
        """
        replay = cast("optuna.Trial", _Replay(params))
        try:
            arch = self.suggest(replay)
            compression = self.suggest_compression(replay)
        except _Missing:
            return None
        return self.effective_arch(arch, compression), compression

    def model_input_shape(self, data_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The model's input shape (batch excluded) for a dataset sample shape.

        Raises:
            SearchSpaceError: The space does not accept inputs of this rank.
        """
        if len(data_shape) not in self.config.input_ranks:
            raise SearchSpaceError(
                f"search space {self.name!r} takes inputs of rank "
                f"{' or '.join(map(str, self.config.input_ranks))}, but the dataset's samples have "
                f"shape {data_shape}")
        return data_shape

    def default_input_shape(self) -> tuple[int, ...]:
        """The sample shape the space file gives as its example (used by ``estimate``)."""
        return self.config.example_input

    def arch_from_dict(self, data: dict[str, Any]) -> Arch:
        """Rebuild an architecture stored in a trial."""
        return self.arch_type.from_dict(data)

    def suggest_compression(self, trial: optuna.Trial) -> Compression:
        """Sample compression settings within the space file's choices."""
        c = self.config.compression
        quantization = trial.suggest_categorical("quantization", list(c.quantization))
        pruning = trial.suggest_categorical("pruning", list(c.pruning))
        # Sampled even where the pruning kind ignores it (see SearchSpace.suggest).
        sparsity = (trial.suggest_float("sparsity", c.sparsity[0], c.sparsity[1], step=0.05)
                    if c.sparsity[1] > c.sparsity[0] else c.sparsity[0])
        if pruning == "none":
            sparsity = 0.0
        elif pruning == "2:4":
            sparsity = 0.5
        clusters = trial.suggest_categorical("clusters", list(c.clusters))
        distillation = trial.suggest_categorical("distillation", list(c.distillation))
        return Compression(quantization=quantization, pruning=pruning, sparsity=round(sparsity, 4),
                           clusters=int(clusters), distillation=bool(distillation))


class _Missing(LookupError):
    """A parameter :class:`_Replay` was asked for is not among the stored ones."""


class _Replay:
    """Answers a space's ``suggest_*`` calls from stored parameters instead of sampling."""

    def __init__(self, params: Mapping[str, Any]):
        self.params = params

    def _value(self, name: str, choices: Sequence[Any]) -> Any:
        if name in self.params:
            return self.params[name]
        if len(choices) == 1:
            return choices[0]
        raise _Missing(name)

    def suggest_int(self, name: str, low: int, high: int, step: int = 1,
                    log: bool = False) -> int:
        return int(self._value(name, [low] if low == high else [low, high]))

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return float(self._value(name, [low] if low == high else [low, high]))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._value(name, choices)


_FAMILIES: dict[str, type[SearchSpace]] = {}

#: Example sample shape by input rank, when a space file names none: an 8x8 image, 100 steps of
#: 6 sensor channels.
_EXAMPLE_INPUTS = {3: (8, 8, 1), 2: (100, 6)}


def register(cls: type[SearchSpace]) -> type[SearchSpace]:
    """Class decorator adding a space family to the registry; refuses duplicates."""
    if cls.family in _FAMILIES:
        raise ValueError(f"search-space family {cls.family!r} is already registered")
    _FAMILIES[cls.family] = cls
    return cls


def families() -> list[str]:
    """Registered family names."""
    return sorted(_FAMILIES)


def _parse_compression(sec: Section) -> CompressionChoices:
    choices = CompressionChoices(
        quantization=sec.str_list("quantization", ["ptq"], choices=QUANTIZATIONS),
        pruning=sec.str_list("pruning", ["none"], choices=PRUNINGS),
        sparsity=sec.num_range("sparsity", [0.0, 0.0], low=0.0, high=1.0, high_open=True),
        clusters=sec.int_list("clusters", [0], low=0, high=256),
        distillation=tuple(_bool_list(sec, "distillation")),
    )
    if 1 in choices.clusters:
        raise sec.fail("clusters", "a cluster count must be 0 (off) or at least 2", 1)
    if any(p != "none" for p in choices.pruning) and choices.sparsity[1] <= 0 and (
            set(choices.pruning) - {"none", "2:4"}):
        raise sec.fail("sparsity", "must allow a value above 0 when pruning is enabled",
                       list(choices.sparsity))
    sec.check_unknown()
    return choices


def _bool_list(sec: Section, key: str) -> list[bool]:
    value = sec.data.get(key, [False])
    sec._seen.add(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, bool) for v in value):
        raise sec.fail(key, "must be a non-empty list of true/false", value)
    return value


def _parse_training(sec: Section) -> TrainingConfig:
    cfg = TrainingConfig(
        epochs=sec.integer("epochs", 20, low=1, high=10000),
        batch_size=sec.integer("batch_size", 32, low=1, high=65536),
        learning_rate=sec.number("learning_rate", 3e-3, low=1e-7, high=10.0),
        patience=sec.integer("patience", 4, low=1, high=10000),
        augment=sec.str_list("augment", ["none"]) if sec.has("augment") else (),
        lr_schedule=sec.string("lr_schedule", "constant", choices=LR_SCHEDULES),
    )
    sec.check_unknown()
    return cfg


def load_space_file(path: Path) -> SearchSpace:
    """Parse and validate a space file; the one place space files are read.

    Args:
        path: A TOML file with ``[space]``, ``[architecture]``, optional ``[compression]`` and
            ``[training]`` tables.

    Returns:
        A configured search space.

    Raises:
        SearchSpaceError: The file is missing or malformed, or a value breaks a rule.
    """
    top = load_toml(path, SearchSpaceError)
    head = top.section("space")
    family = head.string("family", choices=families())
    cls = _FAMILIES[family]
    ranks = head.int_list("input_ranks", low=1, high=4)
    config = SpaceConfig(
        name=path.stem,
        family=family,
        description=head.string("description", ""),
        path=path,
        input_ranks=ranks,
        example_input=head.int_list("example_input", list(_EXAMPLE_INPUTS.get(ranks[0], (8, 8, 1))),
                                    low=1, high=100000),
        arch=cls.parse_architecture(top.section("architecture")),
        compression=_parse_compression(top.section("compression", required=False)),
        training=_parse_training(top.section("training", required=False)),
    )
    head.check_unknown()
    top.check_unknown()
    return cls(config)


def space_names() -> list[str]:
    """Names of the spaces shipped in ``search_spaces/``."""
    return shipped_names(SPACES_DIR)


def load_space(name_or_path: str) -> SearchSpace:
    """Load a shipped space by name, or any space file by path.

    Raises:
        SearchSpaceError: The file is invalid.
        UnknownNameError: No such space name.
    """
    return load_space_file(resolve(name_or_path, SPACES_DIR, "search space"))
