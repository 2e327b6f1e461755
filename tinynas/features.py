"""Audio front end a microcontroller can run: framing, Hann window, real FFT, power spectrum,
mel filterbank, log and (for MFCC) a DCT-II. Everything is a fixed table or a fixed-size loop,
and :meth:`FeatureConfig.to_dict` holds every parameter the firmware needs to compute the same
features (the filterbank and DCT tables follow from them via :func:`mel_filterbank` and
:func:`dct_matrix`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from tinynas.errors import DatasetError

KINDS = ("mfcc", "log_mel")


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of the audio front end (defaults: 49x10 MFCC of a 1 s, 16 kHz clip).

    Attributes:
        kind: ``"mfcc"`` or ``"log_mel"``.
        sample_rate: Hz; WAV files must have this rate.
        clip_samples: Samples per clip; shorter clips are zero-padded, longer ones cut.
        frame_length: Samples per analysis frame (30 ms).
        frame_step: Samples between frame starts (20 ms).
        fft_size: FFT length (a power of two, at least ``frame_length``).
        num_mel: Mel filterbank channels.
        num_coefficients: MFCC coefficients kept (``log_mel`` keeps all ``num_mel``).
        lower_hz: Lowest filterbank edge.
        upper_hz: Highest filterbank edge.
        log_floor: Added to mel energies before the log, so silence stays finite.
    """

    kind: str = "mfcc"
    sample_rate: int = 16000
    clip_samples: int = 16000
    frame_length: int = 480
    frame_step: int = 320
    fft_size: int = 512
    num_mel: int = 40
    num_coefficients: int = 10
    lower_hz: float = 20.0
    upper_hz: float = 4000.0
    log_floor: float = 1e-6

    def __post_init__(self) -> None:
        def bad(rule: str) -> DatasetError:
            return DatasetError(f"audio features: {rule}")

        if self.kind not in KINDS:
            raise bad(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.fft_size & (self.fft_size - 1) or self.fft_size < self.frame_length:
            raise bad(f"fft_size must be a power of two >= frame_length ({self.frame_length}), "
                      f"got {self.fft_size}")
        if not 0 < self.frame_step <= self.frame_length <= self.clip_samples:
            raise bad("need 0 < frame_step <= frame_length <= clip_samples, got "
                      f"{self.frame_step}, {self.frame_length}, {self.clip_samples}")
        if not 0 <= self.lower_hz < self.upper_hz <= self.sample_rate / 2:
            raise bad(f"need 0 <= lower_hz < upper_hz <= sample_rate/2, got {self.lower_hz}, "
                      f"{self.upper_hz}")
        if self.kind == "mfcc" and not 1 <= self.num_coefficients <= self.num_mel:
            raise bad(f"num_coefficients must be in [1, num_mel={self.num_mel}], got "
                      f"{self.num_coefficients}")
        if self.log_floor <= 0:
            raise bad(f"log_floor must be > 0, got {self.log_floor}")

    @property
    def num_frames(self) -> int:
        """Frames per clip."""
        return 1 + (self.clip_samples - self.frame_length) // self.frame_step

    @property
    def shape(self) -> tuple[int, int, int]:
        """Feature shape of one clip: ``(frames, coefficients, 1)``."""
        coeffs = self.num_coefficients if self.kind == "mfcc" else self.num_mel
        return self.num_frames, coeffs, 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters, plus the window and mel scale used."""
        return {**asdict(self), "window": "hann (periodic)", "mel_scale": "htk",
                "input_scale": "int16 / 32768", "dct": "type-II, orthonormal",
                "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Rebuild from :meth:`to_dict` output (descriptive keys are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def hann_window(length: int) -> np.ndarray:
    """Periodic Hann window (what an FFT front end expects)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)).astype(np.float32)


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """Triangular filters on the HTK mel scale, shape ``(num_mel, fft_size // 2 + 1)``."""
    bins = np.arange(cfg.fft_size // 2 + 1) * cfg.sample_rate / cfg.fft_size
    edges = np.linspace(_hz_to_mel(cfg.lower_hz), _hz_to_mel(cfg.upper_hz), cfg.num_mel + 2)
    mel = _hz_to_mel(bins)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (mel[None] - lo) / (mid - lo)
    falling = (hi - mel[None]) / (hi - mid)
    return np.asarray(np.maximum(0.0, np.minimum(rising, falling)), dtype=np.float32)


def dct_matrix(num_in: int, num_out: int) -> np.ndarray:
    """Orthonormal DCT-II rows, shape ``(num_out, num_in)``; its rows are orthonormal."""
    n = np.arange(num_in)
    k = np.arange(num_out)[:, None]
    m = np.cos(np.pi / num_in * (n + 0.5) * k) * np.sqrt(2.0 / num_in)
    m[0] /= np.sqrt(2.0)
    return np.asarray(m, dtype=np.float32)


def _coefficient_matrix(cfg: FeatureConfig) -> np.ndarray:
    if cfg.kind == "mfcc":
        return dct_matrix(cfg.num_mel, cfg.num_coefficients)
    return np.eye(cfg.num_mel, dtype=np.float32)


def fit_clip(audio: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Zero-pad or cut the last axis to ``cfg.clip_samples``."""
    n = audio.shape[-1]
    if n >= cfg.clip_samples:
        return audio[..., :cfg.clip_samples]
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, cfg.clip_samples - n)]
    return np.pad(audio, pad)


def mel_energies(audio: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Mel filterbank energies, shape ``(clips, frames, num_mel)``.

    Args:
        audio: ``(samples,)`` or ``(clips, samples)`` in ``[-1, 1]``.
        cfg: Front-end parameters.
    """
    audio = fit_clip(np.atleast_2d(np.asarray(audio, dtype=np.float32)), cfg)
    starts = np.arange(cfg.num_frames) * cfg.frame_step
    frames = audio[:, starts[:, None] + np.arange(cfg.frame_length)[None, :]]
    spectrum = np.fft.rfft(frames * hann_window(cfg.frame_length), n=cfg.fft_size)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
    return np.asarray(power @ mel_filterbank(cfg).T, dtype=np.float32)


def extract(audio: np.ndarray, cfg: FeatureConfig | None = None,
            chunk: int = 256) -> np.ndarray:
    """Features of one or more clips, shape ``(clips, frames, coefficients, 1)``.

    Args:
        audio: ``(samples,)`` or ``(clips, samples)`` in ``[-1, 1]``.
        cfg: Front-end parameters (defaults: 49x10 MFCC).
        chunk: Clips per batch, bounding memory for large folders.
    """
    cfg = cfg or FeatureConfig()
    audio = np.atleast_2d(audio)
    coeffs = _coefficient_matrix(cfg)
    out = np.empty((len(audio),) + cfg.shape, dtype=np.float32)
    for i in range(0, len(audio), chunk):
        logmel = np.log(mel_energies(audio[i:i + chunk], cfg) + cfg.log_floor)
        out[i:i + chunk, ..., 0] = logmel @ coeffs.T
    return out


def mix_in_mel_domain(features: np.ndarray, noise: np.ndarray, gain: np.ndarray,
                      cfg: FeatureConfig) -> np.ndarray:
    """Approximate the features of ``clip + amplitude * noise`` from the two clips' features.

    Powers add (cross terms average out), so the mix is computed on mel energies recovered
    through the transpose of the orthonormal DCT; ``gain == 0`` returns ``features`` exactly
    because the DCT rows are orthonormal.

    Args:
        features: ``(clips, frames, coefficients, 1)`` unnormalized features.
        noise: Same shape, features of background noise.
        gain: Per-clip noise amplitude, shape ``(clips,)``.
        cfg: The front end that produced both.
    """
    coeffs = _coefficient_matrix(cfg)
    to_mel = coeffs.T if cfg.kind == "mfcc" else coeffs
    speech = np.exp(features[..., 0] @ to_mel.T)
    background = np.exp(noise[..., 0] @ to_mel.T) - cfg.log_floor
    mixed = speech + (gain.astype(np.float32) ** 2)[:, None, None] * np.maximum(background, 0.0)
    return np.asarray((np.log(mixed) @ coeffs.T)[..., None], dtype=np.float32)
