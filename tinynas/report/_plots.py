"""The report's figures as PNG bytes (matplotlib, Agg backend, no global pyplot state)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tinynas.report._facts import RESOURCES, Limits, TrialPoint

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PARETO = "#e4572e"
TRAINED = "#4c78a8"
GREY = "#a0a7b1"
LIMIT = "#c0392b"
COLORS = {"ram": "#4c78a8", "flash": "#59a14f", "latency": "#f28e2b"}
STAGE_COLORS = ("#9aa5b1", "#4c78a8", "#59a14f", "#f28e2b", "#b07aa1", "#e15759")


def _figure(width: float, height: float, cols: int = 1) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    axes = fig.subplots(1, cols, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, color="#e6e9ee", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, list(axes)


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    return buf.getvalue()


def _scale(resource: str) -> tuple[float, str]:
    """Divisor and unit for showing a resource on an axis."""
    return (1.0, "ms") if resource == "latency" else (1024.0, "KB")


def pareto_png(points: Sequence[TrialPoint], limits: Limits | None) -> bytes:
    """Accuracy against RAM, flash and latency; infeasible trials greyed, limits drawn."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = _figure(13, 4.3, cols=3)
    trained = [p for p in points if p.trained]
    skipped = [p for p in points if not p.trained]
    accs = [p.accuracy or 0.0 for p in trained] or [0.0, 1.0]
    low, high = min(accs), max(accs)
    pad = max(0.03, (high - low) * 0.12)
    strip = low - 2 * pad
    for ax, (resource, label, _) in zip(axes, RESOURCES, strict=True):
        div, unit = _scale(resource)
        if skipped:
            ax.axhspan(strip - pad * 0.6, strip + pad * 0.6, color="#f1f3f5", zorder=0)
            ax.scatter([p.value(resource) / div for p in skipped], [strip] * len(skipped),
                       marker="x", color=GREY, s=30, label="over a limit, not trained")
        others = [p for p in trained if not p.pareto]
        ax.scatter([p.value(resource) / div for p in others],
                   [p.accuracy or 0.0 for p in others],
                   color=[TRAINED if p.feasible else GREY for p in others], alpha=0.75, s=34,
                   label="trained")
        front = [p for p in trained if p.pareto]
        if front:
            _staircase(ax, [(p.value(resource) / div, p.accuracy or 0.0)
                            for p in trained if p.feasible])
            ax.scatter([p.value(resource) / div for p in front],
                       [p.accuracy or 0.0 for p in front],
                       color=PARETO, s=70, edgecolor="white", linewidth=1.2, zorder=4,
                       label="Pareto-optimal")
            for p in front:
                ax.annotate(f"#{p.number}", (p.value(resource) / div, p.accuracy or 0.0),
                            textcoords="offset points", xytext=(5, 5), fontsize=8,
                            color="#7a2a12")
        limit = limits.of(resource) / div if limits is not None else 0.0
        xs = [p.value(resource) / div for p in trained]
        right = _right_edge(xs, [p.value(resource) / div for p in skipped], limit)
        left, edge = _x_range(ax, xs, right, limit)
        if limit > 0:
            ax.axvline(limit, color=LIMIT, linestyle="--", linewidth=1.3)
            ax.axvspan(limit, edge, color=LIMIT, alpha=0.06, zorder=0)
            ax.text(limit, 1.0, f" limit {limit:,.0f} {unit}",
                    transform=ax.get_xaxis_transform(), color=LIMIT, fontsize=8, va="top",
                    ha="right" if limit > right * 0.8 else "left")
        beyond = [p for p in skipped if p.value(resource) / div > edge]
        if beyond:
            arrow = edge / 1.02 if ax.get_xscale() == "log" else edge * 0.985
            ax.scatter([arrow] * len(beyond), [strip] * len(beyond), marker=">",
                       color=GREY, s=30, clip_on=False)
            ax.annotate(f"{len(beyond)} further right", (arrow, strip),
                        textcoords="offset points", xytext=(-4, 8), fontsize=7.5, color=GREY,
                        ha="right")
        ax.set_xlim(left, edge)
        ax.set_xlabel(f"estimated {label} ({unit})")
        ax.set_ylim(strip - pad if skipped else low - pad, min(1.0 + pad * 0.3, high + pad))
        ticks = [t for t in MaxNLocator(6).tick_values(low, high) if low - pad <= t <= 1.0]
        ax.set_yticks(ticks + ([strip] if skipped else []),
                      [f"{t:.2f}" for t in ticks] + (["not trained"] if skipped else []))
    axes[0].set_ylabel("int8 accuracy (test)")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper center", ncol=4, frameon=False, fontsize=9)
    return _png(fig)


def _right_edge(trained: list[float], skipped: list[float], limit: float) -> float:
    """The x range of a Pareto panel: the trained models and the limit, plus the refused
    candidates unless they lie far beyond (those are drawn as arrows at the edge)."""
    right = max(trained + [limit * 1.3, 1e-9])
    near = [x for x in skipped if x <= right * 1.5]
    return max([right] + near)


def _x_range(ax: Axes, xs: list[float], right: float, limit: float) -> tuple[float, float]:
    """A linear axis from 0, or a log axis when the models sit far below the limit (a linear
    one would crowd them against the left edge)."""
    positive = [x for x in xs + [limit] if x > 0]
    if positive and max(positive) / min(positive) > 20:
        from matplotlib.ticker import FuncFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        return min(positive) / 1.5, right * 1.4
    return 0.0, right * 1.08


def _staircase(ax: Axes, xy: list[tuple[float, float]]) -> None:
    """The two-objective front of one panel: best accuracy reachable within each budget."""
    best = -1.0
    steps: list[tuple[float, float]] = []
    for x, y in sorted(xy):
        if y > best:
            if steps:
                steps.append((x, best))
            steps.append((x, y))
            best = y
    if len(steps) > 1:
        ax.plot([s[0] for s in steps], [s[1] for s in steps], color=PARETO, alpha=0.45,
                linewidth=1.2, linestyle="-", zorder=3)


def hypervolume_png(history: Sequence[tuple[int, float]]) -> bytes:
    """Hypervolume of the feasible models found so far, after each trial."""
    fig, (ax,) = _figure(7.5, 3.4)
    xs = [n for n, _ in history]
    ys = [v for _, v in history]
    ax.step(xs, ys, where="post", color=TRAINED, linewidth=2)
    ax.fill_between(xs, ys, step="post", color=TRAINED, alpha=0.12)
    grew = [(n, v) for i, (n, v) in enumerate(history) if v > (history[i - 1][1] if i else 0.0)]
    ax.scatter([n for n, _ in grew], [v for _, v in grew], color=PARETO, s=30, zorder=3,
               label="a trial that moved the front")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel("hypervolume (share of the limit box)")
    ax.set_ylim(0, max(ys + [0.01]) * 1.15)
    if grew:
        ax.legend(frameon=False, fontsize=9, loc="lower right")
    return _png(fig)


def ram_png(points: Sequence[TrialPoint], limits: Limits | None) -> bytes:
    """Estimated against measured tensor arena, with the line where they agree."""
    fig, (ax,) = _figure(6.2, 4.6)
    measured = [p for p in points if p.attrs.get("measured_arena_bytes")]
    xs = [p.value("ram") / 1024 for p in measured]
    ys = [float(p.attrs["measured_arena_bytes"]) / 1024 for p in measured]
    top = max(xs + ys + [1.0]) * 1.12
    ax.plot([0, top], [0, top], color="#55606e", linewidth=1, label="estimate = measured")
    ax.fill_between([0, top], [0, top * 0.8], [0, top * 1.2], color="#55606e", alpha=0.07,
                    label="within 20 %")
    ax.scatter(xs, ys, s=[70 if p.pareto else 36 for p in measured],
               color=[PARETO if p.pareto else TRAINED for p in measured],
               edgecolor="white", linewidth=0.8, zorder=3)
    for p, x, y in zip(measured, xs, ys, strict=True):
        if p.pareto:
            ax.annotate(f"#{p.number}", (x, y), textcoords="offset points", xytext=(5, -10),
                        fontsize=8, color="#7a2a12")
    if limits is not None and limits.ram / 1024 < top:
        ax.axvline(limits.ram / 1024, color=LIMIT, linestyle="--", linewidth=1.2)
        ax.axhline(limits.ram / 1024, color=LIMIT, linestyle="--", linewidth=1.2,
                   label=f"RAM limit {limits.ram / 1024:,.0f} KB")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    ax.set_xlabel("estimated arena (KB, before training)")
    ax.set_ylabel("measured arena (KB, tflite-micro)")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return _png(fig)


def stages_png(stages: Sequence[dict[str, Any]], title: str) -> bytes:
    """Accuracy, model size and arena at each step of one model's compression pipeline."""
    panels = [("accuracy", "accuracy", 1.0), ("tflite_bytes", ".tflite (KB)", 1024.0),
              ("compressed_bytes", "zlib -9 (KB)", 1024.0), ("arena_bytes", "arena (KB)", 1024.0)]
    panels = [p for p in panels if any(s.get(p[0]) for s in stages)]
    fig, axes = _figure(3.1 * max(1, len(panels)), 3.2, cols=max(1, len(panels)))
    names = [str(s.get("name", i)) for i, s in enumerate(stages)]
    colors = [STAGE_COLORS[i % len(STAGE_COLORS)] for i in range(len(stages))]
    for ax, (key, label, div) in zip(axes, panels, strict=False):
        values = [float(s.get(key) or 0.0) / div for s in stages]
        bars = ax.bar(names, values, color=colors, width=0.65)
        ax.bar_label(bars, labels=[_short(v, key) for v in values], fontsize=8, padding=2)
        ax.set_title(label, fontsize=10)
        ax.set_ylim(0, max(values + [1e-9]) * 1.18)
        ax.grid(axis="x", visible=False)
        ax.tick_params(axis="x", labelsize=8.5)
    fig.suptitle(title, fontsize=11)
    return _png(fig)


def _short(value: float, key: str) -> str:
    if value == 0:
        return "-"
    return f"{value:.3f}" if key == "accuracy" else f"{value:,.1f}"


def budget_png(rows: Sequence[tuple[str, dict[str, float]]]) -> bytes:
    """Share of each board limit a model uses, one group of bars per model."""
    fig, (ax,) = _figure(8.5, 0.9 + 0.75 * max(1, len(rows)))
    height = 0.8 / len(RESOURCES)
    top = 1.0
    for i, (resource, label, _) in enumerate(RESOURCES):
        ys = [r + (i - 1) * height for r in range(len(rows))]
        values = [shares.get(resource, 0.0) * 100 for _, shares in rows]
        top = max([top * 100] + values) / 100
        bars = ax.barh(ys, values, height=height * 0.92, color=COLORS[resource], label=label)
        ax.bar_label(bars, labels=[f"{v:.0f} %" for v in values], fontsize=7.5, padding=2)
    ax.axvline(100, color=LIMIT, linestyle="--", linewidth=1.3)
    ax.text(100, 1.0, " limit", transform=ax.get_xaxis_transform(), color=LIMIT, fontsize=8,
            va="bottom")
    ax.set_yticks(range(len(rows)), [label for label, _ in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, max(110.0, top * 112))
    ax.set_xlabel("share of the board's limit (%)")
    ax.legend(frameon=False, fontsize=8, loc="lower right", ncol=3)
    ax.grid(axis="y", visible=False)
    return _png(fig)
