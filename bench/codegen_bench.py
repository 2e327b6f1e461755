"""Generated C runtime against TFLite Micro: RAM and flash, per model.

For the smallest architecture and random ones of every shipped search space (random weights of a
trained model's scale, full-int8 conversion by the project's pipeline), it exports the model and
compares

* RAM: the generated runtime's static RAM (its arena plus the input and output buffers; it uses
  no scratch and no heap) with the TFLite Micro tensor arena measured by the tflite-micro
  interpreter (recording allocator, and the minimum working arena found by bisection; both are
  64-bit host figures) and with the estimator's arena for a 32-bit build;
* flash: code plus constants of the generated runtime, compiled with
  ``arm-none-eabi-gcc -Os -mcpu=cortex-m4`` and linked with ``--gc-sections`` (the size of an
  application calling ``tinynas_invoke`` minus the same application with an empty stub), with the
  ``.tflite`` plus the estimator's TFLite Micro runtime reserve;

and checks that the runtime's outputs are identical to TFLite's on 100 random inputs.

Usage::

    .venv/bin/python bench/codegen_bench.py [--per-space 2] [--seed 0] \
        [--out bench/results/codegen_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.estimator_bench import convert, measure, randomize  # noqa: E402
from tinynas.errors import TinyNASError  # noqa: E402
from tinynas.estimator import estimate_graph  # noqa: E402
from tinynas.export import ExportInfo, export_bundle, read_manifest, verify_bundle  # noqa: E402
from tinynas.tflite_reader import read_tflite  # noqa: E402

#: Realistic input of each space: keyword-spotting MFCCs, 28x28 images, 6-axis motion windows.
SHAPES = {"ds_cnn": (49, 10, 1), "cnn": (28, 28, 1), "cnn1d": (100, 6), "gru": (50, 6)}
CLASSES = 10
ARM_FLAGS = ["-Os", "-mcpu=cortex-m4", "-mthumb", "-std=c99", "-ffunction-sections",
             "-fdata-sections", "-Wl,--gc-sections", "--specs=nosys.specs"]
APP = """#include "tinynas_model.h"
static int8_t input[TINYNAS_INPUT_SIZE];
static int8_t output[TINYNAS_OUTPUT_SIZE];
int main(void) { return tinynas_invoke(input, output) + output[0]; }
"""
STUB = """#include "tinynas_model.h"
int tinynas_invoke(const int8_t *input, int8_t *output) { (void)input; (void)output; return 0; }
"""


def _size(elf: Path) -> tuple[int, int]:
    """(text + data, bss) of an ELF, from arm-none-eabi-size."""
    line = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True, text=True,
                          check=True).stdout.splitlines()[1].split()
    return int(line[0]) + int(line[1]), int(line[2])


def arm_footprint(folder: Path) -> tuple[int, int]:
    """Flash (code + constants) and static RAM the generated runtime adds to an application."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "app.c").write_text(APP)
        (work / "stub.c").write_text(STUB)
        sources = [str(folder / "tinynas_model.c"), *map(str, sorted(folder.glob("tn_*.c")))]
        cc = ["arm-none-eabi-gcc", *ARM_FLAGS, f"-I{folder}", str(work / "app.c")]
        subprocess.run([*cc, *sources, "-o", str(work / "full.elf")], check=True)
        subprocess.run([*cc, str(work / "stub.c"), "-o", str(work / "stub.elf")], check=True)
        full, stub = _size(work / "full.elf"), _size(work / "stub.elf")
    return full[0] - stub[0], full[1] - stub[1]


def bench_model(space_name: str, label: str, model: Any, shape: tuple[int, ...],
                rng: np.random.Generator) -> dict[str, Any]:
    randomize(model, rng)
    tflite = convert(model, shape, rng)
    graph = read_tflite(tflite)
    estimate = estimate_graph(graph, target="mcu")
    recorded, minimum = measure(tflite, estimate_graph(graph, target="host").arena_bytes)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fw"
        export_bundle(tflite, out, ExportInfo())
        runtime = read_manifest(out)["runtime"]
        flash, bss = arm_footprint(out)
        check = verify_bundle(out, inputs=100)
    ram = runtime["arena_bytes"] + runtime["input_bytes"] + runtime["output_bytes"]
    tflm_flash = len(tflite) + estimate.runtime_bytes
    row = {"space": space_name, "model": label, "ops": len(graph.operators),
           "tflite_bytes": len(tflite), "tflm_recorded_arena": recorded,
           "tflm_min_working_arena": minimum, "tflm_estimated_mcu_arena": estimate.arena_bytes,
           "generated_arena": runtime["arena_bytes"], "generated_static_ram": ram,
           "generated_bss": bss, "ram_saving_vs_min_working": 1 - ram / minimum,
           "ram_saving_vs_recorded": 1 - ram / recorded,
           "ram_saving_vs_estimated_mcu": 1 - ram / estimate.arena_bytes,
           "tflm_runtime_reserve": estimate.runtime_bytes, "tflm_flash": tflm_flash,
           "generated_flash": flash, "flash_saving": 1 - flash / tflm_flash,
           "identical": f"{check.identical}/{check.total}"}
    print(f"{space_name:>7} {label[:58]:<58} RAM {ram:>7} vs {minimum:>7} "
          f"({row['ram_saving_vs_min_working']:+.0%})  flash {flash:>7} vs {tflm_flash:>7} "
          f"({row['flash_saving']:+.0%})  {row['identical']}", flush=True)
    return row


def space_rows(name: str, count: int, seed: int) -> list[dict[str, Any]]:
    import optuna

    from tinynas.spaces import load_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(name)
    shape = space.model_input_shape(SHAPES[name])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    rng = np.random.default_rng(seed)
    archs = [space.smallest()] + [space.suggest(study.ask()) for _ in range(count)]
    rows = []
    for arch in archs:
        try:
            rows.append(bench_model(name, space.describe(arch),
                                    space.build(arch, shape, CLASSES), shape, rng))
        except TinyNASError as exc:
            print(f"{name:>7} {space.describe(arch)[:58]:<58} skipped: {exc}", flush=True)
            rows.append({"space": name, "model": space.describe(arch), "skipped": str(exc)})
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    done = [r for r in rows if "skipped" not in r]
    return {
        "models": len(done), "skipped": len(rows) - len(done),
        "min_ram_saving_vs_min_working": min(r["ram_saving_vs_min_working"] for r in done),
        "min_ram_saving_vs_recorded": min(r["ram_saving_vs_recorded"] for r in done),
        "min_ram_saving_vs_estimated_mcu": min(r["ram_saving_vs_estimated_mcu"] for r in done),
        "min_flash_saving": min(r["flash_saving"] for r in done),
        "all_identical": all(r["identical"].split("/")[0] == r["identical"].split("/")[1]
                             for r in done),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-space", type=int, default=2,
                        help="random architectures per space, besides the smallest")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/codegen_bench.json")
    args = parser.parse_args()
    rows = [row for name in SHAPES for row in space_rows(name, args.per_space, args.seed)]
    summary = summarize(rows)
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
