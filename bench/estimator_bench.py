"""Estimator benchmark: analytic estimates against the converted model and TFLite Micro.

For random architectures of every shipped search space (and four hand-built reference models)
it compares

* the ``.tflite`` size predicted from the architecture before conversion
  (``space.graph`` -> :func:`tinynas.tflite_writer.serialized_size`) with the converted file;
* the arena estimated for the 64-bit host build (``target="host"``) from the predicted graph,
  and from the converted file, with the minimum working arena measured by bisection with the
  tflite-micro interpreter;
* the time of one estimate (``space.graph`` + :func:`tinynas.estimator.estimate_graph`) with the
  time of converting and measuring.

Weights are drawn at random before conversion (biases and batch-norm statistics included) so
that the converter sees what a trained model gives it: with all-zero biases it drops them.

Usage::

    .venv/bin/python bench/estimator_bench.py [--per-space 50] [--seed 0] \
        [--out bench/results/estimator_bench.json]

``--timing-only`` re-times the estimates of the same architectures (same seed) without
converting again, and updates the timings in an existing results file.
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tinynas.estimator import estimate_graph  # noqa: E402
from tinynas.measure import min_working_arena, recorded_arena  # noqa: E402
from tinynas.tflite_reader import read_tflite  # noqa: E402

SPACES = ("ds_cnn", "cnn1d", "gru", "cnn")
OUTLIERS = ROOT / "bench/results/estimator_outliers"
CLASSES = 10


def randomize(model: Any, rng: np.random.Generator) -> None:
    """Random weights of a plausible scale, positive where a variance or scale must be."""
    for layer in model.layers:
        values = []
        for var, value in zip(layer.weights, layer.get_weights(), strict=True):
            name = var.name
            if "moving_variance" in name or "gamma" in name:
                values.append(rng.uniform(0.5, 1.5, value.shape).astype(value.dtype))
            else:
                fan_in = max(int(np.prod(value.shape[:-1])), 1)
                values.append(rng.normal(0, 1 / np.sqrt(fan_in), value.shape)
                              .astype(value.dtype))
        if values:
            layer.set_weights(values)


def convert(model: Any, shape: tuple[int, ...], rng: np.random.Generator) -> bytes:
    from tinynas.convert import to_int8_tflite

    samples = rng.normal(0, 1, (64, *shape)).astype(np.float32)
    return to_int8_tflite(model, shape, samples)


def time_estimate(fn: Any, repeat: int = 5) -> float:
    """Best of ``repeat`` timings of ``fn()`` after one warm-up (timeit's convention: the
    machine is shared, and the minimum is the least disturbed run)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(tflite: bytes, estimate_hint: int) -> tuple[int, int]:
    recorded = recorded_arena(tflite)
    minimum = min_working_arena(tflite, low=recorded // 2, high=max(recorded, estimate_hint))
    return recorded, minimum


def space_rows(name: str, count: int, seed: int) -> list[dict[str, Any]]:
    import optuna

    from tinynas.spaces import load_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(name)
    shape = space.model_input_shape(space.default_input_shape())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(count):
        arch = space.suggest(study.ask())
        graph = space.graph(arch, shape, CLASSES)
        est = estimate_graph(graph, target="host")
        seconds = time_estimate(lambda a=arch: estimate_graph(space.graph(a, shape, CLASSES)))
        start = time.perf_counter()
        model = space.build(arch, shape, CLASSES)
        randomize(model, rng)
        tflite = convert(model, shape, rng)
        recorded, minimum = measure(tflite, est.arena_bytes)
        reference_seconds = time.perf_counter() - start
        from_file = estimate_graph(read_tflite(tflite), target="host").arena_bytes
        rows.append(_row(name, space.describe(arch), len(graph.operators), est.model_bytes,
                         len(tflite), est.arena_bytes, from_file, recorded, minimum, seconds,
                         reference_seconds))
        _keep_outlier(rows[-1], tflite, f"{name}_{k}")
        _progress(rows[-1], k, count)
    return rows


def retime(path: Path, seed: int) -> dict[str, Any]:
    """Re-time the estimates of the architectures in ``path`` (drawn again from the same seed)."""
    import optuna

    from tinynas.spaces import load_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = json.loads(path.read_text())
    rows = data["rows"]
    for name in dict.fromkeys(r["source"] for r in rows if r["source"] in SPACES):
        space = load_space(name)
        shape = space.model_input_shape(space.default_input_shape())
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        for row in (r for r in rows if r["source"] == name):
            arch = space.suggest(study.ask())
            if space.describe(arch) != row["model"]:
                raise SystemExit(f"{name}: the space now draws {space.describe(arch)!r} where the "
                                 f"results have {row['model']!r}; run the full benchmark again")
            row["estimate_seconds"] = time_estimate(
                lambda a=arch, s=space, sh=shape: estimate_graph(s.graph(a, sh, CLASSES)))
    return {"summary": summarize(rows), "rows": rows}


def _row(source: str, model: str, ops: int, predicted_bytes: int | None, tflite_bytes: int,
         arena_graph: int | None, arena_file: int, recorded: int, minimum: int,
         estimate_seconds: float | None, reference_seconds: float) -> dict[str, Any]:
    def err(value: int | None, truth: int) -> float | None:
        return None if value is None else (value - truth) / truth

    return {"source": source, "model": model, "ops": ops, "predicted_bytes": predicted_bytes,
            "tflite_bytes": tflite_bytes, "bytes_error": err(predicted_bytes, tflite_bytes),
            "arena_estimate": arena_graph, "arena_estimate_from_file": arena_file,
            "recorded_arena": recorded, "min_working_arena": minimum,
            "arena_error": err(arena_graph, minimum),
            "arena_error_from_file": err(arena_file, minimum),
            "estimate_seconds": estimate_seconds, "convert_and_measure_seconds": reference_seconds}


def _keep_outlier(row: dict[str, Any], tflite: bytes, stem: str) -> None:
    """Keep the model of any estimate more than 1% off, for a post-mortem."""
    errors = [row[k] for k in ("bytes_error", "arena_error", "arena_error_from_file")]
    if any(e is not None and abs(e) > 0.01 for e in errors):
        OUTLIERS.mkdir(parents=True, exist_ok=True)
        (OUTLIERS / f"{stem}.tflite").write_bytes(tflite)
        row["kept_as"] = str((OUTLIERS / f"{stem}.tflite").relative_to(ROOT))


def _progress(row: dict[str, Any], k: int, count: int) -> None:
    def pct(v: float | None) -> str:
        return "   -   " if v is None else f"{v:+.2%}"

    print(f"{row['source']:>10} {k + 1:>3}/{count} ops={row['ops']:>5} "
          f"bytes {pct(row['bytes_error'])} arena {pct(row['arena_error'])} "
          f"(file {pct(row['arena_error_from_file'])})", flush=True)


def reference_models() -> list[tuple[str, Any, tuple[int, ...]]]:
    """DS-CNN for 49x10 MFCC keyword spotting, a MobileNet-like image model, a 1-D CNN with
    residual adds and an unrolled GRU."""
    from tinynas.keras_env import keras

    k = keras()
    layers = k.layers

    def ds_cnn() -> Any:
        x = inputs = k.Input((49, 10, 1))
        x = layers.Conv2D(64, (10, 4), strides=(2, 2), padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        for _ in range(4):
            x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
            x = layers.ReLU()(layers.BatchNormalization()(x))
            x = layers.Conv2D(64, 1, use_bias=False)(x)
            x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.GlobalAveragePooling2D()(x)
        return k.Model(inputs, layers.Softmax()(layers.Dense(12)(x)))

    def mobilenet() -> Any:
        x = inputs = k.Input((48, 48, 3))
        x = layers.ReLU(6.0)(layers.BatchNormalization()(
            layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)))
        for filters, stride in ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1)):
            x = layers.ReLU(6.0)(layers.BatchNormalization()(
                layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)))
            x = layers.ReLU(6.0)(layers.BatchNormalization()(
                layers.Conv2D(filters, 1, use_bias=False)(x)))
        x = layers.GlobalAveragePooling2D()(x)
        return k.Model(inputs, layers.Softmax()(layers.Dense(10)(x)))

    def residual_1d() -> Any:
        x = inputs = k.Input((128, 1, 6))
        x = layers.Conv2D(16, (5, 1), padding="same", activation="relu")(x)
        for _ in range(3):
            y = layers.Conv2D(16, (3, 1), padding="same", activation="relu")(x)
            y = layers.Conv2D(16, (3, 1), padding="same")(y)
            x = layers.ReLU()(layers.Add()([x, y]))
            x = layers.MaxPooling2D((2, 1))(x)
        x = layers.GlobalAveragePooling2D()(x)
        return k.Model(inputs, layers.Softmax()(layers.Dense(6)(x)))

    def gru() -> Any:
        inputs = k.Input((20, 6))
        x = layers.GRU(32, unroll=True)(inputs)
        return k.Model(inputs, layers.Softmax()(layers.Dense(4)(x)))

    return [("ds_cnn_kws", ds_cnn(), (49, 10, 1)), ("mobilenet", mobilenet(), (48, 48, 3)),
            ("residual_1d", residual_1d(), (128, 1, 6)), ("gru", gru(), (20, 6))]


def reference_rows(seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    models = reference_models()
    for k, (name, model, shape) in enumerate(models):
        randomize(model, rng)
        start = time.perf_counter()
        tflite = convert(model, shape, rng)
        graph = read_tflite(tflite)
        est = estimate_graph(graph, target="host")
        recorded, minimum = measure(tflite, est.arena_bytes)
        reference_seconds = time.perf_counter() - start
        rows.append(_row("reference", name, len(graph.operators), None, len(tflite), None,
                         est.arena_bytes, recorded, minimum, None, reference_seconds))
        _keep_outlier(rows[-1], tflite, f"reference_{name}")
        _progress(rows[-1], k, len(models))
    return rows


def _distribution(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def quantile(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"n": len(ordered), "min": ordered[0], "p05": quantile(0.05),
            "median": quantile(0.5), "p95": quantile(0.95), "max": ordered[-1],
            "within_2pct": sum(abs(v) <= 0.02 for v in ordered) / len(ordered)}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for source in [*SPACES, "reference", "all"]:
        chosen = [r for r in rows if source in ("all", r["source"])]
        if not chosen:
            continue
        entry: dict[str, Any] = {}
        for key in ("bytes_error", "arena_error", "arena_error_from_file"):
            values = [r[key] for r in chosen if r[key] is not None]
            if values:
                entry[key] = _distribution(values)
                worst = max((r for r in chosen if r[key] is not None), key=lambda r: abs(r[key]))
                entry[key]["worst_model"] = f"{worst['source']}: {worst['model']}"
        times = [r["estimate_seconds"] for r in chosen if r["estimate_seconds"] is not None]
        if times:
            reference = [r["convert_and_measure_seconds"] for r in chosen
                         if r["estimate_seconds"] is not None]
            entry["estimate_ms_median"] = statistics.median(times) * 1e3
            entry["estimate_ms_max"] = max(times) * 1e3
            entry["convert_and_measure_s_median"] = statistics.median(reference)
            entry["speedup_median"] = statistics.median(
                r / t for r, t in zip(reference, times, strict=True))
        summary[source] = entry
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    print("\nerror = (estimate - truth) / truth")
    print(f"{'set':<10} {'quantity':<24} {'n':>4} {'min':>8} {'p5':>8} {'median':>8} "
          f"{'p95':>8} {'max':>8} {'<=2%':>6}")
    for source, entry in summary.items():
        for key, label in (("bytes_error", ".tflite bytes"), ("arena_error", "arena (from arch)"),
                           ("arena_error_from_file", "arena (from .tflite)")):
            if key in entry:
                d = entry[key]
                print(f"{source:<10} {label:<24} {d['n']:>4} {d['min']:>+8.2%} {d['p05']:>+8.2%} "
                      f"{d['median']:>+8.2%} {d['p95']:>+8.2%} {d['max']:>+8.2%} "
                      f"{d['within_2pct']:>6.0%}")
        if "estimate_ms_median" in entry:
            print(f"{source:<10} estimate {entry['estimate_ms_median']:.3f} ms median "
                  f"(max {entry['estimate_ms_max']:.1f} ms); convert+measure "
                  f"{entry['convert_and_measure_s_median']:.1f} s median; speed-up "
                  f"{entry['speedup_median']:,.0f}x median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-space", type=int, default=50)
    parser.add_argument("--spaces", default=",".join(SPACES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/estimator_bench.json")
    parser.add_argument("--timing-only", action="store_true",
                        help="re-time the estimates of the architectures in --out")
    args = parser.parse_args()
    if args.timing_only:
        result = retime(args.out, args.seed)
        print_summary(result["summary"])
        _write(args.out, result)
        return
    rows: list[dict[str, Any]] = []
    for name in args.spaces.split(","):
        rows.extend(space_rows(name, args.per_space, args.seed))
    if not args.no_reference:
        rows.extend(reference_rows(args.seed))
    summary = summarize(rows)
    print_summary(summary)
    _write(args.out, {"summary": summary, "rows": rows})


def _write(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    main()
