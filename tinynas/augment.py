"""Training-time augmentation per modality, in NumPy on normalized samples.

A search space names augmentations (``augment = ["shift", "noise"]`` in its ``[training]``
table); :func:`augment` applies them to a batch with a fresh random draw per sample. Names and
the meaning of their strength:

* image: ``shift`` (max translation, fraction of height/width), ``rotate`` (max degrees),
  ``noise`` (Gaussian std in normalized units), ``flip`` (chance of a left-right mirror; for
  classes that look the same mirrored, such as clothing, not for digits or text).
* timeseries: ``noise`` (Gaussian std), ``shift`` (max time shift, fraction of the window;
  edges repeat), ``scale`` (max relative amplitude change per channel).
* audio (features ``(frames, coefficients, 1)``): ``shift`` (max time shift, fraction of the
  frames), ``noise`` (max amplitude of a background-noise clip mixed in, relative to the
  recording; mixed on mel energies, or Gaussian when the dataset has no background clips),
  ``speed`` (max relative tempo change, resampling frames), ``mask`` (max width of one time and
  one frequency mask, fraction of each axis).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinynas.errors import DatasetError
from tinynas.features import FeatureConfig, mix_in_mel_domain

if TYPE_CHECKING:
    from tinynas.datasets import Dataset

#: Augmentations per modality and their default strength.
DEFAULTS: dict[str, dict[str, float]] = {
    "image": {"shift": 0.1, "rotate": 10.0, "noise": 0.1, "flip": 0.5},
    "timeseries": {"noise": 0.05, "shift": 0.1, "scale": 0.1},
    "audio": {"shift": 0.1, "noise": 0.1, "speed": 0.1, "mask": 0.1},
}
#: Share of audio clips that get background noise (the rest stay clean).
NOISE_SHARE = 0.8


def augmentations(modality: str) -> list[str]:
    """The augmentation names that apply to ``modality``."""
    return list(DEFAULTS.get(modality, {}))


def parse_options(options: Sequence[str] | Mapping[str, float],
                  modality: str) -> dict[str, float]:
    """Validate augmentation names (``"none"`` is ignored) and fill in default strengths.

    Args:
        options: Names, or names mapped to strengths.
        modality: ``"image"``, ``"timeseries"`` or ``"audio"``.

    Returns:
        Name -> strength, in the order given.

    Raises:
        DatasetError: A name that does not apply to ``modality``, or a negative strength.
    """
    if modality not in DEFAULTS:
        raise DatasetError(f"augmentation: unknown modality {modality!r}; allowed: "
                           f"{', '.join(DEFAULTS)}")
    items = options.items() if isinstance(options, Mapping) else ((n, None) for n in options)
    parsed: dict[str, float] = {}
    for name, strength in items:
        if name == "none":
            continue
        if name not in DEFAULTS[modality]:
            raise DatasetError(f"augmentation {name!r} does not apply to {modality} data; "
                               f"allowed: {', '.join(DEFAULTS[modality])}, none")
        value = DEFAULTS[modality][name] if strength is None else float(strength)
        if not value >= 0:
            raise DatasetError(f"augmentation {name!r}: strength must be >= 0, got {strength}")
        if name == "flip" and value > 1:
            raise DatasetError(f"augmentation 'flip': strength is a chance, from 0 to 1, got "
                               f"{strength}")
        parsed[name] = value
    return parsed


def augment(x: np.ndarray, y: np.ndarray, modality: str,
            options: Sequence[str] | Mapping[str, float], rng: np.random.Generator, *,
            background: np.ndarray | None = None,
            preprocessing: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return an augmented copy of a batch (labels unchanged).

    Args:
        x: Normalized samples, samples first.
        y: Labels (returned as given).
        modality: ``"image"``, ``"timeseries"`` or ``"audio"``.
        options: Augmentation names, or names mapped to strengths (see the module docs).
        rng: Source of randomness (one draw per sample and augmentation).
        background: Audio: normalized background-noise feature clips
            (:attr:`Dataset.background`).
        preprocessing: Audio: :attr:`Dataset.preprocessing`, needed to mix noise on mel
            energies.

    Raises:
        DatasetError: An augmentation that does not apply to ``modality``.
    """
    out = np.array(x, dtype=np.float32, copy=True)
    params = parse_options(options, modality)
    if modality == "image" and ("shift" in params or "rotate" in params):
        out = _affine(out, params.get("shift", 0.0), params.get("rotate", 0.0), rng)
    for name, strength in params.items():
        if strength == 0 or (modality == "image" and name in ("shift", "rotate")):
            continue
        if name == "noise" and modality == "audio" and background is not None and \
                preprocessing is not None and len(background):
            out = _mix_background(out, background, strength, preprocessing, rng)
        elif name == "noise":
            out += rng.normal(0.0, strength, size=out.shape).astype(np.float32)
        elif name == "flip":
            out = _flip(out, strength, rng)
        elif name == "shift":
            out = _time_shift(out, strength, rng)
        elif name == "scale":
            factor = rng.uniform(1 - strength, 1 + strength, size=(len(out), 1, out.shape[-1]))
            out *= factor.astype(np.float32)
        elif name == "speed":
            out = _speed(out, strength, rng)
        elif name == "mask":
            out = _mask(out, strength, rng)
    return out, y


def augment_dataset(data: Dataset, options: Sequence[str] | Mapping[str, float],
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Augmented copy of ``data``'s training split, using its background clips if any."""
    return augment(data.x_train, data.y_train, data.modality, options, rng,
                   background=data.background, preprocessing=data.preprocessing)


def _time_shift(x: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Shift along axis 1 by up to ``strength`` of its length, repeating the edge values."""
    steps = x.shape[1]
    most = int(round(strength * steps))
    shifts = rng.integers(-most, most + 1, size=len(x))
    idx = np.clip(np.arange(steps)[None, :] - shifts[:, None], 0, steps - 1)
    return _gather_time(x, idx.astype(np.float64))


def _flip(x: np.ndarray, chance: float, rng: np.random.Generator) -> np.ndarray:
    """Mirror each image left to right (axis 2) with probability ``chance``."""
    hit = rng.random(len(x)) < chance
    x[hit] = x[hit, :, ::-1]
    return x


def _speed(x: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Play frames faster or slower (linear interpolation), holding the last frame."""
    steps = x.shape[1]
    rate = rng.uniform(1 - strength, 1 + strength, size=len(x))
    pos = np.clip(np.arange(steps)[None, :] * rate[:, None], 0, steps - 1)
    return _gather_time(x, pos)


def _gather_time(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Sample axis 1 of each sample at fractional positions ``pos`` (samples, steps)."""
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, x.shape[1] - 1)
    w = (pos - lo).astype(np.float32).reshape(pos.shape + (1,) * (x.ndim - 2))
    shape = pos.shape + (1,) * (x.ndim - 2)
    a = np.take_along_axis(x, lo.reshape(shape), axis=1)
    b = np.take_along_axis(x, hi.reshape(shape), axis=1)
    return np.asarray(a * (1 - w) + b * w, dtype=np.float32)


def _mask(x: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """One time and one frequency band per sample set to the training mean (0)."""
    n, steps, bands = x.shape[:3]
    for axis, size in ((1, steps), (2, bands)):
        width = rng.integers(0, int(strength * size) + 1, size=n)
        start = rng.integers(0, size - width + 1)
        index = np.arange(size)[None, :]
        hit = (index >= start[:, None]) & (index < (start + width)[:, None])
        shape = [n, 1, 1] + [1] * (x.ndim - 3)
        shape[axis] = size
        x = np.where(hit.reshape(shape), np.float32(0.0), x)
    return x


def _affine(x: np.ndarray, shift: float, degrees: float, rng: np.random.Generator) -> np.ndarray:
    """Rotate about the centre and translate each image (bilinear, edges repeated)."""
    n, h, w = x.shape[:3]
    angle = np.deg2rad(rng.uniform(-degrees, degrees, size=n))
    ty = rng.uniform(-shift, shift, size=n) * h
    tx = rng.uniform(-shift, shift, size=n) * w
    yy, xx = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij")
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    # Inverse mapping: where in the source each output pixel comes from.
    oy, ox = yy[None] - ty[:, None, None], xx[None] - tx[:, None, None]
    sy = cos * oy + sin * ox + (h - 1) / 2
    sx = -sin * oy + cos * ox + (w - 1) / 2
    sy, sx = np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1)
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (sy - y0)[..., None], (sx - x0)[..., None]
    b = np.arange(n)[:, None, None]
    top = x[b, y0, x0] * (1 - wx) + x[b, y0, x1] * wx
    bottom = x[b, y1, x0] * (1 - wx) + x[b, y1, x1] * wx
    return np.asarray(top * (1 - wy) + bottom * wy, dtype=np.float32)


def _mix_background(x: np.ndarray, background: np.ndarray, strength: float,
                    preprocessing: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Mix a random background clip into a random share of the clips, in the mel domain."""
    norm = preprocessing["normalization"]
    cfg = FeatureConfig.from_dict(preprocessing["features"])
    shape = [1] * x.ndim
    shape[norm["axis"] + 1] = -1
    mean = np.asarray(norm["mean"], dtype=np.float32).reshape(shape)
    std = np.asarray(norm["std"], dtype=np.float32).reshape(shape)
    gain = rng.uniform(0.0, strength, size=len(x)) * (rng.random(len(x)) < NOISE_SHARE)
    noise = background[rng.integers(len(background), size=len(x))]
    mixed = mix_in_mel_domain(x * std + mean, noise * std + mean, gain, cfg)
    return ((mixed - mean) / std).astype(np.float32)
