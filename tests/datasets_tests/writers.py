"""Writers of small user datasets in every supported format."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def write_wav(path: Path, audio: np.ndarray, rate: int = 16000, channels: int = 1) -> None:
    """Write float audio in [-1, 1] as 16-bit PCM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    if channels > 1:
        data = np.repeat(data[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def tone(freq: float, seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    """A sine tone at half scale."""
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * t)


def write_csv(path: Path, values: np.ndarray, rate_hz: float | None = 50.0) -> None:
    """Write a sensor log with a millisecond timestamp column (or none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = [f"ch{i}" for i in range(values.shape[1])]
    lines = []
    if rate_hz:
        lines.append(",".join(["timestamp"] + channels))
        lines += [f"{1000 * i / rate_hz:.1f}," + ",".join(f"{v:.6g}" for v in row)
                  for i, row in enumerate(values)]
    else:
        lines += [",".join(f"{v:.6g}" for v in row) for row in values]
    path.write_text("\n".join(lines) + "\n")
