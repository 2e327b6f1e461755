"""Pieces every space family shares: range parsing, the classifier head, width scaling."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tinynas.errors import SearchSpaceError
from tinynas.tomlfile import Section

if TYPE_CHECKING:
    import optuna

    from tinynas.spaces._base import Compression
    from tinynas.spaces._graph import GraphBuilder

A = TypeVar("A")

#: Largest width (filters, units) any space may declare; far above what fits a microcontroller.
MAX_WIDTH = 1024


def int_range(sec: Section, key: str, default: Any = ..., low: int = 0,
              high: int = MAX_WIDTH) -> tuple[int, int]:
    """A ``[min, max]`` pair of integers within ``[low, high]`` with ``min <= max``."""
    value = sec.int_list(key, default, low=low, high=high)
    if len(value) != 2:
        raise sec.fail(key, "must be a [min, max] pair of integers", list(value))
    if value[0] > value[1]:
        raise sec.fail(key, "min must not exceed max", list(value))
    return value[0], value[1]


def stepped_range(sec: Section, key: str, step_key: str, default: Any, low: int,
                  high: int = MAX_WIDTH) -> tuple[int, int, int]:
    """A ``[min, max]`` integer range and its sampling step; ``max - min`` must be a multiple."""
    lo, hi = int_range(sec, key, default, low=low, high=high)
    step = sec.integer(step_key, 1, low=1, high=high)
    if (hi - lo) % step:
        raise sec.fail(step_key, f"must divide max - min of {key} ({hi} - {lo})", step)
    return lo, hi, step


@dataclass(frozen=True)
class HeadRanges:
    """Choices for the classifier: an optional hidden dense layer and dropout before it."""

    dense_units: tuple[int, ...]
    dropout: tuple[float, float]


def parse_head(sec: Section) -> HeadRanges:
    """Read ``dense_units`` (choices, 0 = none) and ``dropout`` (``[min, max]``)."""
    return HeadRanges(
        dense_units=sec.int_list("dense_units", [0], low=0, high=MAX_WIDTH),
        dropout=sec.num_range("dropout", [0.0, 0.0], low=0.0, high=0.9),
    )


def suggest_head(trial: optuna.Trial, head: HeadRanges) -> tuple[int, float]:
    """Sample the hidden dense width and the dropout rate."""
    units = int(trial.suggest_categorical("dense_units", list(head.dense_units)))
    lo, hi = head.dropout
    dropout = trial.suggest_float("dropout", lo, hi, step=0.05) if hi > lo else lo
    return units, round(dropout, 4)


def build_head(layers: Any, x: Any, dense_units: int, dropout: float, num_classes: int) -> Any:
    """Dropout, optional hidden ReLU layer, logits and softmax, named deterministically."""
    if dropout > 0:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", name="hidden")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return layers.Softmax(name="softmax")(x)


def graph_head(b: GraphBuilder, x: int, dense_units: int, num_classes: int) -> int:
    """The operators :func:`build_head` converts to."""
    if dense_units:
        x = b.fully_connected(x, dense_units, "RELU")
    return b.softmax(b.fully_connected(x, num_classes))


def pruned_width(width: int, compression: Compression) -> int:
    """A layer's width after channel pruning removes ``sparsity`` of its filters (at least 1)."""
    if compression.pruning != "channel" or width == 0:
        return width
    return max(1, round(width * (1.0 - compression.sparsity)))


def narrowed(arch: A, compression: Compression, width_fields: tuple[str, ...]) -> A:
    """``arch`` with each width field (an int or a tuple of ints) channel-pruned."""
    changes: dict[str, Any] = {}
    for name in width_fields:
        value = getattr(arch, name)
        changes[name] = (tuple(pruned_width(v, compression) for v in value)
                         if isinstance(value, tuple) else pruned_width(value, compression))
    return dataclasses.replace(arch, **changes)  # type: ignore[type-var]


def describe_head(dense_units: int, dropout: float) -> str:
    """The head part of a one-line description."""
    parts = []
    if dropout:
        parts.append(f"dropout {dropout:g}")
    if dense_units:
        parts.append(f"dense {dense_units}")
    return " | ".join(parts)


def sequence_shape(space: str, data_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(T, C)`` for a time series, ``(frames, coefficients)`` for ``(frames, coeffs, 1)``."""
    if len(data_shape) == 2:
        return data_shape[0], data_shape[1]
    if len(data_shape) == 3 and data_shape[2] == 1:
        return data_shape[0], data_shape[1]
    raise SearchSpaceError(
        f"search space {space!r} takes (time, channels) series or (frames, coefficients, 1) "
        f"features, but the dataset's samples have shape {data_shape}")
