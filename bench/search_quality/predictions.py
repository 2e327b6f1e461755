"""How well accuracy models predict a search's int8 accuracies before training, replayed from
results files.

Each search of a results file is replayed in trial order: every trial after the warm start that
was trained from scratch is predicted by an accuracy model fitted on the distinct models
trained before it (once :data:`tinynas.surrogate.MIN_TRAINED` are), which is what NSGA-II's
chooser (:mod:`tinynas.surrogate`) had to go on when it bred that trial. The features are the
chooser's (:func:`tinynas.surrogate.model_features`): the estimate's MACs, parameters and arena
as each trial recorded them, and the compression settings read back from the trial's
compression summary (``qat, channel 60%, 16 clusters``; its sparsity is rounded to a percent).

Random search's trials can be replayed too: they are not chosen by the model, so they say how
it predicts over the whole space rather than among NSGA-II's children.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.search_quality.summary import selection_key

if TYPE_CHECKING:
    from tinynas.spaces import Compression

#: The accuracy models compared: name -> keyword arguments of
#: :class:`tinynas.surrogate.AccuracyModel`.
PREDICTORS: dict[str, dict[str, bool]] = {
    "accuracy GP": {"logit_scale": False, "trend": False},
    "logit trend + GP": {"logit_scale": True, "trend": True},
}

_PRUNING = re.compile(r"^(unstructured|channel|2:4) (\d+)%$")
_CLUSTERS = re.compile(r"^(\d+) clusters$")


def compression_of(summary: str) -> Compression:
    """The :class:`tinynas.spaces.Compression` a compression summary stands for.

    Raises:
        ValueError: A part of the summary is not one :meth:`Compression.summary` writes.
    """
    from tinynas.errors import SearchSpaceError
    from tinynas.spaces import Compression

    quantization, *parts = [p.strip() for p in summary.split(",")]
    settings: dict[str, Any] = {"quantization": quantization}
    for part in parts:
        pruning, clusters = _PRUNING.match(part), _CLUSTERS.match(part)
        if pruning:
            settings.update(pruning=pruning.group(1), sparsity=int(pruning.group(2)) / 100)
        elif clusters:
            settings["clusters"] = int(clusters.group(1))
        elif part == "distilled":
            settings["distillation"] = True
        else:
            raise ValueError(f"compression summary {summary!r}: unknown part {part!r}")
    try:
        return Compression(**settings)
    except SearchSpaceError as exc:
        raise ValueError(f"compression summary {summary!r}: {exc}") from exc


def trial_features(trial: Mapping[str, Any]) -> tuple[float, ...]:
    """The chooser's features of one trial record of a results file."""
    from types import SimpleNamespace

    from tinynas.surrogate import model_features

    estimate = SimpleNamespace(macs=int(trial["macs"]), params=int(trial["params"]),
                               arena_bytes=int(trial["estimated_ram_bytes"]))
    return model_features(estimate, compression_of(str(trial["compression_summary"])))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Replayed:
    """The predictions of one accuracy model over one search.

    Attributes:
        dataset: The search's dataset argument.
        sampler: The search's sampler.
        predictor: The accuracy model's name (:data:`PREDICTORS`).
        pairs: (predicted, measured) int8 accuracy of each trial predicted.
    """

    dataset: str
    sampler: str
    predictor: str
    pairs: tuple[tuple[float, float], ...]


def replay_search(row: Mapping[str, Any], predictor: str) -> Replayed:
    """Replay one search result row with the accuracy model named ``predictor``, on the
    accuracy the search selected on (:func:`~bench.search_quality.summary.selection_key`)."""
    from tinynas.surrogate import MIN_TRAINED, AccuracyModel

    trials = sorted((t for t in row["trials"]
                     if t.get("state") == "COMPLETE" and "accuracy_int8" in t and "macs" in t),
                    key=lambda t: int(t["number"]))
    trained: list[tuple[tuple[float, ...], float]] = []
    pairs = []
    key = selection_key(trials)
    for t in trials:
        if "reused_from" in t:
            continue
        features, accuracy = trial_features(t), float(t[key])
        if not t.get("warm_start") and len(trained) >= MIN_TRAINED:
            model = AccuracyModel([f for f, _ in trained], [a for _, a in trained],
                                  **PREDICTORS[predictor])
            predicted, _ = model.predict([features])
            pairs.append((float(predicted[0]), accuracy))
        trained.append((features, accuracy))
    return Replayed(dataset=str(row["dataset"]), sampler=str(row["sampler"]),
                    predictor=predictor, pairs=tuple(pairs))


def replay(results: Mapping[str, Mapping[str, Any]], samplers: Sequence[str],
           space: str | None = None) -> list[Replayed]:
    """Replay every search of ``results`` run by one of ``samplers`` (and in ``space``, when
    given) with every model of :data:`PREDICTORS`."""
    rows = [r for r in results.values() if r.get("kind") == "search"
            and r.get("sampler") in samplers and (space is None or r.get("space") == space)]
    return [replay_search(r, name) for name in PREDICTORS for r in rows]


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks of ``values`` (ties share their mean rank)."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(values), dtype=float)


def predictions_table(replayed: Iterable[Replayed]) -> str:
    """Markdown: per dataset and sampler, each accuracy model's Pearson r, Spearman rank
    correlation and mean absolute error over the pooled searches."""
    groups: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    searches: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in replayed:
        groups[(r.dataset, r.sampler, r.predictor)] += r.pairs
        searches[(r.dataset, r.sampler, r.predictor)] += 1
    lines = ["| dataset | sampler | searches | trials predicted | accuracy model | Pearson r | "
             "Spearman rank correlation | mean absolute error |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (dataset, sampler, predictor), pairs in sorted(groups.items()):
        predicted = np.array([p for p, _ in pairs])
        measured = np.array([a for _, a in pairs])
        enough = len(pairs) > 2 and predicted.std() > 0 and measured.std() > 0
        pearson = f"{np.corrcoef(predicted, measured)[0, 1]:.2f}" if enough else "-"
        spearman = (f"{np.corrcoef(_ranks(predicted), _ranks(measured))[0, 1]:.2f}"
                    if enough else "-")
        mae = f"{statistics.fmean(abs(p - a) for p, a in pairs):.3f}" if pairs else "-"
        lines.append(f"| {dataset} | {sampler} | {searches[(dataset, sampler, predictor)]} | "
                     f"{len(pairs)} | {predictor} | {pearson} | {spearman} | {mae} |")
    return "\n".join(lines)
