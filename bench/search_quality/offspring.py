"""What the searches' trials added to their fronts, and how well accuracy was predictable before
training, read back from the study databases a grid left in its work directory.

For every study: how many of its trials after the warm start enlarged the hypervolume of the
trained front as it stood when they finished (a repeated or dominated model adds nothing), and,
for each such trial trained from scratch, the accuracy :class:`tinynas.surrogate.AccuracyModel`
predicts from the distinct models trained before it: what NSGA-II's chooser saw when it bred the
trial (:mod:`tinynas.surrogate`), replayed whichever sampler ran.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StudyFacts:
    """One study's trials after the warm start.

    Attributes:
        dataset: The study's dataset argument.
        board: Board name.
        sampler: The study's sampler.
        seed: The study's seed.
        trials: Trials after the warm start.
        enlarged: Of those, how many enlarged the hypervolume of the trained front.
        drawn: Of those, how many trained a model the chooser took among models drawn at random
            from the whole space rather than among bred children (``offspring:drawn``).
        drawn_enlarged: Of the ``drawn`` trials, how many enlarged the front.
        predicted: (predicted, actual) int8 accuracy of each trial trained from scratch once
            enough distinct models were trained before it.
    """

    dataset: str
    board: str
    sampler: str
    seed: int
    trials: int
    enlarged: int
    predicted: tuple[tuple[float, float], ...]
    drawn: int = 0
    drawn_enlarged: int = 0


def study_facts(db: Path) -> StudyFacts:
    """Read one study database (``sqlite``) back."""
    import optuna
    from optuna.trial import TrialState

    from tinynas.boards import Board
    from tinynas.hypervolume import front_hypervolume
    from tinynas.pipeline import ChildEstimates, stored_profile, stored_space_ref
    from tinynas.spaces import load_space
    from tinynas.study import objective_attr
    from tinynas.surrogate import MIN_TRAINED, AccuracyModel, FrontChooser

    storage = f"sqlite:///{db}"
    name = optuna.study.get_all_study_names(storage)[0]
    study = optuna.load_study(study_name=name, storage=storage)
    attrs = study.user_attrs
    board = Board.from_dict(attrs["board"])
    children = ChildEstimates(load_space(stored_space_ref(attrs)), board,
                              tuple(attrs["input_shape"]), len(attrs["class_names"]),
                              stored_profile(attrs))
    chooser = FrontChooser(children.describe, board, attrs["objectives"])
    selected = objective_attr("accuracy", attrs)
    finished = sorted((t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                       if "skipped" not in t.user_attrs),
                      key=lambda t: t.datetime_complete or t.datetime_start)
    front: list[Any] = []
    volume = 0.0
    trials = enlarged = drawn = drawn_enlarged = 0
    predicted = []
    for t in finished:
        candidate = children.describe(t.params)
        accuracy = t.user_attrs.get(selected)
        point = (replace(candidate.point, accuracy=float(accuracy))
                 if candidate is not None and accuracy is not None else None)
        if not t.user_attrs.get("warm_start"):
            trials += 1
            was_drawn = bool(t.system_attrs.get("offspring:drawn"))
            drawn += was_drawn
            if point is not None and front_hypervolume([*front, point], board) > volume:
                enlarged += 1
                drawn_enlarged += was_drawn
            trained = chooser.trained(study, before=t.number)
            if (point is not None and candidate is not None and "reused_from" not in t.user_attrs
                    and len(trained) >= MIN_TRAINED):
                model = AccuracyModel([c.features for c, _ in trained], [a for _, a in trained])
                mean, _ = model.predict([candidate.features])
                predicted.append((float(mean[0]), float(accuracy)))
        if point is not None:
            front.append(point)
            volume = front_hypervolume(front, board)
    return StudyFacts(dataset=attrs["dataset"], board=board.name, sampler=attrs["sampler"],
                      seed=int(attrs["seed"]), trials=trials, enlarged=enlarged,
                      predicted=tuple(predicted), drawn=drawn, drawn_enlarged=drawn_enlarged)


def offspring_table(facts: list[StudyFacts]) -> str:
    """Markdown: per dataset, board and sampler, the trials that enlarged the front and how well
    accuracy was predicted (Pearson r over the pooled seeds, mean absolute error)."""
    groups: dict[tuple[str, str, str], list[StudyFacts]] = defaultdict(list)
    for f in facts:
        groups[(f.dataset, f.board, f.sampler)].append(f)
    lines = ["| dataset | board | sampler | seeds | trials after the warm start that enlarged "
             "the front | models drawn at random that enlarged it | predicted accuracies | "
             "Pearson r | mean absolute error |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (dataset, board, sampler), group in sorted(groups.items()):
        pairs = [p for f in group for p in f.predicted]
        r = (f"{np.corrcoef([p for p, _ in pairs], [a for _, a in pairs])[0, 1]:.2f}"
             if len(pairs) > 2 else "-")
        mae = f"{statistics.fmean(abs(p - a) for p, a in pairs):.3f}" if pairs else "-"
        lines.append(f"| {dataset} | {board} | {sampler} | "
                     f"{','.join(str(f.seed) for f in sorted(group, key=lambda f: f.seed))} | "
                     f"{sum(f.enlarged for f in group)} of {sum(f.trials for f in group)} | "
                     f"{sum(f.drawn_enlarged for f in group)} of {sum(f.drawn for f in group)} | "
                     f"{len(pairs)} | {r} | {mae} |")
    return "\n".join(lines)


def workdir_facts(workdirs: list[Path]) -> list[StudyFacts]:
    """The facts of every search study under ``workdirs`` (``*/study.db``)."""
    return [study_facts(db) for w in workdirs for db in sorted(w.glob("search_*/study.db"))]
