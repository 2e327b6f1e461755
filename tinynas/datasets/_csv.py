"""Sensor logs as CSV files, one class per sub-folder (``LABEL/*.csv``) or per file-name prefix
(``LABEL.anything.csv``, as Edge Impulse names its exports), cut into fixed-length windows.

A file holds one sample per line, comma- or tab-separated, with an optional header; a header
column named ``timestamp`` (or ``time``), in milliseconds, gives the sampling rate and is not a
channel. With at least three recordings per class whole recordings are split; otherwise each
recording is cut in time (first 70 % train, next 15 % validation, last 15 % test) so that no
window spans two splits. Each training window's group (:attr:`Dataset.train_groups`, what
cross-validated folds hold out whole) is its recording, or for recordings cut in time a
stretch of its recording as long as the validation part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinynas.datasets._base import (
    TEST_FRACTION,
    VAL_FRACTION,
    Dataset,
    Split,
    apply_limit,
    build_dataset,
    check_samples,
    require_all_classes,
    stratified_split,
)
from tinynas.datasets._folder import folder_options
from tinynas.errors import DatasetError

TIME_COLUMNS = ("timestamp", "time", "timestamp_ms", "time_ms")
DEFAULT_WINDOW = 100


@dataclass(frozen=True)
class Recording:
    """One CSV file: samples ``(n, channels)``, its rate (Hz) if timestamped, and its label."""

    path: Path
    label: str
    values: np.ndarray
    rate_hz: float | None
    channels: tuple[str, ...]


def _numbers(path: Path, lineno: int, tokens: Sequence[str]) -> list[float]:
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise DatasetError(f"{path}:{lineno}: {bad.strip()!r} is not a number") from None
    if not all(np.isfinite(values)):
        raise DatasetError(f"{path}:{lineno}: NaN or infinite value")
    return values


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_recording(path: Path, label: str) -> Recording:
    """Read one CSV sensor log.

    Raises:
        DatasetError: Unreadable, empty, ragged, or non-numeric (naming the line).
    """
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a text CSV file") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines())
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DatasetError(f"{path}: empty file, expected one sample per line")
    sep = "\t" if "\t" in lines[0][1] else ","
    first = [t.strip() for t in lines[0][1].split(sep)]
    header = None if all(_is_number(t) for t in first) else first
    rows = lines[1:] if header else lines
    width = len(first)
    values = []
    for lineno, line in rows:
        tokens = line.split(sep)
        if len(tokens) != width:
            raise DatasetError(f"{path}:{lineno}: expected {width} values, got {len(tokens)}")
        values.append(_numbers(path, lineno, tokens))
    if not values:
        raise DatasetError(f"{path}: header only, no samples")
    data = np.asarray(values, dtype=np.float64)
    names = tuple(header) if header else tuple(f"ch{i}" for i in range(width))
    time_col = next((i for i, n in enumerate(names) if n.lower() in TIME_COLUMNS), None)
    rate = None
    if time_col is not None:
        t = data[:, time_col]
        if len(t) > 1 and t[-1] > t[0]:
            rate = 1000.0 * (len(t) - 1) / (t[-1] - t[0])
        data = np.delete(data, time_col, axis=1)
        names = names[:time_col] + names[time_col + 1:]
    if data.shape[1] == 0:
        raise DatasetError(f"{path}: no sensor columns besides the timestamp")
    return Recording(path, label, data, rate, names)


def _scan(root: Path) -> list[tuple[Path, str]]:
    found = [(p, p.parent.name) for d in sorted(root.iterdir()) if d.is_dir()
             for p in sorted(d.glob("*.csv"))]
    found += [(p, p.name.split(".")[0]) for p in sorted(root.glob("*.csv"))]
    if not found:
        raise DatasetError(f"{root}: no .csv files; expected LABEL/*.csv or LABEL.*.csv")
    return found


def _windows(values: np.ndarray, length: int, stride: int) -> np.ndarray:
    starts = np.arange(0, len(values) - length + 1, stride)
    return np.stack([values[s:s + length] for s in starts]) if len(starts) else \
        np.zeros((0, length, values.shape[1]))


def _stretches(pieces: list[tuple[int, np.ndarray, int, int]]) -> np.ndarray:
    """For recordings cut in time, the stretch of its recording each window lies in (aligned
    with the concatenated ``pieces``, in their order): each recording's training windows in
    consecutive runs as long as its validation part, so that cross-validated folds hold out
    contiguous stretches of time as the validation split does, not windows whose neighbours
    (which overlap them) train. Only the two windows at each edge of a stretch overlap.
    Validation and test windows are stretch 0 (their groups are not used)."""
    val_windows = {i: len(w) for k, w, _, i in pieces if k == 1}
    stretches: np.ndarray = np.concatenate(
        [np.arange(len(w)) // max(1, val_windows[i]) if k == 0
         else np.zeros(len(w), dtype=np.int64) for k, w, _, i in pieces]).astype(np.int64)
    return stretches


def load_csv_folder(root: Path, seed: int = 0, limit: int | None = None,
                    window: int | None = None, stride: int | None = None) -> Dataset:
    """Cut a folder of labelled CSV sensor logs into ``(window, channels)`` samples.

    Args:
        root: The folder (see the module description for the layout).
        seed: Fixes the split of recordings and any subsampling.
        limit: About this many windows in all (see :func:`load_dataset`).
        window: Samples per window; default ``[window] length`` from ``root/dataset.toml``,
            else one second at the detected rate, else 100.
        stride: Samples between window starts; default ``[window] stride``, else half a window.

    Raises:
        DatasetError: Malformed files, differing channel counts or rates, too-short recordings,
            a single class, or a class without windows.
    """
    sec = folder_options(root, "window")
    recordings = [read_recording(p, label) for p, label in _scan(root)]
    ref = recordings[0]
    rates = [r.rate_hz for r in recordings if r.rate_hz]
    rate = float(np.median(rates)) if rates else None
    for r in recordings:
        if r.values.shape[1] != ref.values.shape[1]:
            raise DatasetError(f"{r.path}: {r.values.shape[1]} channels, but {ref.path} has "
                               f"{ref.values.shape[1]}")
        if rate and r.rate_hz and abs(r.rate_hz - rate) > 0.2 * rate:
            raise DatasetError(f"{r.path}: sampled at {r.rate_hz:.1f} Hz but the other files at "
                               f"about {rate:.1f} Hz; record every class at the same rate")
    default = max(2, round(rate)) if rate else DEFAULT_WINDOW
    length = window if window is not None else sec.integer("length", default, low=2)
    step = stride if stride is not None else sec.integer("stride", max(1, length // 2), low=1)
    sec.check_unknown()
    if length < 2 or step < 1:
        raise DatasetError(f"{root}: window must be >= 2 samples and stride >= 1, got window "
                           f"{length}, stride {step}")
    names = sorted({r.label for r in recordings})
    files_per_class = np.bincount([names.index(r.label) for r in recordings],
                                  minlength=len(names))
    labels = np.array([names.index(r.label) for r in recordings])
    check_samples(np.zeros((len(labels), 1)), labels, names, str(root))
    # (split index, windows, class, recording) per recording or per part of a recording.
    pieces: list[tuple[int, np.ndarray, int, int]] = []
    if (files_per_class >= 3).all():
        file_split = stratified_split(labels, seed, str(root), class_names=names)
        for k, idx in enumerate((file_split.train, file_split.val, file_split.test)):
            pieces += [(k, _windows(recordings[i].values, length, step), labels[i], i)
                       for i in idx]
        method = "by recording"
    else:
        for i, r in enumerate(recordings):
            n = len(r.values)
            cuts = [0, round(n * (1 - VAL_FRACTION - TEST_FRACTION)),
                    round(n * (1 - TEST_FRACTION)), n]
            if min(np.diff(cuts)) < length:
                raise DatasetError(
                    f"{r.path}: {n} samples cannot give train, validation and test windows of "
                    f"{length} samples; record at least {int(np.ceil(length / TEST_FRACTION))} "
                    "samples, or three or more files per class")
            pieces += [(k, _windows(r.values[cuts[k]:cuts[k + 1]], length, step), labels[i], i)
                       for k in range(3)]
        method = "by time"
    pieces.sort(key=lambda piece: piece[0])
    x = np.concatenate([w for _, w, _, _ in pieces]).astype(np.float32)
    y = np.concatenate([np.full(len(w), c, dtype=np.int64) for _, w, c, _ in pieces])
    recording = np.concatenate([np.full(len(w), i, dtype=np.int64) for _, w, _, i in pieces])
    if method == "by time":
        recording = recording * len(y) + _stretches(pieces)
    sizes = [sum(len(w) for k, w, _, _ in pieces if k == part) for part in range(3)]
    bounds = np.cumsum([0] + sizes)
    train, val, test = (np.arange(bounds[k], bounds[k + 1]) for k in range(3))
    split = Split(train, val, test, method)
    if not len(y):
        raise DatasetError(f"{root}: no recording has {length} samples for one window; record "
                           "longer or use a smaller window")
    require_all_classes(y, split, str(root), f"with windows of {length} samples, ", names)
    keep, y, split = apply_limit(np.arange(len(y)), y, split, limit, seed)
    x, recording = x[keep], recording[keep]
    window_info = {"length": length, "stride": step, "sample_rate_hz": rate,
                   "channels": list(ref.channels)}
    return build_dataset(name=str(root), modality="timeseries", x=x, y=y, class_names=names,
                         source=f"CSV sensor logs in {root}", seed=seed, where=str(root),
                         split=split, preprocessing={"window": window_info},
                         groups=recording)
