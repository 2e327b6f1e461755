"""The per-trial report and plots, stored as the trial's artifacts for optuna-dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tinynas import study as studies
from tinynas.errors import StudyError
from tinynas.folds import fold_summary
from tinynas.report import _format as fmt
from tinynas.report import _plots
from tinynas.report._doc import (
    Cards,
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
    to_html,
    to_markdown,
)
from tinynas.report._facts import RESOURCES, Limits, board_limits, resource_value, usage

if TYPE_CHECKING:
    import optuna

#: Artifact file names a trial's report is stored under.
REPORT_HTML = "report.html"
REPORT_MD = "report.md"
STAGES_PNG = "stages.png"
BUDGET_PNG = "budget.png"

STAGE_HEADER = ("stage", "accuracy", ".tflite", "zlib -9", "sparsity", "epochs", "arena",
                "flash", "latency", "MACs")


def stages_table(stages: Sequence[dict[str, Any]], caption: str = "") -> Table:
    """The before/after table: one row per step of the compression pipeline."""
    rows = [(str(s.get("name", "?")), fmt.acc(s.get("accuracy")), fmt.kb(s.get("tflite_bytes")),
             fmt.kb(s.get("compressed_bytes")),
             fmt.share(float(s["sparsity"])) if s.get("sparsity") is not None else "-",
             str(s["epochs"]) if s.get("epochs") is not None else "-",
             fmt.kb(s.get("arena_bytes")), fmt.kb(s.get("flash_bytes")),
             fmt.ms(s.get("latency_ms")),
             fmt.count(s.get("macs")))
            for s in stages]
    return Table(STAGE_HEADER, rows, caption)


def limits_table(attrs: dict[str, Any], limits: Limits) -> Table:
    """Estimated use of each limited resource, the limit and what is left."""
    rows = []
    for name, label, unit in RESOURCES:
        used, limit = resource_value(attrs, name), limits.of(name)
        rows.append((label, fmt.amount(used, unit), fmt.amount(limit, unit),
                     fmt.share(used / limit) if limit else "-", fmt.headroom(used, limit, unit)))
    return Table(("resource", "estimated", "limit", "used", "headroom"), rows)


def architecture(attrs: dict[str, Any]) -> str:
    """The architecture summary with its compression, as the Pareto table prints it."""
    text = str(attrs.get("arch_summary") or attrs.get("arch", {}).get("space", "?"))
    if attrs.get("compression_summary"):
        text += f" [{attrs['compression_summary']}]"
    return text


def expectation(system_attrs: dict[str, Any]) -> str | None:
    """What the sampler expected of the trial's model before training, from the
    ``offspring:*`` system attributes (None when it chose without a prediction)."""
    if "offspring:predicted_accuracy" not in system_attrs:
        return None
    drawn = system_attrs.get("offspring:drawn")
    origin = ("" if drawn is None else " (drawn at random from the whole space)" if drawn
              else " (bred from its parents)")
    return (f"{fmt.acc(system_attrs['offspring:predicted_accuracy'])} int8 accuracy "
            f"(standard deviation {fmt.acc(system_attrs.get('offspring:predicted_std'))}), "
            f"chosen among {system_attrs.get('offspring:children', '?')} children{origin}")


def trial_document(study_name: str, study_attrs: dict[str, Any], number: int,
                   attrs: dict[str, Any], feasible: bool,
                   expected: str | None = None) -> Document:
    """The report of one trial: its model, its use of the board, and its compression steps.

    Args:
        study_name: The study's name.
        study_attrs: The study's user attributes (board, dataset).
        number: The trial number.
        attrs: The trial's user attributes.
        feasible: Whether the trial meets every board limit.
        expected: What the sampler predicted before training (:func:`expectation`).
    """
    limits = board_limits(study_attrs)
    doc = Document(f"Trial {number} of {study_name}", architecture(attrs))
    cards = [("int8 accuracy", fmt.acc(attrs.get("accuracy_int8")),
              f"float {fmt.acc(attrs.get('accuracy_float'))}" if "accuracy_float" in attrs
              else "not trained")]
    if "accuracy_int8_val" in attrs:
        folds = fold_summary(attrs)
        cards.append(("int8 validation accuracy", fmt.acc(attrs["accuracy_int8_val"]),
                      "what the search selects on" + (f" ({folds})" if folds else "")))
    shares = usage(attrs, limits) if limits else {}
    for name, label, unit in RESOURCES:
        note = f"{fmt.share(shares[name])} of the limit" if name in shares else ""
        cards.append((f"estimated {label}", fmt.amount(resource_value(attrs, name), unit), note))
    doc.add(Cards(tuple(cards)))
    if "accuracy_int8" not in attrs:
        why = attrs.get("fail_reason") or ("it breaks the board limits, so it was not trained"
                                           if not feasible else "it was not trained")
        doc.add(Paragraph(f"No model: {why}."))
    doc.add(Heading("Model"), Table(("", ""), [
        ("architecture", str(attrs.get("arch_summary", "-"))),
        ("compression", str(attrs.get("compression_summary", "-"))),
        ("MACs", fmt.count(attrs.get("macs"))),
        ("parameters", fmt.count(attrs.get("params"))),
        (".tflite size", fmt.kb(attrs.get("tflite_bytes"))),
        ("measured arena (tflite-micro)", fmt.kb(attrs.get("measured_arena_bytes"))),
        ("epochs", str(attrs.get("epochs", "-"))),
        ("training time", f"{attrs['train_seconds']:.1f} s" if "train_seconds" in attrs else "-"),
    ] + ([("reused from", f"trial {attrs['reused_from']}")] if "reused_from" in attrs else [])
      + ([("predicted before training", expected)] if expected else [])))
    if limits is not None:
        doc.add(Heading(f"Board limits ({limits.board})"), limits_table(attrs, limits),
                Figure(BUDGET_PNG, _plots.budget_png([(f"trial {number}", shares)]),
                       "Share of each board limit this model uses (estimated)."))
    stages = attrs.get("stages") or []
    if stages:
        doc.add(Heading("Compression steps"), stages_table(stages),
                Figure(STAGES_PNG, _plots.stages_png(stages, f"trial {number}"),
                       "Accuracy and size after each step (int8 steps measured on the test "
                       "split)."))
    return doc


def trial_artifacts(study: optuna.Study,
                    trial: optuna.Trial | optuna.trial.FrozenTrial) -> list[str]:
    """Render a trial's report (HTML and Markdown) and plots, and store them as its artifacts.

    optuna-dashboard shows them on the trial's page: the PNGs inline, the reports to open or
    download. Call it inside the objective once the trial has its results and before it
    returns (the search calls it after each trained trial); calling it again stores a second
    copy.

    Args:
        study: The trial's study (its ``artifact_dir`` user attribute names the store).
        trial: A running trial (inside the objective) or a finished one.

    Returns:
        The artifact ids, in the order report.html, report.md, then the PNGs.

    Raises:
        StudyError: The trial is finished (Optuna stores artifacts of running trials only).
    """
    from optuna.trial import FrozenTrial

    if isinstance(trial, FrozenTrial) and trial.state.is_finished():
        raise StudyError(f"trial {trial.number} of study {study.study_name!r} is "
                         f"{trial.state.name.lower()}; artifacts can only be added while it runs")
    constraints = trial.constraints.values()
    feasible = bool(constraints) and all(v <= 0 for v in constraints)
    system_attrs = study._storage.get_trial_system_attrs(trial._trial_id)
    doc = trial_document(study.study_name, dict(study.user_attrs), trial.number,
                         dict(trial.user_attrs), feasible, expectation(system_attrs))
    ids = [studies.upload_bytes(study, trial, REPORT_HTML, to_html(doc, embed=True).encode(),
                                "text/html"),
           studies.upload_bytes(study, trial, REPORT_MD, to_markdown(doc).encode(),
                                "text/markdown")]
    for fig in doc.figures:
        ids.append(studies.upload_bytes(study, trial, fig.name, fig.png, "image/png"))
    return ids

