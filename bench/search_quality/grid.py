"""The benchmark grid: which searches and reference trainings to run, in which order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from bench.search_quality.repeats import RepeatJob

#: The space each dataset is searched in: depthwise-separable CNNs for images and keyword
#: audio, 1-D CNNs for sensor series.
SPACE_FOR_DATASET = {"digits": "ds_cnn", "fashion_mnist": "ds_cnn", "kws_synth": "ds_cnn",
                     "basic_motions": "cnn1d"}
#: Cheapest first, so that a run cut short has complete results for the fast datasets.
DEFAULT_DATASETS = ("digits", "basic_motions", "kws_synth", "fashion_mnist:3000")
DEFAULT_BOARDS = ("arduino_nano33_ble", "nucleo_l432kc")
DEFAULT_SAMPLERS = ("nsga2", "random")


def space_for(dataset: str) -> str:
    """The search space of a dataset name (a ``:N`` sample limit is ignored).

    Raises:
        KeyError: A dataset the grid has no space for.
    """
    return SPACE_FOR_DATASET[dataset.split(":", 1)[0]]


@dataclass(frozen=True)
class Settings:
    """The scale knobs every job of a run shares.

    Attributes:
        trials: Complete trials per search (trials refused for breaking a board limit count).
        epochs: Float training epochs of every candidate and reference (compression steps
            fine-tune a quarter of this).
        fidelity: The search's fidelity schedule (``"full"`` or ``"halving"``); None where the
            pipeline has no such option.
        space: The space every dataset is searched in; None for each dataset's own
            (:data:`SPACE_FOR_DATASET`).
        folds: The folds a search selects on (``tinynas search --folds``); None for the
            pipeline's own choice.
        fold_trials: Which candidates the extra folds score (``tinynas search --fold-trials``);
            None for the pipeline's own choice (every one).
    """

    trials: int
    epochs: int
    fidelity: str | None = None
    space: str | None = None
    folds: int | None = None
    fold_trials: str | None = None

    def tag(self) -> str:
        """A short label, e.g. ``t16-e8`` (``t16-e8-mixed_cnn`` with a space of its own; a
        space file given by path adds its file name without ``.toml``; ``-f5`` for 5 folds,
        ``-f3front`` for 3 folds on the candidates that reach the front)."""
        return (f"t{self.trials}-e{self.epochs}" + (f"-{self.fidelity}" if self.fidelity else "")
                + (f"-{PurePath(self.space).stem}" if self.space else "")
                + (f"-f{self.folds}" if self.folds is not None else "")
                + (self.fold_trials if self.fold_trials not in (None, "all") else ""))


@dataclass(frozen=True)
class SearchJob:
    """One search: a dataset on a board with one sampler and seed."""

    dataset: str
    board: str
    seed: int
    sampler: str
    settings: Settings

    kind = "search"

    @property
    def space(self) -> str:
        """The space searched."""
        return self.settings.space or space_for(self.dataset)

    def key(self) -> str:
        """Identifies the job's result in the results file."""
        return (f"search/{self.settings.tag()}/{self.dataset}/{self.board}/{self.sampler}/"
                f"s{self.seed}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"kind": self.kind, "dataset": self.dataset, "board": self.board,
                "seed": self.seed, "sampler": self.sampler, "space": self.space,
                "setting": self.settings.tag(), "trial_budget": self.settings.trials,
                "epochs": self.settings.epochs, "fidelity": self.settings.fidelity,
                "folds": self.settings.folds,
                **({"fold_trials": self.settings.fold_trials} if self.settings.fold_trials
                   else {})}


@dataclass(frozen=True)
class ReferenceJob:
    """One reference model trained on a dataset with one seed, estimated on every board."""

    dataset: str
    reference: str
    seed: int
    boards: tuple[str, ...]
    settings: Settings

    kind = "reference"

    def key(self) -> str:
        """Identifies the job's result in the results file (fidelity does not apply)."""
        return f"reference/e{self.settings.epochs}/{self.dataset}/{self.reference}/s{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"kind": self.kind, "dataset": self.dataset, "reference": self.reference,
                "seed": self.seed, "boards": list(self.boards), "epochs": self.settings.epochs}


Job = SearchJob | ReferenceJob | RepeatJob


def modality(dataset: str) -> str:
    """The modality of a built-in dataset name, without loading it."""
    from tinynas.datasets import builtins

    base = dataset.split(":", 1)[0]
    return next(b.modality for b in builtins() if b.name == base)


ORDERS = ("dataset", "seed")


def jobs(datasets: tuple[str, ...], boards: tuple[str, ...], seeds: tuple[int, ...],
         samplers: tuple[str, ...], settings: Settings, references: bool = True,
         order: str = "dataset") -> list[Job]:
    """Every job of the grid.

    ``order="dataset"`` finishes every seed of a dataset before the next dataset;
    ``order="seed"`` runs one seed of every dataset before the next seed. Within a dataset and
    seed the references come first, then each board's searches with every sampler side by
    side, so a run cut short leaves whole comparisons behind.

    Raises:
        ValueError: An unknown order.
    """
    from tinynas.references import references_for

    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    pairs = ([(d, s) for d in datasets for s in seeds] if order == "dataset" else
             [(d, s) for s in seeds for d in datasets])
    out: list[Job] = []
    for dataset, seed in pairs:
        if references:
            out += [ReferenceJob(dataset, r.name, seed, boards, settings)
                    for r in references_for(modality(dataset))]
        out += [SearchJob(dataset, b, seed, s, settings) for b in boards for s in samplers]
    return out
