"""Markdown tables of a results file, as pasted into BENCHMARKS.md."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bench.search_quality.summary import Cell, cells, median
from tinynas.hypervolume import CLEAR_MARGIN, Point, Verdict


def _table(header: list[str], rows: Iterable[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _kb(n: float | None) -> str:
    return "-" if n is None else f"{n / 1024:.1f}"


def _f(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def _point(p: Point) -> str:
    return (f"{p.accuracy:.3f} @ {_kb(p.ram_bytes)} KB RAM, {_kb(p.flash_bytes)} KB flash, "
            f"{p.latency_ms:.0f} ms")


def _hypervolume_row(c: Cell) -> list[Any]:
    ours, rand = c.searches.get("nsga2", []), c.searches.get("random", [])
    seeds = sorted({o.seed for o in ours} & {o.seed for o in rand})
    ours = [o for o in ours if o.seed in seeds]
    rand = [o for o in rand if o.seed in seeds]
    m_o = median(o.hypervolume for o in ours)
    m_r = median(o.hypervolume for o in rand)
    wins = sum(1 for a, b in zip(ours, rand, strict=True) if a.hypervolume > b.hypervolume)
    ties = sum(1 for a, b in zip(ours, rand, strict=True) if a.hypervolume == b.hypervolume)
    median_word = "-" if m_o is None or m_r is None else (
        "higher" if m_o > m_r else "equal" if m_o == m_r else "lower")
    return [c.setting, c.dataset, c.board.name, len(seeds),
            " / ".join(f"{o.hypervolume:.3f}" for o in ours) + f" ({_f(m_o)})",
            " / ".join(f"{o.hypervolume:.3f}" for o in rand) + f" ({_f(m_r)})",
            f"{wins} higher, {ties} equal; median {median_word}",
            f"{_f(median(o.hypervolume_acc_ram for o in ours))} / "
            f"{_f(median(o.hypervolume_acc_ram for o in rand))}",
            f"{_f(median(o.best_accuracy or 0.0 for o in ours))} / "
            f"{_f(median(o.best_accuracy or 0.0 for o in rand))}"]


def hypervolume_table(groups: list[Cell]) -> str:
    """Hypervolume of tinynas (NSGA-II) against random search, seed by seed."""
    return _table(["setting", "dataset", "board", "seeds", "NSGA-II HV by seed (median)",
                   "random HV by seed (median)", "NSGA-II against random",
                   "2-D acc-RAM HV median, NSGA-II / random",
                   "best int8 acc median, NSGA-II / random"],
                  [_hypervolume_row(c) for c in groups if "nsga2" in c.searches
                   and "random" in c.searches])


def _misses(verdicts: list[tuple[int, Verdict, Point]]) -> str:
    """Per missed seed, the most accurate model within half the reference's RAM and its gap."""
    parts = []
    for seed, v, ref in verdicts:
        if v.met:
            continue
        parts.append(f"s{seed}: none" if v.nearest is None else
                     f"s{seed}: {v.nearest.accuracy:.3f} @ {_kb(v.nearest.ram_bytes)} KB "
                     f"({v.nearest.accuracy - ref.accuracy:+.3f})")
    return "; ".join(parts) or "-"


def reference_table(groups: list[Cell]) -> str:
    """Each reference on each board against the tinynas front of the same seed."""
    rows = []
    for c in groups:
        for name, verdicts in c.verdicts().items():
            refs = [r for _, _, r in verdicts]
            met = [v for _, v, _ in verdicts if v.met]
            first = f"{_point(met[0].winner)} ({met[0].how})" if met and met[0].winner else "none"
            rows.append([
                c.setting, c.dataset, c.board.name, name,
                _f(median(r.accuracy for r in refs)), _kb(median(r.ram_bytes for r in refs)),
                _kb(median(r.flash_bytes for r in refs)),
                _f(median(r.latency_ms for r in refs), ".0f"),
                f"{sum(1 for r in refs if r.fits(c.board))}/{len(refs)}",
                f"{len(met)}/{len(verdicts)}", first, _misses(verdicts),
                f"{sum(1 for _, v, _ in verdicts if v.pareto is not None)}/{len(verdicts)}"])
    return _table(["setting", "dataset", "board", "reference", "int8 acc (median)", "RAM KB",
                   "flash KB", "latency ms", "fits (seeds)", "goal met (seeds)",
                   "tinynas model meeting it (first such seed)",
                   "closest miss within half its RAM (acc @ RAM, against it)",
                   "Pareto-dominated on all 4 (seeds)"], rows)


def speed_table(groups: list[Cell]) -> str:
    """Trials per hour and hypervolume per CPU-hour, with training reuse counted."""
    rows = []
    for c in groups:
        for sampler, outs in sorted(c.searches.items()):
            trials = sum(o.trials for o in outs)
            wall, cpu = sum(o.wall_s for o in outs), sum(o.cpu_s for o in outs)
            stopped = sum(o.not_promoted for o in outs)
            rows.append([
                c.setting, c.dataset, c.board.name, sampler, len(outs), trials,
                sum(o.trained for o in outs), sum(o.reused for o in outs),
                sum(o.over_limits for o in outs), stopped, sum(o.failed for o in outs),
                _f(trials * 3600 / wall if wall else None, ".1f"),
                _f((trials + stopped) * 3600 / cpu if cpu else None, ".0f"),
                _f(median(o.hypervolume for o in outs)),
                _f(median(o.hypervolume * 3600 / o.cpu_s for o in outs if o.cpu_s), ".2f")])
    return _table(["setting", "dataset", "board", "sampler", "searches", "complete trials",
                   "trained", "reused", "over limits", "stopped after the probe", "failed",
                   "complete trials / wall hour", "candidates / CPU hour", "HV (median)",
                   "HV / CPU hour (median)"], rows)


def front_table(groups: list[Cell]) -> str:
    """The tinynas (NSGA-II) front of the first seed of each cell, most accurate first."""
    rows = []
    for c in groups:
        for o in c.searches.get("nsga2", [])[:1]:
            rows += [[c.setting, c.dataset, c.board.name, o.seed, f"{p.accuracy:.3f}",
                      _kb(p.ram_bytes), _kb(p.flash_bytes), f"{p.latency_ms:.1f}", p.label]
                     for p in o.front]
    return _table(["setting", "dataset", "board", "seed", "int8 acc", "RAM KB", "flash KB",
                   "latency ms", "trial"], rows)


def selection_table(groups: list[Cell]) -> str:
    """Per cell and sampler, what choosing on validation accuracy gave on the test split."""
    rows = []
    for c in groups:
        for sampler, outs in sorted(c.searches.items()):
            chosen = [(o, o.selection) for o in outs if o.selection is not None]
            if not chosen:
                continue
            rows.append([
                c.setting, c.dataset, c.board.name, sampler, len(chosen),
                _f(median(s.chosen_val for _, s in chosen)),
                _f(median(s.chosen_test for _, s in chosen)),
                _f(median(s.chosen_val - s.chosen_test for _, s in chosen), "+.3f"),
                _f(median(s.mean_gap for _, s in chosen), "+.3f"),
                _f(median(s.best_test for _, s in chosen)),
                " / ".join(f"{o.hypervolume:.3f}" for o, _ in chosen)
                + f" ({_f(median(o.hypervolume for o, _ in chosen))})",
                " / ".join(f"{s.hypervolume_test_chosen:.3f}" for _, s in chosen)
                + f" ({_f(median(s.hypervolume_test_chosen for _, s in chosen))})"])
    return _table(["setting", "dataset", "board", "sampler", "searches",
                   "most accurate model chosen: validation acc (median)", "its test acc",
                   "validation minus test", "validation minus test, mean of every model",
                   "best test acc of any model that fits",
                   "HV, front chosen on validation, read on test (median)",
                   "HV, front chosen on test"], rows)


def render(data: dict[str, Any]) -> str:
    """Every table of a results file, with the runs that produced it."""
    groups = cells(data["results"])
    runs = "\n".join(f"- `{r['command']}` started {r['started']}, {r['jobs']} jobs to run, "
                     f"{r['workers']} at once, {r.get('wall_s', 0) / 60:.0f} min, load average "
                     f"{r['load_average_start'][0]:.1f} at the start"
                     for r in data.get("runs", []) if r.get("jobs"))
    return "\n\n".join([
        "Runs:\n\n" + runs,
        "Hypervolume (4-D: int8 accuracy, RAM, flash, latency, normalized by the board's "
        "limits; reference point accuracy 0 and every resource at its limit; the front is "
        "chosen on validation accuracy where the search recorded it, and read on test):\n\n"
        + hypervolume_table(groups),
        "References against the tinynas (NSGA-II) front of the same seed (goal: at least the "
        "same int8 accuracy with at most half the RAM, or "
        f"{CLEAR_MARGIN * 100:.0f} points more accuracy within the same RAM):\n\n"
        + reference_table(groups),
        "Chosen on validation, read on test (searches that recorded validation accuracy):"
        "\n\n" + selection_table(groups),
        "Search speed and reuse:\n\n" + speed_table(groups),
        "tinynas fronts (first seed):\n\n" + front_table(groups),
    ])
