"""The Pareto table: rows of the feasible Pareto-optimal trials, as text or JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinynas import study as studies

if TYPE_CHECKING:
    import optuna

COLUMNS = ("trial", "accuracy_int8", "accuracy_int8_val", "ram_bytes", "flash_bytes",
           "latency_ms", "macs", "params", "architecture")


def pareto_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per feasible Pareto-optimal trained trial, most accurate first.

    The front and its order follow the study's accuracy objective (validation accuracy, or
    test accuracy for a study created before selection moved to validation);
    ``accuracy_int8`` is always the test accuracy and ``accuracy_int8_val`` the validation
    accuracy (None where not recorded).
    """
    rows = []
    for t in studies.pareto_trials(study):
        a = t.user_attrs
        arch = a.get("arch_summary", "")
        if a.get("compression_summary"):
            arch = f"{arch} [{a['compression_summary']}]"
        rows.append({
            "trial": t.number,
            "accuracy_int8": round(float(a["accuracy_int8"]), 4),
            "accuracy_int8_val": (round(float(a["accuracy_int8_val"]), 4)
                                  if "accuracy_int8_val" in a else None),
            "accuracy_float": round(float(a.get("accuracy_float", float("nan"))), 4),
            "ram_bytes": int(a["estimated_ram_bytes"]),
            "flash_bytes": int(a["estimated_flash_bytes"]),
            "latency_ms": round(float(a["estimated_latency_ms"]), 3),
            "macs": int(a["macs"]),
            "params": int(a["params"]),
            "tflite_bytes": int(a.get("tflite_bytes", 0)),
            "measured_arena_bytes": int(a.get("measured_arena_bytes", 0)),
            "architecture": arch,
            "arch": a.get("arch", {}),
            "compression": a.get("compression", {}),
        })
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width text table of :func:`pareto_rows` output."""
    head = (f"{'trial':>5}  {'int8 acc':>8}  {'val acc':>8}  {'RAM B':>8}  {'flash B':>8}  "
            f"{'lat ms':>8}  {'MACs':>9}  {'params':>7}  architecture")
    lines = [head, "-" * len(head)]
    for r in rows:
        val = "-" if r["accuracy_int8_val"] is None else f"{r['accuracy_int8_val']:.4f}"
        lines.append(f"{r['trial']:>5}  {r['accuracy_int8']:>8.4f}  {val:>8}  "
                     f"{r['ram_bytes']:>8}  {r['flash_bytes']:>8}  {r['latency_ms']:>8.3f}  "
                     f"{r['macs']:>9}  {r['params']:>7}  {r['architecture']}")
    return "\n".join(lines)
