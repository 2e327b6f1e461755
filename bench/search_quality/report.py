"""Markdown tables of a results file, as pasted into BENCHMARKS.md."""

from __future__ import annotations

from typing import Any

from bench.search_quality.summary import Cell, cells, median
from tinynas.hypervolume import Point


def _kb(n: float) -> str:
    return f"{n / 1024:.1f}"


def _f(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def _seeds(values: list[float]) -> str:
    return " / ".join(f"{v:.3f}" for v in values)


def hypervolume_table(groups: list[Cell]) -> str:
    """Hypervolume of tinynas (NSGA-II) against random search, seed by seed."""
    lines = ["| setting | dataset | board | NSGA-II HV by seed (median) | random HV by seed "
             "(median) | NSGA-II higher | 2-D acc-RAM HV median, NSGA-II / random | best int8 "
             "acc median, NSGA-II / random |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in groups:
        ours, rand = c.searches.get("nsga2", []), c.searches.get("random", [])
        seeds = sorted({o.seed for o in ours} & {o.seed for o in rand})
        hv_o = [o.hypervolume for o in ours if o.seed in seeds]
        hv_r = [o.hypervolume for o in rand if o.seed in seeds]
        wins = sum(1 for a, b in zip(hv_o, hv_r, strict=True) if a > b)
        m_o, m_r = median(hv_o), median(hv_r)
        verdict = f"{wins}/{len(seeds)}" + (
            ", median yes" if m_o is not None and m_r is not None and m_o > m_r else
            ", median no")
        acc_ram = (f"{_f(median(o.hypervolume_acc_ram for o in ours if o.seed in seeds))} / "
                   f"{_f(median(o.hypervolume_acc_ram for o in rand if o.seed in seeds))}")
        best = (f"{_f(median(o.best_accuracy or 0 for o in ours if o.seed in seeds))} / "
                f"{_f(median(o.best_accuracy or 0 for o in rand if o.seed in seeds))}")
        lines.append(f"| {c.setting} | {c.dataset} | {c.board.name} | {_seeds(hv_o)} "
                     f"({_f(m_o)}) | {_seeds(hv_r)} ({_f(m_r)}) | {verdict} | {acc_ram} | "
                     f"{best} |")
    return "\n".join(lines)


def _point(p: Point) -> str:
    return f"{p.accuracy:.3f} @ {_kb(p.ram_bytes)} KB RAM, {_kb(p.flash_bytes)} KB flash, " \
           f"{p.latency_ms:.0f} ms"


def reference_table(groups: list[Cell]) -> str:
    """Each reference on each board against the tinynas front of the same seed."""
    lines = ["| dataset | board | reference | int8 acc (median) | RAM KB | flash KB | latency "
             "ms | fits | goal met (seeds) | tinynas model meeting it (first seed) | "
             "Pareto-dominated (seeds) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in groups:
        for name, rows in c.verdicts().items():
            refs = [r for _, _, r in rows]
            met = [(s, v) for s, v, _ in rows if v.met]
            first = f"{_point(met[0][1].winner)} ({met[0][1].how})" if met else "none"
            fits = sum(1 for r in refs if r.fits(c.board))
            pareto = sum(1 for _, v, _ in rows if v.pareto is not None)
            lines.append(
                f"| {c.dataset} | {c.board.name} | {name} | "
                f"{_f(median(r.accuracy for r in refs))} | "
                f"{_kb(median(r.ram_bytes for r in refs) or 0)} | "
                f"{_kb(median(r.flash_bytes for r in refs) or 0)} | "
                f"{_f(median(r.latency_ms for r in refs), '.0f')} | {fits}/{len(refs)} | "
                f"{len(met)}/{len(rows)} | {first} | {pareto}/{len(rows)} |")
    return "\n".join(lines)


def speed_table(groups: list[Cell]) -> str:
    """Trials per hour and hypervolume per CPU-hour, with training reuse counted."""
    lines = ["| setting | dataset | board | sampler | searches | trials | trained | reused | "
             "over limits | failed | trials / wall hour | trials / CPU hour | HV / CPU hour |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in groups:
        for sampler, outs in sorted(c.searches.items()):
            trials = sum(o.trials for o in outs)
            wall = sum(o.wall_s for o in outs)
            cpu = sum(o.cpu_s for o in outs)
            hv_rate = median(o.hypervolume / (o.cpu_s / 3600) for o in outs if o.cpu_s)
            lines.append(
                f"| {c.setting} | {c.dataset} | {c.board.name} | {sampler} | {len(outs)} | "
                f"{trials} | {sum(o.trained for o in outs)} | {sum(o.reused for o in outs)} | "
                f"{sum(o.over_limits for o in outs)} | {sum(o.failed for o in outs)} | "
                f"{_f(trials / (wall / 3600) if wall else None, '.0f')} | "
                f"{_f(trials / (cpu / 3600) if cpu else None, '.0f')} | {_f(hv_rate, '.2f')} |")
    return "\n".join(lines)


def front_table(groups: list[Cell]) -> str:
    """The tinynas (NSGA-II) front of the first seed of each cell, most accurate first."""
    lines = ["| dataset | board | seed | int8 acc | RAM KB | flash KB | latency ms | trial |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in groups:
        outs = c.searches.get("nsga2", [])
        if not outs:
            continue
        o = outs[0]
        for p in o.front:
            lines.append(f"| {c.dataset} | {c.board.name} | {o.seed} | {p.accuracy:.3f} | "
                         f"{_kb(p.ram_bytes)} | {_kb(p.flash_bytes)} | {p.latency_ms:.1f} | "
                         f"{p.label} |")
    return "\n".join(lines)


def render(data: dict[str, Any]) -> str:
    """Every table of a results file, with the runs that produced it."""
    groups = cells(data["results"])
    runs = "\n".join(f"- `{r['command']}` started {r['started']}, {r['jobs']} jobs, "
                     f"{r['workers']} at once, {r.get('wall_s', 0) / 60:.0f} min, load average "
                     f"{r['load_average_start'][0]:.1f} at the start"
                     for r in data.get("runs", []) if r.get("jobs"))
    return "\n\n".join([
        "Runs:\n\n" + runs,
        "Hypervolume (4-D: int8 accuracy, RAM, flash, latency, normalized by the board's "
        "limits; reference point accuracy 0 and every resource at its limit):\n\n"
        + hypervolume_table(groups),
        "References against the tinynas front of the same seed (goal: at least the same int8 "
        "accuracy with at most half the RAM, or 2 points more accuracy within the same RAM):\n\n"
        + reference_table(groups),
        "Search speed and reuse:\n\n" + speed_table(groups),
        "tinynas fronts (first seed):\n\n" + front_table(groups),
    ])
