"""Turning results into the figures of BENCHMARKS.md: hypervolumes, reference verdicts, speed."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tinynas.boards import Board, load_board
from tinynas.hypervolume import (
    OBJECTIVES,
    Point,
    Verdict,
    beats_reference,
    front_hypervolume,
    pareto_front,
)


def trial_point(t: dict[str, Any], accuracy: str = "accuracy_int8") -> Point:
    """A trained trial as a point (``accuracy`` names its accuracy attribute: test by default),
    with the estimate of its converted model where recorded (what the references are measured
    with), else the search's estimate before training."""
    source = "tflite" if "tflite_ram_bytes" in t else "estimated"
    return Point(accuracy=float(t[accuracy]), ram_bytes=int(t[f"{source}_ram_bytes"]),
                 flash_bytes=int(t[f"{source}_flash_bytes"]),
                 latency_ms=float(t[f"{source}_latency_ms"]), label=f"trial {t['number']}")


def selection_key(trained: Sequence[dict[str, Any]]) -> str:
    """The accuracy attribute a search selected its trained trials by: the validation accuracy
    where every one records it, else (searches run before selection moved to validation) the
    test accuracy."""
    if trained and all("accuracy_int8_val" in t for t in trained):
        return "accuracy_int8_val"
    return "accuracy_int8"


def offered_front(trials: Iterable[dict[str, Any]], board: Board,
                  objectives: Sequence[str] = OBJECTIVES, key: str | None = None) -> list[Point]:
    """The models a search offers on ``board``, each with its int8 test accuracy.

    They are the Pareto front of its trained trials that fit (reused trials included: they are
    models the search holds), chosen by the accuracy the search selected on
    (:func:`selection_key`; ``key`` names another attribute to choose by), most accurate by that
    first.
    """
    fitting = [t for t in trials if t.get("state") == "COMPLETE" and t.get("feasible")
               and "accuracy_int8" in t and trial_point(t).fits(board)]
    key = key or selection_key(fitting)
    chosen = [p.label for p in pareto_front([trial_point(t, key) for t in fitting], objectives)]
    tested = {p.label: p for p in map(trial_point, fitting)}
    return [tested[label] for label in chosen]


def reference_point(row: dict[str, Any], board: str) -> Point:
    """A trained reference as a point on ``board``."""
    b = row["boards"][board]
    return Point(accuracy=float(row["accuracy_int8"]), ram_bytes=int(b["ram_bytes"]),
                 flash_bytes=int(b["flash_bytes"]), latency_ms=float(b["latency_ms"]),
                 label=row["reference"])


@dataclass(frozen=True)
class Selection:
    """What choosing on validation accuracy gave a search, read on the test split.

    Attributes:
        chosen_val: Validation accuracy of the model chosen as the most accurate that fits.
        chosen_test: Its test accuracy.
        best_test: The highest test accuracy of any trained model that fits: what a choice on
            the test split would have reported.
        hypervolume_test_chosen: Hypervolume of the front chosen on the test split.
        mean_gap: Validation minus test accuracy, averaged over every trained trial: the part
            of the chosen model's gap that is not the choice (the two splits differ).
    """

    chosen_val: float
    chosen_test: float
    best_test: float
    hypervolume_test_chosen: float
    mean_gap: float


def selection(trials: list[dict[str, Any]], board: Board,
              front: list[Point]) -> Selection | None:
    """:class:`Selection` of a search that chose on validation accuracy, given the front it
    offers (:func:`offered_front`); None otherwise, or when no trained model fits."""
    chosen = next((t for t in trials if front and f"trial {t['number']}" == front[0].label), {})
    if "accuracy_int8_val" not in chosen:
        return None
    by_test = offered_front(trials, board, key="accuracy_int8")
    gaps = [float(t["accuracy_int8_val"]) - float(t["accuracy_int8"]) for t in trials
            if "accuracy_int8_val" in t and "accuracy_int8" in t]
    return Selection(chosen_val=float(chosen["accuracy_int8_val"]),
                     chosen_test=front[0].accuracy, best_test=by_test[0].accuracy,
                     hypervolume_test_chosen=front_hypervolume(by_test, board),
                     mean_gap=statistics.mean(gaps))


@dataclass
class SearchOutcome:
    """One search's figures."""

    seed: int
    sampler: str
    hypervolume: float
    hypervolume_acc_ram: float
    front: list[Point]
    best_accuracy: float | None
    trials: int
    trained: int
    reused: int
    over_limits: int
    failed: int
    not_promoted: int
    wall_s: float
    cpu_s: float
    curve: list[tuple[float, float]] = field(default_factory=list)
    selection: Selection | None = None


def search_outcome(row: dict[str, Any], board: Board) -> SearchOutcome:
    """Hypervolumes, front and counts of one search result row."""
    trials = row["trials"]
    front = offered_front(trials, board)
    complete = [t for t in trials if t.get("state") == "COMPLETE"]
    return SearchOutcome(
        seed=int(row["seed"]), sampler=row["sampler"],
        hypervolume=front_hypervolume(front, board),
        hypervolume_acc_ram=front_hypervolume(
            offered_front(trials, board, ("accuracy", "ram")), board, ("accuracy", "ram")),
        front=front,
        best_accuracy=front[0].accuracy if front else None,
        trials=len(complete),
        trained=sum(1 for t in complete if t.get("trained") and "reused_from" not in t),
        reused=sum(1 for t in complete if "reused_from" in t),
        over_limits=sum(1 for t in complete if not t.get("feasible")),
        failed=sum(1 for t in trials if t.get("state") == "FAIL"),
        not_promoted=sum(1 for t in trials if "not_promoted" in t),
        wall_s=float(row["wall_s"]), cpu_s=float(row["cpu_s"]),
        curve=hypervolume_curve(trials, board), selection=selection(trials, board, front))


def hypervolume_curve(trials: list[dict[str, Any]], board: Board) -> list[tuple[float, float]]:
    """``(CPU seconds so far, hypervolume so far)`` after each trial, in trial order."""
    curve, cpu, seen = [], 0.0, []
    for t in sorted(trials, key=lambda t: t["number"]):
        cpu += float(t.get("cpu_s") or 0.0)
        seen.append(t)
        curve.append((cpu, front_hypervolume(offered_front(seen, board), board)))
    return curve


def median(values: Iterable[float]) -> float | None:
    """The median, or None for no values."""
    values = list(values)
    return statistics.median(values) if values else None


@dataclass
class Cell:
    """Every result of one dataset on one board at one setting."""

    setting: str
    dataset: str
    board: Board
    searches: dict[str, list[SearchOutcome]]
    references: dict[str, list[dict[str, Any]]]

    def verdicts(self, sampler: str = "nsga2") -> dict[str, list[tuple[int, Verdict, Point]]]:
        """Per reference: ``(seed, verdict, reference point)`` for each seed both ran."""
        fronts = {o.seed: o.front for o in self.searches.get(sampler, [])}
        out: dict[str, list[tuple[int, Verdict, Point]]] = {}
        for name, rows in self.references.items():
            for row in rows:
                if row["seed"] in fronts:
                    ref = reference_point(row, self.board.name)
                    out.setdefault(name, []).append(
                        (row["seed"], beats_reference(fronts[row["seed"]], ref), ref))
        return out


def cells(results: dict[str, dict[str, Any]]) -> list[Cell]:
    """Group result rows by setting, dataset and board, in the order they were run."""
    searches: dict[tuple[str, str, str], dict[str, list[SearchOutcome]]] = defaultdict(
        lambda: defaultdict(list))
    refs: dict[tuple[int, str], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list))
    boards: dict[str, Board] = {}
    for key, row in results.items():
        if "error" in row:
            continue
        if row["kind"] == "reference":
            refs[(int(key.split("/")[1][1:]), row["dataset"])][row["reference"]].append(row)
            continue
        board = boards.setdefault(row["board"], load_board(row["board"]))
        setting = key.split("/")[1]
        searches[(setting, row["dataset"], row["board"])][row["sampler"]].append(
            search_outcome(row, board))
    out = []
    for (setting, dataset, board), by_sampler in searches.items():
        epochs = int(setting.split("-e")[1].split("-")[0])
        for outcomes in by_sampler.values():
            outcomes.sort(key=lambda o: o.seed)
        out.append(Cell(setting, dataset, boards[board], dict(by_sampler),
                        {k: sorted(v, key=lambda r: r["seed"])
                         for k, v in refs.get((epochs, dataset), {}).items()}))
    return out
