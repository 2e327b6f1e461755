"""Where one candidate's training time goes: what limits trials per hour."""

from __future__ import annotations

import cProfile
import pstats
import time
from dataclasses import replace
from typing import Any

#: Steps of :func:`tinynas.train.train_candidate`, by the function that does them.
STEPS = {
    "fit": "training epochs (float, then compression fine-tuning)",
    "to_float_tflite": "float .tflite for the size of the float step",
    "to_int8_tflite": "full-int8 conversions (one per compression step)",
    "quantize_aware": "building the quantization-aware model (tfmot)",
    "evaluate_tflite": "int8 evaluation on the test split",
    "build": "building the Keras model",
}


def profile_candidate(dataset: str, reference: str, epochs: int, seed: int = 0) -> dict[str, Any]:
    """Train one reference architecture under the profiler and split its time by step.

    The first candidate of a process also pays the imports of TensorFlow and the Model
    Optimization Toolkit; a second one is profiled so that the figures are those of a search's
    steady state.
    """
    from tinynas.datasets import load_dataset
    from tinynas.references import get_reference
    from tinynas.train import train_candidate

    ref = get_reference(reference)
    space, arch = ref.load()
    data = load_dataset(dataset, seed=seed)
    training = replace(space.config.training, epochs=epochs)
    train_candidate(space, arch, ref.compression, data, training, seed=seed)
    # CPU time, not wall time: on a shared machine the wall clock measures the other jobs.
    profiler = cProfile.Profile(time.process_time)
    started, cpu = time.perf_counter(), time.process_time()
    profiler.enable()
    result = train_candidate(space, arch, ref.compression, data, training, seed=seed + 1)
    profiler.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    steps = {}
    for (filename, _, name), (_, _, _, cumulative, _) in stats.items():
        if name in STEPS and "tinynas" in filename:
            steps[name] = steps.get(name, 0.0) + cumulative
    return {"dataset": dataset, "reference": reference, "epochs_trained": result.epochs,
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "steps": {k: round(v, 2) for k, v in sorted(steps.items(), key=lambda kv: -kv[1])}}


def format_profile(row: dict[str, Any]) -> str:
    """A Markdown table of :func:`profile_candidate` output (CPU seconds by step)."""
    lines = [f"{row['reference']} on {row['dataset']}: {row['epochs_trained']} epochs, "
             f"{row['wall_s']:.1f} s wall, {row['cpu_s']:.1f} s CPU", "",
             "| step | CPU seconds | share of CPU |", "| --- | --- | --- |"]
    for name, seconds in row["steps"].items():
        lines.append(f"| {STEPS[name]} | {seconds:.1f} | {seconds / row['cpu_s']:.0%} |")
    return "\n".join(lines)
