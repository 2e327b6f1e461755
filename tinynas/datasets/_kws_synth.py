"""``kws_synth``: a keyword-spotting set synthesized on this machine with espeak-ng and sox, in
the Speech Commands layout (ten keywords, ``_silence_``, ``_unknown_``, ``_background_noise_``,
``validation_list.txt`` and ``testing_list.txt``).

A speaker is one espeak-ng voice with one variant (e.g. ``en-gb-scotland+f3``). Speakers are
split before any clip is made, so the validation and test splits only hold voices that
training never heard; speed, pitch, onset and level vary per clip.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tinynas.datasets._base import TEST_FRACTION, VAL_FRACTION, Dataset, data_home
from tinynas.datasets._wav import BACKGROUND_DIR, LIST_FILES, load_wav_folder
from tinynas.errors import DatasetError, MissingDependencyError

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
#: Words of the ``unknown`` class (the Speech Commands fillers).
FILLERS = ("bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin",
           "nine", "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero")
BASE_VOICES = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
               "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
_FALLBACK_VARIANTS = tuple(f"m{i}" for i in range(1, 9)) + tuple(f"f{i}" for i in range(1, 6))
NOISES = ("white", "pink", "brown")
MANIFEST = "kws_synth.json"
DEFAULT_PER_WORD = 100
INSTALL = "sudo apt-get install espeak-ng sox"
SOURCE = "synthesized with espeak-ng and sox (tinynas data synth-kws)"

log = logging.getLogger(__name__)


def tools_missing() -> str | None:
    """Which synthesis tools are absent, with the install command; ``None`` when all exist."""
    absent = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if absent:
        return f"{' and '.join(absent)} not installed; install with '{INSTALL}'"
    return None


def default_dir() -> Path:
    """Where ``load_dataset("kws_synth")`` keeps the generated set."""
    return data_home() / "kws_synth"


def kws_synth_missing() -> str | None:
    """Why kws_synth can be neither loaded nor generated here; ``None`` when it can."""
    if (default_dir() / MANIFEST).is_file():
        return None
    return tools_missing()


def _variants() -> list[str]:
    try:
        out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return list(_FALLBACK_VARIANTS)
    found = sorted({line.split()[-1][3:] for line in out.splitlines()[1:]
                    if line.split() and line.split()[-1].startswith("!v/")})
    return found or list(_FALLBACK_VARIANTS)


def _speaker_id(voice: str) -> str:
    return hashlib.sha1(voice.encode()).hexdigest()[:8]


def _split_speakers(rng: np.random.Generator) -> dict[str, list[str]]:
    voices = [f"{base}+{v}" for base in BASE_VOICES for v in _variants()]
    order = rng.permutation(len(voices))
    n_test = round(len(voices) * TEST_FRACTION)
    n_val = round(len(voices) * VAL_FRACTION)
    picked = [voices[i] for i in order]
    return {"test": picked[:n_test], "val": picked[n_test:n_test + n_val],
            "train": picked[n_test + n_val:]}


def _clip_splits(n: int) -> list[str]:
    n_test = max(1, round(n * TEST_FRACTION))
    n_val = max(1, round(n * VAL_FRACTION))
    return ["test"] * n_test + ["val"] * n_val + ["train"] * (n - n_test - n_val)


def _speech_job(word: str, voice: str, out: Path, rng: np.random.Generator) -> list[list[str]]:
    speed, pitch = int(rng.integers(120, 201)), int(rng.integers(30, 81))
    onset, level = float(rng.uniform(0.0, 0.35)), float(rng.uniform(-12.0, -1.0))
    return [["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
            ["sox", "-V1", "-t", "wav", "-", "-r", "16000", "-c", "1", "-b", "16", str(out),
             "silence", "1", "0.005", "0.5%", "gain", "-n", f"{level:.1f}",
             "pad", f"{onset:.3f}", "1", "trim", "0", "1"]]


def _noise_job(color: str, seconds: float, volume: float, out: Path) -> list[list[str]]:
    return [["sox", "-V1", "-n", "-r", "16000", "-c", "1", "-b", "16", str(out),
             "synth", f"{seconds:g}", f"{color}noise", "vol", f"{volume:.4f}"]]


def _run(chain: list[list[str]]) -> None:
    """Run a pipeline of commands, raising with the failing command's message."""
    procs: list[subprocess.Popen[bytes]] = []
    stdin: Any = subprocess.DEVNULL
    for i, cmd in enumerate(chain):
        last = i == len(chain) - 1
        proc = subprocess.Popen(cmd, stdin=stdin, stderr=subprocess.PIPE,
                                stdout=subprocess.DEVNULL if last else subprocess.PIPE)
        if procs and procs[-1].stdout is not None:
            procs[-1].stdout.close()
        procs.append(proc)
        stdin = proc.stdout
    for cmd, proc in zip(chain, procs, strict=True):
        _, err = proc.communicate()
        if proc.returncode:
            reason = err.decode(errors="replace").strip().splitlines()
            raise DatasetError(f"{' '.join(cmd[:3])} failed (exit {proc.returncode}): "
                               f"{reason[-1] if reason else 'no message'}")


def _version(tool: str) -> str:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) \
        else "unknown"


def generate(out: Path, per_word: int = DEFAULT_PER_WORD, seed: int = 0,
             jobs: int | None = None) -> dict[str, Any]:
    """Synthesize the keyword set into ``out`` (created; must not exist or be empty).

    Each keyword, ``unknown`` (filler words) and ``silence`` (noise of random colour and
    level) get ``per_word`` one-second 16 kHz mono clips. The folder appears complete or not
    at all: clips are written to a temporary sibling that is renamed at the end.

    Args:
        out: Destination folder.
        per_word: Clips per class.
        seed: Fixes voices, split and every random choice.
        jobs: Parallel synthesis processes (default: CPU count).

    Returns:
        The manifest also written to ``out/kws_synth.json``.

    Raises:
        MissingDependencyError: espeak-ng or sox is not installed.
        DatasetError: ``out`` is not empty, ``per_word`` is too small, or synthesis failed.
    """
    missing = tools_missing()
    if missing:
        raise MissingDependencyError(missing)
    if per_word < 3:
        raise DatasetError(f"--per-word must be at least 3 (one clip per split), got {per_word}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"{out}: already exists and is not an empty folder; choose a new "
                           "--out or remove it")
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    speakers = _split_speakers(rng)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        chains, lists = _plan(tmp, per_word, speakers, rng)
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
            list(pool.map(_run, chains))
        for split, names in lists.items():
            (tmp / LIST_FILES[split]).write_text("".join(f"{n}\n" for n in sorted(names)))
        manifest = {
            "keywords": list(KEYWORDS), "fillers": list(FILLERS), "per_word": per_word,
            "seed": seed, "clips": len(chains) - len(NOISES),
            "speakers": {split: sorted(v) for split, v in speakers.items()},
            "tools": {"espeak-ng": _version("espeak-ng"), "sox": _version("sox")},
            "seconds": round(time.monotonic() - started, 2),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if out.exists():
            out.rmdir()
        # mkdtemp makes an owner-only folder; the dataset is ordinary output.
        tmp.chmod(0o755)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _plan(root: Path, per_word: int, speakers: dict[str, list[str]],
          rng: np.random.Generator) -> tuple[list[list[list[str]]], dict[str, list[str]]]:
    """Every command chain to run, and the relative paths of the validation and test clips."""
    chains: list[list[list[str]]] = []
    lists: dict[str, list[str]] = {"val": [], "test": []}
    counts: dict[tuple[str, str], int] = {}
    classes = [(w, w, (w,)) for w in KEYWORDS] + [("_unknown_", "unknown", FILLERS)]
    for folder, _, words in classes:
        (root / folder).mkdir()
        for split in _clip_splits(per_word):
            voice = speakers[split][int(rng.integers(len(speakers[split])))]
            word = words[int(rng.integers(len(words)))]
            sid = _speaker_id(voice)
            k = counts[(folder, sid)] = counts.get((folder, sid), -1) + 1
            rel = f"{folder}/{sid}_nohash_{k}.wav"
            chains.append(_speech_job(word, voice, root / rel, rng))
            if split in lists:
                lists[split].append(rel)
    (root / "_silence_").mkdir()
    for i, split in enumerate(_clip_splits(per_word)):
        color = NOISES[int(rng.integers(len(NOISES)))]
        rel = f"_silence_/{color}{i:04d}_nohash_0.wav"
        chains.append(_noise_job(color, 1.0, float(rng.uniform(0.0, 0.05)), root / rel))
        if split in lists:
            lists[split].append(rel)
    (root / BACKGROUND_DIR).mkdir()
    for color in NOISES:
        chains.append(_noise_job(color, 10.0, 0.3, root / BACKGROUND_DIR / f"{color}_noise.wav"))
    return chains, lists


def load_kws_synth(seed: int = 0, limit: int | None = None) -> Dataset:
    """Load ``kws_synth`` from :func:`default_dir`, generating it there on first use.

    The split is fixed by the speakers chosen at generation; ``seed`` only affects
    subsampling and the background clips.

    Raises:
        MissingDependencyError: The set is not generated yet and espeak-ng or sox is absent.
    """
    root = default_dir()
    if not (root / MANIFEST).is_file():
        missing = tools_missing()
        if missing:
            raise MissingDependencyError(f"kws_synth: {missing}")
        with _generation_lock(root):
            # Another process (a parallel search job) may have generated it while we waited.
            if not (root / MANIFEST).is_file():
                log.warning("generating kws_synth into %s (once)", root)
                if root.is_dir() and not any(root.iterdir()):
                    root.rmdir()
                generate(root, per_word=DEFAULT_PER_WORD)
    return load_synth_folder(root, seed, limit)


@contextmanager
def _generation_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on a sibling of ``root`` so one process generates at a time."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_synth_folder(root: Path, seed: int = 0, limit: int | None = None) -> Dataset:
    """Load a folder written by :func:`generate` under the name ``kws_synth``."""
    return load_wav_folder(root, seed, limit, name="kws_synth", source=f"{SOURCE}, {root}")
