"""Device benchmark: instructions per MAC of exported models on the emulated Cortex-M4, and the
latency model's error before and after calibration.

Models: a DS-CNN keyword-spotting model at 49x10 input (the MLPerf Tiny KWS layout: a 64-filter
strided first convolution and four 64-channel depthwise-separable blocks, with a 3x3 first kernel
as the ``ds_cnn`` space has square kernels), plus architectures drawn at random from the shipped
``ds_cnn``, ``cnn`` and ``cnn1d`` spaces. Weights are untrained: the generated kernels do the same
work whatever the values (counts differ by under 0.02 % between inputs).
Each model is converted to full int8, exported, cross-compiled for the Cortex-M4, run under QEMU
(``-icount shift=0``) and compared byte for byte with the same runtime built for the host.

QEMU counts instructions, not cycles: a Cortex-M4 takes one to a few cycles per instruction, so
cycles per MAC on silicon are at least the instructions per MAC reported here.

Usage::

    .venv/bin/python bench/device_bench.py [--models 16] [--out bench/results/device_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinynas.boards import load_board  # noqa: E402
from tinynas.device.bench import run_bench  # noqa: E402
from tinynas.device.calibration import calibrate, load_measurements  # noqa: E402

#: (space, sample shape) pairs random architectures are drawn from.
SPACES = (("ds_cnn", (49, 10, 1)), ("cnn", (28, 28, 1)), ("cnn1d", (100, 6)))
#: MLPerf Tiny v0.5 reference: TFLite Micro on NUCLEO-L4R5ZI, 181.9 ms, 2.66 M MACs, 120 MHz.
REFERENCE_CYCLES_PER_MAC = 181.9e-3 * 120e6 / 2.66e6
KWS_CLASSES = 12


def kws_ds_cnn() -> tuple[str, Any, tuple[int, ...]]:
    """The DS-CNN keyword model of the benchmark."""
    from tinynas.spaces import load_space

    space = load_space("ds_cnn")
    arch = space.arch_from_dict({
        "first_filters": 64, "first_kernel": 3, "first_stride": 2, "filters": [64] * 4,
        "kernels": [3] * 4, "strides": [1] * 4, "pooling": "avg", "dense_units": 0,
        "dropout": 0.0})
    return "ds_cnn_kws_49x10", (space, arch), (49, 10, 1)


def random_models(count: int, seed: int) -> list[tuple[str, Any, tuple[int, ...]]]:
    """``count`` architectures drawn from :data:`SPACES` in turn."""
    import optuna

    from tinynas.spaces import load_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # One study per space: a study's parameters must keep their choices across trials.
    studies = {name: optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
               for name, _ in SPACES}
    models = []
    for index in range(count):
        name, shape = SPACES[index % len(SPACES)]
        space = load_space(name)
        trial = studies[name].ask()
        models.append((f"{name}_{index}", (space, space.suggest(trial)), shape))
    return models


def export_model(space: Any, arch: Any, shape: tuple[int, ...], classes: int, out: Path,
                 seed: int) -> Path:
    """Convert an untrained model to int8 and export it."""
    from tinynas.convert import to_int8_tflite
    from tinynas.export import ExportInfo, export_bundle
    from tinynas.keras_env import seed_everything

    seed_everything(seed)
    model_shape = space.model_input_shape(shape)
    model = space.build(arch, model_shape, classes)
    representative = np.random.default_rng(seed).normal(size=(64, *model_shape))
    tflite = to_int8_tflite(model, model_shape, representative.astype(np.float32))
    export_bundle(tflite, out, ExportInfo(arch=arch.to_dict() | {"space": space.name}))
    return out


def _shape_features(graph: Any) -> dict[str, float]:
    """The current model's columns plus two it lacks: kernel positions (output elements times
    kernel area) of convolutions, and output elements of MAC operators (requantization)."""
    from tinynas.latency import graph_features
    from tinynas.opcount import op_work

    features = dict(graph_features(graph))
    features["ops"] = sum(v for k, v in features.items() if k.startswith("ops:"))
    for op in graph.operators:
        work = op_work(graph, op)
        out = graph.tensor(op.outputs[0]).elements
        if work.macs:
            features["outputs"] = features.get("outputs", 0) + out
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            kernel = graph.tensor(op.inputs[1]).shape
            key = f"positions:{work.op_class}"
            features[key] = features.get(key, 0) + out * kernel[1] * kernel[2]
    return features


def what_if(measurements: list[Any]) -> dict[str, Any]:
    """Worst relative error of a latency model with kernel-position and output terms, fitted
    like the real one (relative least squares, non-negative constants): in sample and with each
    model held out. Evidence for a change to ``tinynas/latency.py``, not used by any command."""
    from scipy.optimize import nnls

    keys = ["work:conv", "work:depthwise", "work:fully_connected", "positions:conv",
            "positions:depthwise", "outputs", "ops"]
    rows = [_shape_features(m.graph) for m in measurements]
    x = np.array([[r.get(k, 0.0) for k in keys] + [1.0] for r in rows])
    y = np.array([m.measured for m in measurements])

    def fit(mask: np.ndarray) -> np.ndarray:
        constants, _ = nnls(x[mask] / y[mask, None], np.ones(int(mask.sum())))
        return constants

    everything = np.ones(len(y), dtype=bool)
    constants = fit(everything)
    in_sample = x @ constants / y - 1
    held_out = [x[i] @ fit(everything & (np.arange(len(y)) != i)) / y[i] - 1
                for i in range(len(y))]
    return {"constants": dict(zip(keys + ["constant"], constants.tolist(), strict=True)),
            "worst_in_sample": float(np.max(np.abs(in_sample))),
            "worst_held_out": float(np.max(np.abs(held_out)))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=16, help="models in all (default 16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--board", default="nucleo_l4r5zi")
    parser.add_argument("--keep", type=Path, help="keep the bundles and results in this folder")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" /
                        "device_bench.json")
    args = parser.parse_args()
    board = load_board(args.board)
    models = [kws_ds_cnn(), *random_models(args.models - 1, args.seed)]
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tinynas-device-bench-") as tmp:
        scratch = args.keep or Path(tmp)
        scratch.mkdir(parents=True, exist_ok=True)
        result_files = []
        for index, (name, (space, arch), shape) in enumerate(models):
            bundle = export_model(space, arch, shape, KWS_CLASSES if index == 0 else 10,
                                  Path(scratch) / name, args.seed + index)
            result = run_bench(bundle, emulate="cortex-m4", board=board, random=4,
                               seed=args.seed)
            record = result.to_dict() | {"name": name, "arch": arch.to_dict(),
                                         "space": space.name}
            path = Path(scratch) / f"{name}.json"
            path.write_text(json.dumps(record))
            result_files.append(path)
            results.append(record)
            print(f"{name:<20} {result.macs:>10,} MACs {result.cycles_per_inference:>13,.0f} "
                  f"instructions {result.cycles_per_mac:6.2f}/MAC  "
                  f"bit-exact {result.samples - result.mismatches}/{result.samples}",
                  file=sys.stderr)
        measurements = load_measurements(result_files)
        calibration = calibrate(measurements, "cortex-m4")
        alternative = what_if(measurements)
    report = {
        "command": "python bench/device_bench.py " + " ".join(sys.argv[1:]),
        "board": board.name, "seconds": round(time.monotonic() - started, 1),
        "reference_cycles_per_mac": REFERENCE_CYCLES_PER_MAC,
        "models": [_summary(r) for r in results],
        "calibration": calibration.to_dict(),
        "profile": calibration.profile.to_dict(),
        "what_if_positions_and_outputs": alternative,
        "machine": {"cpus": os.cpu_count()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    return 0


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "space", "macs", "cycles_per_inference", "cycles_min", "cycles_max",
            "cycles_per_mac", "latency_ms", "flash_bytes", "ram_bytes", "stack_used",
            "mismatches", "samples", "estimated_cycles")
    return {k: record[k] for k in keys}


def markdown(report: dict[str, Any]) -> str:
    """The tables for BENCHMARKS.md."""
    lines = ["| model | MACs | instructions / inference | instructions / MAC | flash B | RAM B "
             "| bit-exact |", "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for m in report["models"]:
        lines.append(f"| {m['name']} | {m['macs']:,} | {m['cycles_per_inference']:,.0f} | "
                     f"{m['cycles_per_mac']:.2f} | {m['flash_bytes']:,} | {m['ram_bytes']:,} | "
                     f"{m['samples'] - m['mismatches']}/{m['samples']} |")
    lines += ["", "| model | measured | default profile | error | calibrated | error | "
              "held out | error |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in report["calibration"]["rows"]:
        held = row["held_out"]
        lines.append(
            f"| {row['model']} | {row['measured']:,.0f} | {row['before']:,.0f} | "
            f"{row['error_before']:+.1%} | {row['after']:,.0f} | {row['error_after']:+.1%} | "
            + (f"{held:,.0f} | {row['error_held_out']:+.1%} |" if held is not None else "- | - |"))
    c = report["calibration"]
    lines.append(f"\nworst error: default {c['worst_error_before']:.1%}, calibrated "
                 f"{c['worst_error_after']:.1%}"
                 + (f", held out {c['worst_error_held_out']:.1%}"
                    if c["worst_error_held_out"] is not None else ""))
    w = report["what_if_positions_and_outputs"]
    lines.append(f"with kernel-position and output terms (not in tinynas/latency.py): worst "
                 f"{w['worst_in_sample']:.1%} in sample, {w['worst_held_out']:.1%} held out")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
