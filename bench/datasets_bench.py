"""Datasets benchmark: load time of every built-in in a fresh process, ``kws_synth`` generation
and feature-extraction time, augmentation throughput, and a linear baseline (logistic
regression on the flattened, normalized samples, scored on the held-out test split) showing each
set is learnable but not trivial.

Usage::

    .venv/bin/python bench/datasets_bench.py [--out bench/results/datasets_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinynas.augment import augment_dataset, augmentations  # noqa: E402
from tinynas.datasets import Dataset, load_dataset  # noqa: E402
from tinynas.datasets._kws_synth import generate  # noqa: E402

#: Datasets as loaded for the baseline (Fashion-MNIST subsampled to keep the fit short).
BASELINE = ("digits", "fashion_mnist:3000", "basic_motions", "kws_synth")

_LOAD = """
import sys, time
t = time.perf_counter()
from tinynas.datasets import load_dataset
d = load_dataset(sys.argv[1])
print(time.perf_counter() - t)
"""


def cold_load_seconds(name: str, env: dict[str, str]) -> float:
    """Seconds to import the package and load ``name`` in a new interpreter."""
    out = subprocess.run([sys.executable, "-c", _LOAD, name], capture_output=True, text=True,
                         check=True, env=env, cwd=ROOT).stdout
    return float(out.strip().splitlines()[-1])


def baseline(data: Dataset) -> dict[str, float]:
    """Logistic regression on flattened samples: validation and test accuracy, fit time."""
    from sklearn.linear_model import LogisticRegression

    def flat(x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1)

    started = time.perf_counter()
    model = LogisticRegression(max_iter=1000).fit(flat(data.x_train), data.y_train)
    return {"fit_seconds": round(time.perf_counter() - started, 2),
            "val_accuracy": round(float(model.score(flat(data.x_val), data.y_val)), 4),
            "test_accuracy": round(float(model.score(flat(data.x_test), data.y_test)), 4)}


def main() -> None:
    """Run every measurement and print them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    results: dict[str, Any] = {"cpus": os.cpu_count(),
                               "load_average_at_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "TINYNAS_DATA": home}
        os.environ["TINYNAS_DATA"] = home
        started = time.perf_counter()
        manifest = generate(Path(home) / "kws_synth")
        results["kws_synth_generation"] = {"clips": manifest["clips"],
                                           "seconds": round(time.perf_counter() - started, 2)}
        results["cold_load_seconds"] = {
            "kws_synth (features computed)": round(cold_load_seconds("kws_synth", env), 2),
            "kws_synth (features cached)": round(cold_load_seconds("kws_synth", env), 2),
        }
        for name in ("digits", "fashion_mnist", "fashion_mnist:3000", "basic_motions"):
            results["cold_load_seconds"][name] = round(cold_load_seconds(name, env), 2)
        results["baseline"] = {}
        results["augment_ms_per_1000_samples"] = {}
        rng = np.random.default_rng(0)
        for name in BASELINE:
            data = load_dataset(name)
            results["baseline"][name] = {"classes": data.num_classes, **data.split_sizes(),
                                         **baseline(data)}
            names = augmentations(data.modality)
            started = time.perf_counter()
            augment_dataset(data, names, rng)
            ms = (time.perf_counter() - started) * 1000 * 1000 / len(data.y_train)
            results["augment_ms_per_1000_samples"][f"{name} ({', '.join(names)})"] = round(ms, 1)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
