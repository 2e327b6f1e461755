"""Folders of WAV clips, one sub-folder per class (the Speech Commands layout), turned into
audio features by :mod:`tinynas.features`.

``_background_noise_/`` holds long noise recordings for the ``noise`` augmentation, folder names
such as ``_silence_`` and ``_unknown_`` become the classes ``silence`` and ``unknown``, and
``validation_list.txt``/``testing_list.txt`` (relative paths, as Speech Commands ships them) fix
the split; otherwise files named ``SPEAKER_nohash_N.wav`` are split by speaker, and others
stratified. Features are cached under :func:`data_home`, keyed by the files and parameters.
"""

from __future__ import annotations

import hashlib
import json
import wave
from pathlib import Path

import numpy as np

from tinynas.datasets._base import (
    Dataset,
    Split,
    apply_limit,
    build_dataset,
    check_samples,
    data_home,
    group_split,
    require_all_classes,
    save_npz_atomic,
    stratified_split,
)
from tinynas.datasets._folder import folder_options
from tinynas.errors import DatasetError
from tinynas.features import FeatureConfig, extract, fit_clip

BACKGROUND_DIR = "_background_noise_"
LIST_FILES = {"val": "validation_list.txt", "test": "testing_list.txt"}
#: Background clips cut from each noise recording.
_CLIPS_PER_NOISE_FILE = 12
#: Clips read and turned into features at a time.
_CHUNK = 512


def read_wav(path: Path, sample_rate: int) -> np.ndarray:
    """A mono 16-bit PCM WAV file as float32 in ``[-1, 1]``.

    Raises:
        DatasetError: Not PCM WAV, not mono, not 16-bit, or not ``sample_rate``.
    """
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise DatasetError(f"{path}: not a PCM WAV file ({exc})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if rate != sample_rate:
        raise DatasetError(f"{path}: sample rate {rate} Hz, expected {sample_rate} Hz "
                           f"(resample with: sox IN -r {sample_rate} OUT)")
    if channels != 1:
        raise DatasetError(f"{path}: {channels} channels, expected mono "
                           "(convert with: sox IN -c 1 OUT)")
    if width != 2:
        raise DatasetError(f"{path}: {8 * width}-bit samples, expected 16-bit PCM "
                           "(convert with: sox IN -b 16 OUT)")
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def _scan(root: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    folders = sorted(d for d in root.iterdir()
                     if d.is_dir() and d.name != BACKGROUND_DIR and not d.name.startswith("."))
    if not folders:
        raise DatasetError(f"{root}: no class folders; expected one sub-folder of .wav files "
                           "per class")
    files: list[Path] = []
    labels: list[int] = []
    for c, folder in enumerate(folders):
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav")
        files += found
        labels += [c] * len(found)
    if not files:
        raise DatasetError(f"{root}: no .wav files in its class folders")
    names = [d.name.strip("_") or d.name for d in folders]
    return files, np.asarray(labels, dtype=np.int64), names


def _read_list(root: Path, name: str) -> set[str] | None:
    path = root / name
    if not path.is_file():
        return None
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def _speakers(files: list[Path]) -> np.ndarray | None:
    """The speaker of every clip, where every file is named ``SPEAKER_nohash_N.wav`` (the
    Speech Commands convention), else None."""
    if not all("_nohash_" in p.name for p in files):
        return None
    return np.array([p.name.split("_nohash_")[0] for p in files])


def _split(root: Path, files: list[Path], y: np.ndarray, names: list[str],
           seed: int, speakers: np.ndarray | None) -> Split:
    lists = {k: _read_list(root, v) for k, v in LIST_FILES.items()}
    if lists["val"] is not None or lists["test"] is not None:
        rel = np.array([p.relative_to(root).as_posix() for p in files])
        in_val = np.isin(rel, list(lists["val"] or ()))
        in_test = np.isin(rel, list(lists["test"] or ()))
        split = Split(np.flatnonzero(~in_val & ~in_test), np.flatnonzero(in_val & ~in_test),
                      np.flatnonzero(in_test), "lists")
        require_all_classes(y, split, str(root), "with validation_list.txt/testing_list.txt, ",
                            names)
        return split
    if speakers is not None:
        return group_split(y, speakers, seed, str(root))
    return stratified_split(y, seed, str(root), class_names=names)


def _features(files: list[Path], cfg: FeatureConfig) -> np.ndarray:
    stats = [(p.as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    key = hashlib.sha256(json.dumps([cfg.to_dict(), stats]).encode()).hexdigest()[:20]
    cache = data_home() / "features" / f"{key}.npz"
    if cache.is_file():
        with np.load(cache) as cached:
            return np.asarray(cached["x"])
    x = np.empty((len(files),) + cfg.shape, dtype=np.float32)
    # Chunks bound memory: the full Speech Commands set is gigabytes as raw audio.
    for i in range(0, len(files), _CHUNK):
        clips = [fit_clip(read_wav(p, cfg.sample_rate), cfg) for p in files[i:i + _CHUNK]]
        x[i:i + _CHUNK] = extract(np.stack(clips), cfg)
    save_npz_atomic(cache, x=x)
    return x


def _background(root: Path, cfg: FeatureConfig, seed: int) -> np.ndarray | None:
    folder = root / BACKGROUND_DIR
    if not folder.is_dir():
        return None
    rng = np.random.default_rng(seed)
    clips = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav"):
        audio = read_wav(path, cfg.sample_rate)
        if len(audio) < cfg.clip_samples:
            continue
        starts = rng.integers(0, len(audio) - cfg.clip_samples + 1, size=_CLIPS_PER_NOISE_FILE)
        clips += [audio[s:s + cfg.clip_samples] for s in starts]
    return extract(np.stack(clips), cfg) if clips else None


def feature_config(root: Path) -> FeatureConfig:
    """The front end for ``root``: defaults, overridden by ``[features]`` in its dataset.toml."""
    sec = folder_options(root, "features")
    default = FeatureConfig()
    cfg = FeatureConfig(
        kind=sec.string("kind", default.kind, choices=("mfcc", "log_mel")),
        sample_rate=sec.integer("sample_rate", default.sample_rate, low=1000, high=192000),
        clip_samples=sec.integer("clip_samples", default.clip_samples, low=1),
        frame_length=sec.integer("frame_length", default.frame_length, low=1),
        frame_step=sec.integer("frame_step", default.frame_step, low=1),
        fft_size=sec.integer("fft_size", default.fft_size, low=1),
        num_mel=sec.integer("num_mel", default.num_mel, low=1, high=512),
        num_coefficients=sec.integer("num_coefficients", default.num_coefficients, low=1),
        lower_hz=sec.number("lower_hz", default.lower_hz, low=0.0),
        upper_hz=sec.number("upper_hz", default.upper_hz, low=1.0),
    )
    sec.check_unknown()
    return cfg


def load_wav_folder(root: Path, seed: int = 0, limit: int | None = None, *,
                    name: str | None = None, source: str | None = None) -> Dataset:
    """Load a folder of WAV clips per class as ``(frames, coefficients, 1)`` features.

    Args:
        root: One sub-folder per class; optional ``_background_noise_/``, split lists and
            ``dataset.toml`` with a ``[features]`` table (see :class:`FeatureConfig`).
        seed: Fixes the split when no lists are given, and subsampling.
        limit: About this many clips in all (see :func:`load_dataset`).
        name: Dataset name (defaults to the folder).
        source: Provenance text.

    Raises:
        DatasetError: A WAV file of the wrong format or rate, an empty class, a single class,
            or a split missing a class.
    """
    cfg = feature_config(root)
    files, y, names = _scan(root)
    # Class problems are cheap to find before the expensive feature extraction.
    check_samples(np.zeros((len(y), 1)), y, names, str(root))
    speakers = _speakers(files)
    split = _split(root, files, y, names, seed, speakers)
    keep, y, split = apply_limit(np.arange(len(y)), y, split, limit, seed)
    x = _features([files[i] for i in keep], cfg)
    return build_dataset(name=name or str(root), modality="audio", x=x, y=y, class_names=names,
                         source=source or f"WAV folder {root}", seed=seed, where=str(root),
                         split=split, norm_axis=1, preprocessing={"features": cfg.to_dict()},
                         background=_background(root, cfg, seed),
                         groups=None if speakers is None else speakers[keep])
