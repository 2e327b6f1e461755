"""Memory benchmark: how much a process grows per trained candidate.

A single-process search trains one candidate after another in the same interpreter. This trains
the same small DS-CNN on digits ``--candidates`` times through ``train_candidate`` (the search's
own path) and records the resident set size after each one; the growth per candidate is the
least-squares slope over the candidates after the first ``--warmup``, which pay for one-time
imports and graph caches.

Usage::

    .venv/bin/python bench/memory_bench.py [--candidates 15] [--warmup 3] \
        [--compression qat] [--label after] [--out bench/results/memory_bench.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tinynas.datasets import load_dataset  # noqa: E402
from tinynas.spaces import Compression, TrainingConfig, load_space  # noqa: E402
from tinynas.train import train_candidate  # noqa: E402

ARCH = {"first_filters": 8, "first_kernel": 3, "first_stride": 2, "filters": [16, 16],
        "kernels": [3, 3], "strides": [2, 1], "pooling": "avg", "dense_units": 0,
        "dropout": 0.0}
TRAINING = TrainingConfig(epochs=3, batch_size=32, learning_rate=3e-3, patience=3)
COMPRESSIONS = {
    "ptq": Compression("ptq"),
    "qat": Compression("qat"),
    "pruned-qat": Compression("qat", "unstructured", 0.5),
}


def rss_mb() -> float:
    """This process's resident set size in MB (from ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def slope(values: list[float]) -> float:
    """Least-squares slope of ``values`` against their index."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den if den else 0.0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and append its result to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compression", choices=sorted(COMPRESSIONS), default="qat")
    parser.add_argument("--label", default="current", help="name of this run in the results")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/memory_bench.json")
    args = parser.parse_args(argv)
    if args.candidates <= args.warmup + 1:
        parser.error(f"--candidates must be above --warmup + 1 ({args.warmup + 1})")

    space = load_space("ds_cnn")
    arch = space.arch_from_dict(ARCH)
    data = load_dataset("digits")
    compression = COMPRESSIONS[args.compression]
    start_mb = rss_mb()
    after: list[float] = []
    started = time.perf_counter()
    for i in range(args.candidates):
        train_candidate(space, arch, compression, data, TRAINING, seed=i)
        gc.collect()
        after.append(round(rss_mb(), 1))
        print(f"candidate {i + 1}: RSS {after[-1]:.1f} MB", flush=True)
    per_candidate = slope(after[args.warmup:])
    result: dict[str, Any] = {
        "label": args.label,
        "command": "bench/memory_bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "compression": args.compression,
        "candidates": args.candidates,
        "warmup": args.warmup,
        "rss_before_mb": round(start_mb, 1),
        "rss_after_each_mb": after,
        "growth_per_candidate_mb": round(per_candidate, 2),
        "wall_s": round(time.perf_counter() - started, 1),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    runs = json.loads(args.out.read_text())["runs"] if args.out.exists() else []
    runs.append(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
    print(f"{args.label}: {per_candidate:.2f} MB per candidate after {args.warmup} warm-up "
          f"candidates ({args.compression}, {args.candidates} candidates)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
