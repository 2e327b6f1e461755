"""Early-stopping benchmark: one basic_motions candidate over several training seeds, with and
without the warm-up before early stopping watches (``tinynas.train.EARLY_STOP_WARMUP_STEPS``).

basic_motions has 2 optimizer updates an epoch, and its validation accuracy sits at chance for
the first epochs. This trains the first candidate of a 24-trial random search on the nano (seed
0) through ``train_candidate`` with each training seed, once with no warm-up and once with the
current one, and records the int8 test accuracy and the epochs each training ran.

Usage::

    .venv/bin/python bench/early_stopping_bench.py [--seeds 0,1,2,3,4,5] \
        [--out bench/results/early_stopping_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: The candidate: trial 0 of `search --sampler random --seed 0` on basic_motions (cnn1d, nano).
ARCH = {"first_filters": 24, "first_kernel": 3, "first_stride": 2, "filters": [64, 40],
        "kernels": [3, 3], "strides": [1, 1], "pooling": "avg", "dense_units": 32,
        "dropout": 0.1, "separable": True}
COMPRESSION = {"quantization": "ptq", "pruning": "unstructured", "sparsity": 0.55,
               "clusters": 0, "distillation": False}


def measure(seeds: list[int]) -> dict[str, Any]:
    """Train the candidate with every seed, without and with the warm-up."""
    from tinynas import train
    from tinynas.datasets import load_dataset
    from tinynas.spaces import Compression, load_space

    space = load_space("cnn1d")
    arch = space.arch_type.from_dict(ARCH)
    compression = Compression.from_dict(COMPRESSION)
    data = load_dataset("basic_motions", seed=0)
    training = replace(space.config.training, epochs=30)
    current = train.EARLY_STOP_WARMUP_STEPS
    rows = []
    for warmup in (0, current):
        train.EARLY_STOP_WARMUP_STEPS = warmup
        for seed in seeds:
            started = time.perf_counter()
            result = train.train_candidate(space, arch, compression, data, training, seed=seed)
            rows.append({"warmup_steps": warmup, "seed": seed,
                         "accuracy_int8": round(float(result.accuracy_int8), 4),
                         "accuracy_int8_val": round(float(result.accuracy_int8_val), 4),
                         "float_epochs": result.history["step"].count("float"),
                         "seconds": round(time.perf_counter() - started, 1)})
            print(json.dumps(rows[-1]), flush=True)
    train.EARLY_STOP_WARMUP_STEPS = current
    return {"dataset": "basic_motions", "space": "cnn1d", "arch": ARCH,
            "compression": COMPRESSION, "epochs": training.epochs,
            "patience": training.patience, "batch_size": training.batch_size, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2,3,4,5")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / "early_stopping_bench.json")
    args = parser.parse_args()
    result = measure([int(s) for s in args.seeds.split(",")])
    result["command"] = " ".join([".venv/bin/python", "bench/early_stopping_bench.py",
                                  *sys.argv[1:]])
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
