"""The study report: pipeline, Pareto front, progress, RAM check, compression steps, headroom."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinynas import study as studies
from tinynas.errors import ExportError
from tinynas.report import _format as fmt
from tinynas.report import _plots
from tinynas.report._doc import (
    Cards,
    Document,
    Figure,
    Heading,
    Paragraph,
    Pipeline,
    Step,
    Table,
    to_html,
    to_markdown,
)
from tinynas.report._facts import RESOURCES, StudyFacts, TrialPoint, study_facts, usage
from tinynas.report._trial import architecture, stages_table

if TYPE_CHECKING:
    import optuna

#: How many Pareto models get their own before/after table.
CHOSEN_MODELS = 5
FIGURES_DIR = "figures"


def study_document(study: optuna.Study) -> Document:
    """Build the report of ``study`` (figures rendered, nothing written)."""
    facts = study_facts(study)
    board = facts.attrs.get("board") or {}
    doc = Document(f"Study {facts.name}",
                   f"{facts.attrs.get('space', '?')} on {facts.attrs.get('dataset', '?')} for "
                   f"{board.get('name', 'no board')}: {len(facts.points)} trials, "
                   f"{len(facts.trained)} trained, {len(facts.pareto)} Pareto-optimal")
    doc.add(_cards(facts), Heading("Pipeline"), _pipeline(facts))
    _pareto_section(doc, facts)
    _headroom_section(doc, facts)
    _progress_section(doc, facts)
    _ram_section(doc, facts)
    _stages_section(doc, facts)
    _trials_section(doc, facts)
    return doc


def write_report(study: optuna.Study, out_dir: Path) -> list[Path]:
    """Write ``report.html``, ``report.md`` and their PNG figures for a study.

    Every file is written through a temporary file and a rename; the HTML page comes last, so
    a complete page means a complete report.

    Args:
        study: The study.
        out_dir: The folder to write into (created if missing).

    Returns:
        The written paths, figures first.

    Raises:
        ExportError: ``out_dir`` cannot be created or written.
    """
    doc = study_document(study)
    files: list[tuple[Path, bytes | str]] = [
        (out_dir / FIGURES_DIR / fig.name, fig.png) for fig in doc.figures]
    files.append((out_dir / "report.md", to_markdown(doc, image_dir=f"{FIGURES_DIR}/")))
    files.append((out_dir / "report.html", to_html(doc, image_dir=f"{FIGURES_DIR}/")))
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"--out {out_dir}: exists and is not a folder")
    try:
        for path, data in files:
            studies.atomic_write(path, data)
    except OSError as exc:
        raise ExportError(f"--out {out_dir}: cannot write {exc.filename or out_dir}: "
                          f"{exc.strerror}") from None
    return [path for path, _ in files]


def _best_note(facts: StudyFacts) -> str:
    best = facts.best
    if best is None:
        return "no feasible model yet"
    if facts.split == "validation":
        return f"trial {best.number}, on test; validation {fmt.acc(best.accuracy)}"
    return f"trial {best.number}"


def _cards(facts: StudyFacts) -> Cards:
    best = facts.best
    over = sum(1 for p in facts.points if not p.feasible)
    items = [("trials", fmt.count(len(facts.points)),
              f"{fmt.count(facts.failed)} failed" if facts.failed else "complete"),
             ("trained", fmt.count(len(facts.trained)), f"{over} over the board limits"),
             ("Pareto-optimal", fmt.count(len(facts.pareto)), "feasible, not dominated"),
             ("best int8 accuracy", fmt.acc(best.test_accuracy) if best else "-",
              _best_note(facts))]
    if best is not None and facts.limits is not None:
        shares = usage(best.attrs, facts.limits)
        items.append(("its RAM", fmt.kb(best.value("ram")),
                      f"{fmt.share(shares.get('ram', 0.0))} of {fmt.kb(facts.limits.ram)}"))
    if facts.hypervolume:
        items.append(("hypervolume", f"{facts.hypervolume[-1][1]:.3f}", "share of the limit box"))
    return Cards(tuple(items))


def _summary(mapping: dict[str, Any], limit: int = 4) -> str:
    """``key=value`` pairs of a JSON-ready dict, long lists shortened."""
    parts = []
    for key, value in list(mapping.items())[:limit]:
        if isinstance(value, list):
            value = f"[{len(value)} values]" if len(value) > 3 else value
        elif isinstance(value, dict):
            value = "{…}"
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _pipeline(facts: StudyFacts) -> Pipeline:
    a = facts.attrs
    best = facts.best
    trained = facts.trained
    split = a.get("split_sizes") or []
    dataset = [str(a.get("dataset_name") or a.get("dataset", "?")), str(a.get("modality", "?"))]
    if len(split) == 3:
        dataset.append("train / val / test: " + " / ".join(fmt.count(n) for n in split))
    if a.get("data_shape"):
        dataset.append(f"sample shape {tuple(a['data_shape'])}")
    dataset.append(f"{len(a.get('class_names') or [])} classes")

    pre = a.get("preprocessing") or {}
    norm = pre.get("normalization") or {}
    preprocessing = []
    if norm:
        channels = len(norm.get("mean") or [])
        preprocessing.append(f"{norm.get('formula', 'normalized')}, fitted on the training split"
                             + (f" ({channels} channel{'s' if channels != 1 else ''})"
                                if channels else ""))
    for key in ("features", "window"):
        if isinstance(pre.get(key), dict):
            preprocessing.append(f"{key}: {_summary(pre[key])}")
    if isinstance(pre.get("split"), dict):
        preprocessing.append(f"{pre['split'].get('method', '')} split, seed "
                             f"{pre['split'].get('seed', '?')}".strip())
    if a.get("input_shape"):
        preprocessing.append(f"model input {tuple(a['input_shape'])}")

    epochs = [int(p.attrs["epochs"]) for p in trained if "epochs" in p.attrs]
    seconds = sum(float(p.attrs.get("train_seconds", 0.0)) for p in trained
                  if "reused_from" not in p.attrs)
    training = [f"space {a.get('space', '?')} ({a.get('space_family', '?')})",
                f"{len(trained)} of {len(facts.points)} trials trained",
                f"sampler {a.get('sampler', '?')}, seed {a.get('seed', '?')}"]
    if epochs:
        training.append(f"epochs {min(epochs)}–{max(epochs)}" if min(epochs) != max(epochs)
                        else f"{epochs[0]} epochs")
    training.append(f"{seconds:,.0f} s of training")

    modes = Counter(str(p.attrs.get("compression", {}).get("quantization", "?")).upper()
                    for p in trained)
    prunings = Counter(str(p.attrs.get("compression", {}).get("pruning", "none"))
                       for p in trained)
    quantization = ["full int8 (weights, activations, input, output)"]
    if modes:
        quantization.append(", ".join(f"{k} {v}" for k, v in sorted(modes.items())))
    pruned = {k: v for k, v in prunings.items() if k != "none"}
    if pruned:
        quantization.append("pruned: " + ", ".join(f"{k} {v}" for k, v in sorted(pruned.items())))
    if best is not None and "accuracy_float" in best.attrs:
        quantization.append(f"best: float {fmt.acc(best.attrs['accuracy_float'])} → int8 "
                            f"{fmt.acc(best.test_accuracy)}")

    sizes = [int(p.attrs["tflite_bytes"]) for p in trained if p.attrs.get("tflite_bytes")]
    conversion = ["TFLite flatbuffer, batch 1, normalized"]
    if sizes:
        conversion.append(f".tflite {fmt.kb(min(sizes))} to {fmt.kb(max(sizes))}")
    if best is not None:
        conversion.append(f"best: {fmt.kb(best.attrs.get('tflite_bytes'))}, measured arena "
                          f"{fmt.kb(best.attrs.get('measured_arena_bytes'))}")

    board = a.get("board") or {}
    deployment = [f"{board.get('name', '?')}: {board.get('core', '?')} at "
                  f"{board.get('clock_mhz', '?')} MHz"]
    if facts.limits is not None:
        lim = facts.limits
        deployment.append(f"limits: RAM {fmt.kb(lim.ram)}, flash {fmt.kb(lim.flash)}, "
                          f"latency {fmt.ms(lim.latency)}")
        if best is not None:
            shares = usage(best.attrs, lim)
            deployment.append("best uses " + ", ".join(
                f"{label} {fmt.share(shares[name])}" for name, label, _ in RESOURCES
                if name in shares))
    return Pipeline((Step("Dataset", tuple(dataset)),
                     Step("Preprocessing", tuple(preprocessing or ["none recorded"])),
                     Step("Training", tuple(training)),
                     Step("Quantization", tuple(quantization)),
                     Step("Conversion", tuple(conversion)),
                     Step("Deployment", tuple(deployment))))


def _model_row(p: TrialPoint) -> tuple[str, ...]:
    return (str(p.number), fmt.acc(p.test_accuracy), fmt.acc(p.attrs.get("accuracy_int8_val")),
            fmt.acc(p.attrs.get("accuracy_float")),
            fmt.kb(p.value("ram")), fmt.kb(p.value("flash")), fmt.ms(p.value("latency")),
            fmt.count(p.attrs.get("macs")), fmt.count(p.attrs.get("params")),
            architecture(p.attrs))


MODEL_HEADER = ("trial", "int8 acc", "int8 val acc", "float acc", "RAM", "flash", "latency",
                "MACs", "params", "architecture")


def _pareto_section(doc: Document, facts: StudyFacts) -> None:
    doc.add(Heading("Pareto front"))
    if not facts.points:
        doc.add(Paragraph("The study has no finished trial yet."))
        return
    doc.add(Figure("pareto.png", _plots.pareto_png(facts.points, facts.limits),
                   f"int8 accuracy on the {facts.selection} (what the search selects on) "
                   "against estimated RAM, flash and latency. Red: Pareto-optimal "
                   "models (over all objectives); blue: other trained models; grey crosses: "
                   "candidates over a board limit, refused before training; dashed lines: the "
                   "board's limits."))
    if facts.pareto:
        doc.add(Table(MODEL_HEADER, [_model_row(p) for p in facts.pareto],
                      "Feasible models no other feasible model beats on every objective. "
                      "int8 acc: on the test split, which no choice of the search has seen."
                      if facts.split == "validation" else
                      "Feasible models no other feasible model beats on every objective."))
    else:
        doc.add(Paragraph("No trained model fits the board yet."))


def _headroom_section(doc: Document, facts: StudyFacts) -> None:
    if facts.limits is None:
        return
    lim = facts.limits
    doc.add(Heading(f"Board limits and headroom ({lim.board})"))
    board = facts.attrs.get("board") or {}
    doc.add(Table(("resource", "board", "kept for the application", "model limit"), [
        ("RAM", fmt.kb(board.get("ram_bytes")), fmt.kb(board.get("ram_reserve_bytes", 0)),
         fmt.kb(lim.ram)),
        ("flash", fmt.kb(board.get("flash_bytes")), fmt.kb(board.get("flash_reserve_bytes", 0)),
         fmt.kb(lim.flash)),
        ("latency", "-", "-", fmt.ms(lim.latency))]))
    if not facts.pareto:
        return
    rows = []
    for p in facts.pareto:
        row = [str(p.number), fmt.acc(p.test_accuracy)]
        for name, _, unit in RESOURCES:
            row.append(fmt.headroom(p.value(name), lim.of(name), unit))
        rows.append(tuple(row))
    doc.add(Table(("trial", "int8 acc", "RAM headroom", "flash headroom", "latency headroom"),
                  rows, "What each Pareto model leaves free under the limits (estimated)."),
            Figure("headroom.png", _plots.budget_png(
                [(f"#{p.number} · {fmt.acc(p.test_accuracy)}", usage(p.attrs, lim))
                 for p in facts.pareto]),
                "Share of each limit the Pareto models use; the dashed line is the limit."))


def _progress_section(doc: Document, facts: StudyFacts) -> None:
    if not facts.hypervolume:
        return
    doc.add(Heading("Search progress"),
            Figure("hypervolume.png", _plots.hypervolume_png(facts.hypervolume),
                   "Hypervolume after each trial: the share of the box from (accuracy 0, every "
                   "limit) to (accuracy 1, nothing used) that the feasible models dominate, "
                   f"with their int8 accuracy on the {facts.selection}."))
    first = next((n for n, v in facts.hypervolume if v >= facts.hypervolume[-1][1] - 1e-12), None)
    if facts.hypervolume[-1][1] > 0 and first is not None:
        doc.add(Paragraph(f"Final hypervolume {facts.hypervolume[-1][1]:.4f}, reached at trial "
                          f"{first} of {facts.hypervolume[-1][0]}.", muted=True))


def _ram_section(doc: Document, facts: StudyFacts) -> None:
    measured = [p for p in facts.trained if p.attrs.get("measured_arena_bytes")]
    if not measured:
        return
    ratios = [p.value("ram") / float(p.attrs["measured_arena_bytes"]) for p in measured]
    errors = [abs(r - 1.0) for r in ratios]
    doc.add(Heading("Estimated against measured RAM"),
            Figure("ram.png", _plots.ram_png(measured, facts.limits),
                   "Tensor arena estimated before training against the arena tflite-micro "
                   "recorded for the converted model."),
            Table(("models", "median estimate / measured", "median error", "largest error"),
                  [(str(len(measured)), f"{statistics.median(ratios):.3f}",
                    f"{statistics.median(errors) * 100:.1f} %", f"{max(errors) * 100:.1f} %")]),
            Paragraph("Measured on the host (64-bit tflite-micro, allocation recording); the "
                      "recording is a lower bound of the arena that works.", muted=True))


def _stages_section(doc: Document, facts: StudyFacts) -> None:
    chosen = [p for p in facts.pareto if p.attrs.get("stages")][:CHOSEN_MODELS]
    if not chosen:
        return
    doc.add(Heading("Before and after compression"),
            Paragraph("Each chosen model through the pipeline: the float model, post-training "
                      "or quantization-aware int8, and the pruned or clustered variants."))
    best = chosen[0]
    doc.add(Figure("stages.png", _plots.stages_png(best.attrs["stages"],
                                                    f"trial {best.number} (most accurate)"),
                   f"Accuracy and size at each step for trial {best.number}."))
    for p in chosen:
        doc.add(Heading(f"Trial {p.number}: {architecture(p.attrs)}", level=3),
                stages_table(p.attrs["stages"]))


def _trials_section(doc: Document, facts: StudyFacts) -> None:
    if not facts.points:
        return
    rows = []
    for p in facts.points:
        status = ("Pareto" if p.pareto else "trained" if p.trained else
                  "over limits" if not p.feasible else "not trained")
        rows.append((str(p.number), status, fmt.acc(p.test_accuracy), fmt.kb(p.value("ram")),
                     fmt.kb(p.value("flash")), fmt.ms(p.value("latency")),
                     architecture(p.attrs)))
    doc.add(Heading("All trials"),
            Table(("trial", "status", "int8 acc", "RAM", "flash", "latency", "architecture"),
                  rows))
