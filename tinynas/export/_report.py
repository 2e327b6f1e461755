"""``report.md``: the trial's figures and architecture, and what each exported file is for."""

from __future__ import annotations

from typing import Any

from tinynas.codegen import GeneratedRuntime
from tinynas.export._info import ExportInfo
from tinynas.graph import Graph

#: Trial user attributes shown in the figures table, with their labels.
_FIGURES = (
    ("accuracy_float", "float accuracy"), ("accuracy_int8", "int8 accuracy"),
    ("accuracy_int8_val", "int8 validation accuracy"),
    ("fold_accuracy_int8_val", "int8 validation accuracy per fold (the first is this model's)"),
    ("estimated_ram_bytes", "estimated TFLM arena (bytes)"),
    ("measured_arena_bytes", "measured TFLM arena (bytes)"),
    ("estimated_flash_bytes", "estimated flash (bytes)"),
    ("estimated_latency_ms", "estimated latency (ms)"), ("macs", "MACs"),
    ("params", "parameters"), ("tflite_bytes", ".tflite bytes"),
)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _stages(stages: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## Compression steps", "",
             "| step | accuracy | .tflite bytes | zlib bytes | sparsity |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for s in stages:
        lines.append(f"| {s.get('name', '?')} | {_value(s.get('accuracy', ''))} | "
                     f"{s.get('tflite_bytes', '')} | {s.get('compressed_bytes', '')} | "
                     f"{_value(s.get('sparsity', ''))} |")
    return lines


def report_md(graph: Graph, tflite: bytes, runtime: GeneratedRuntime, tflm_arena: int,
              runtime_reserve: int, info: ExportInfo) -> str:
    """The report of one export.

    Args:
        graph: The model's graph.
        tflite: The model file.
        runtime: What the C generator wrote and needs.
        tflm_arena: The estimated TFLite Micro arena.
        runtime_reserve: The estimated flash of the TFLite Micro runtime and kernels.
        info: Where the model comes from.
    """
    origin = (f"study `{info.study_name}`, trial {info.trial}" if info.study_name
              else "a .tflite file")
    lines = [f"# Exported model ({origin})", ""]
    if info.board:
        lines.append(f"- board: {info.board.get('name')} ({info.board.get('description', '')})")
    if info.dataset:
        lines.append(f"- dataset: {info.dataset}" + (f" (seed {info.seed})"
                                                     if info.seed is not None else ""))
    if info.arch:
        arch = ", ".join(f"{k}={v}" for k, v in info.arch.items())
        lines.append(f"- architecture: {arch}")
    if info.compression:
        lines.append("- compression: " + ", ".join(f"{k}={v}" for k, v in
                                                   info.compression.items()))
    if info.class_names:
        lines.append(f"- classes: {', '.join(info.class_names)}")
    rows = [(label, info.figures[key]) for key, label in _FIGURES if key in info.figures]
    if rows:
        lines += ["", "## Trial figures", "", "| figure | value |", "| --- | ---: |"]
        lines += [f"| {label} | {_value(v)} |" for label, v in rows]
    if isinstance(info.figures.get("stages"), list):
        lines += _stages(info.figures["stages"])
    x, y = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
    lines += [
        "", "## Memory", "",
        "| | TFLite Micro | generated C runtime |", "| --- | ---: | ---: |",
        f"| RAM: tensor arena | {tflm_arena} (estimated) | {runtime.arena_bytes} |",
        f"| RAM: input + output buffers | in the arena | {runtime.input_bytes} + "
        f"{runtime.output_bytes} |",
        f"| flash: model | {len(tflite)} (.tflite) | {runtime.const_bytes} (constant arrays) "
        "+ parameter blocks |",
        f"| flash: runtime | {runtime_reserve} (estimated) | the kernels this model calls |",
        "", "## Model", "",
        f"- input: int8 {list(x.shape)}, scale {x.scale[0]:.6g}, zero point "
        f"{x.zero_point[0] if x.zero_point else 0}",
        f"- output: int8 {list(y.shape)}, scale {y.scale[0]:.6g}, zero point "
        f"{y.zero_point[0] if y.zero_point else 0}",
        f"- operators ({len(graph.operators)}): " + ", ".join(
            f"{op} x{sum(o.opcode == op for o in graph.operators)}" for op in graph.opcodes),
        f"- generated runtime: {runtime.calls} kernel calls per inference",
        "", "## Files", "",
        "TensorFlow Lite Micro: `model.tflite`, `model_data.cc`/`.h` (the model as a 16-byte "
        "aligned array), `model_op_resolver.h` (registers exactly the operators above), "
        "`model_config.h` (arena size, quantization, labels, preprocessing), `main.cc` (the "
        "inference loop; define `read_input` and `report` for your board).",
        "",
        "Generated C99 runtime (no TFLite Micro, no heap): `tinynas_model.h` (the API), "
        "`tinynas_model.c` (weights, static arena, kernel calls), `tn_*.c`/`tn_*.h` (int8 "
        "kernels), `host_main.c` and `Makefile`. `make host` builds `tinynas_host`, which reads "
        "raw int8 inputs on stdin and writes raw int8 outputs on stdout; `tinynas verify` "
        "compares it byte for byte with TensorFlow Lite.", ""]
    return "\n".join(lines)
