"""Compression benchmark: what QAT, pruning, clustering and distillation give a DS-CNN.

Part 1, the target: a DS-CNN trained on digits and on Fashion-MNIST, then quantized both ways;
float, post-training-quantized (PTQ) and quantization-aware-trained (QAT) int8 test accuracy side
by side, over several seeds. Target: QAT loses at most 0.5 points against the float model.

Part 2, on digits: every compression choice of the ``ds_cnn`` space against the plain PTQ model:
int8 test accuracy, ``.tflite`` bytes, zlib-compressed bytes, weight sparsity, and the
estimator's arena, flash and MACs for an Arduino Nano 33 BLE, to show which choices save what on
a microcontroller (TFLite Micro has no sparse kernels).

Usage::

    .venv/bin/python bench/compression_bench.py [--seeds 3] [--fashion-seeds 2] \
        [--out bench/results/compression_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tinynas.boards import load_board  # noqa: E402
from tinynas.datasets import load_dataset  # noqa: E402
from tinynas.estimator import estimate_tflite  # noqa: E402
from tinynas.spaces import Compression, TrainingConfig, load_space  # noqa: E402
from tinynas.train import train_candidate  # noqa: E402

BOARD = "arduino_nano33_ble"
DIGITS_ARCH = {"first_filters": 16, "first_kernel": 3, "first_stride": 1, "filters": [32, 32, 64],
               "kernels": [3, 3, 3], "strides": [2, 1, 2], "pooling": "avg", "dense_units": 0,
               "dropout": 0.0}
FASHION_ARCH = {"first_filters": 16, "first_kernel": 3, "first_stride": 2,
                "filters": [32, 64, 64, 64], "kernels": [3, 3, 3, 3], "strides": [1, 2, 1, 2],
                "pooling": "avg", "dense_units": 0, "dropout": 0.0}
DIGITS_TRAINING = TrainingConfig(epochs=30, batch_size=32, learning_rate=3e-3, patience=6)
FASHION_TRAINING = TrainingConfig(epochs=12, batch_size=128, learning_rate=3e-3, patience=3)
#: Part 2: name -> compression settings (all on the digits DS-CNN).
CHOICES = {
    "PTQ": Compression("ptq"),
    "QAT": Compression("qat"),
    "unstructured 50% + PTQ": Compression("ptq", "unstructured", 0.5),
    "unstructured 75% + prune-preserving QAT": Compression("qat", "unstructured", 0.75),
    "2:4 + prune-preserving QAT": Compression("qat", "2:4", 0.5),
    "channel 50% + QAT": Compression("qat", "channel", 0.5),
    "16 clusters + cluster-preserving QAT": Compression("qat", "none", 0.0, 16),
    "unstructured 50% + 16 clusters + PCQAT": Compression("qat", "unstructured", 0.5, 16),
    "QAT + distillation (teacher: 2x wider DS-CNN)": Compression("qat", distillation=True),
}


def _stage_row(stage: dict[str, Any], board: Any) -> dict[str, Any]:
    row = {k: v for k, v in stage.items() if k != "tflite"}
    if "tflite" in stage:
        est = estimate_tflite(stage["tflite"], board)
        row.update(arena_bytes=est.arena_bytes, flash_bytes=est.flash_bytes, macs=est.macs,
                   latency_ms=est.latency_ms)
    return row


def _run(dataset: Any, arch: dict[str, Any], compression: Compression, training: TrainingConfig,
         seed: int, board: Any, teacher: Any = None) -> dict[str, Any]:
    space = load_space("ds_cnn")
    cpu, wall = time.process_time(), time.perf_counter()
    result = train_candidate(space, space.arch_from_dict(arch), compression, dataset, training,
                             seed=seed, teacher=teacher)
    return {
        "seed": seed,
        "compression": compression.to_dict(),
        "arch": space.describe(result.arch),
        "stages": [_stage_row(s, board) for s in result.stages],
        "epochs": result.epochs,
        "cpu_s": round(time.process_time() - cpu, 1),
        "wall_s": round(time.perf_counter() - wall, 1),
        "float_model": result.float_model,
    }


def qat_target(name: str, arch: dict[str, Any], training: TrainingConfig, seeds: int,
               board: Any) -> dict[str, Any]:
    """Part 1 on one dataset: float, PTQ and QAT accuracy over ``seeds`` seeds."""
    data = load_dataset(name, seed=0)
    runs = []
    for seed in range(seeds):
        run = _run(data, arch, Compression("qat"), training, seed, board)
        run.pop("float_model")
        acc = {s["name"]: s["accuracy"] for s in run["stages"]}
        run["qat_minus_float_points"] = round(100 * (acc["qat"] - acc["float"]), 2)
        run["qat_minus_ptq_points"] = round(100 * (acc["qat"] - acc["ptq"]), 2)
        print(f"{name} seed {seed}: float {acc['float']:.4f} ptq {acc['ptq']:.4f} "
              f"qat {acc['qat']:.4f} ({run['cpu_s']} s CPU)", flush=True)
        runs.append(run)
    losses = [r["qat_minus_float_points"] for r in runs]
    return {"dataset": name, "split_sizes": data.split_sizes(), "runs": runs,
            "mean_qat_minus_float_points": round(statistics.mean(losses), 2),
            "worst_qat_minus_float_points": min(losses),
            "mean_qat_minus_ptq_points": round(statistics.mean(
                r["qat_minus_ptq_points"] for r in runs), 2)}


def compression_choices(board: Any) -> list[dict[str, Any]]:
    """Part 2: every compression choice on digits, one seed."""
    data = load_dataset("digits", seed=0)
    wide = dict(DIGITS_ARCH, first_filters=32, filters=[64, 64, 128])
    teacher_run = _run(data, wide, Compression("ptq"), DIGITS_TRAINING, 0, board)
    teacher = teacher_run.pop("float_model")
    print(f"teacher: float {teacher_run['stages'][0]['accuracy']:.4f}", flush=True)
    rows = [{"choice": "teacher (float, not compressed)", **teacher_run}]
    for label, compression in CHOICES.items():
        run = _run(data, DIGITS_ARCH, compression, DIGITS_TRAINING, 0, board,
                   teacher if compression.distillation else None)
        run.pop("float_model")
        final = run["stages"][-1]
        print(f"{label}: int8 {final['accuracy']:.4f}, {final['tflite_bytes']} B, zlib "
              f"{final['compressed_bytes']} B, sparsity {final['sparsity']:.2f}, arena "
              f"{final['arena_bytes']} B, MACs {final['macs']} ({run['cpu_s']} s CPU)", flush=True)
        rows.append({"choice": label, **run})
    return rows


def main() -> None:
    """Run both parts and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds for digits (part 1)")
    parser.add_argument("--fashion-seeds", type=int, default=2,
                        help="seeds for Fashion-MNIST (part 1)")
    parser.add_argument("--skip-choices", action="store_true", help="part 1 only")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/compression_bench.json")
    args = parser.parse_args()
    board = load_board(BOARD)
    load = os.getloadavg()[0]
    results: dict[str, Any] = {"board": BOARD, "load_average_at_start": round(load, 1),
                               "cpus": os.cpu_count()}
    results["qat_target"] = [
        qat_target("digits", DIGITS_ARCH, DIGITS_TRAINING, args.seeds, board),
        qat_target("fashion_mnist", FASHION_ARCH, FASHION_TRAINING, args.fashion_seeds, board),
    ]
    if not args.skip_choices:
        results["choices"] = compression_choices(board)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
