"""Cross-validated selection for datasets whose validation split is too small to choose on.

A search ranks candidates by int8 validation accuracy. With 8 validation samples one model's
accuracy moves by about 11 points by chance alone, so the choice among close models follows
that noise. With ``folds`` = k > 1 a candidate is trained k times: once as always
(trained on the training split, scored on the validation split: the model the trial keeps), and
k - 1 more times, each holding out one of k - 1 disjoint stratified chunks of the training split
and training on the rest of it plus the validation split. Each chunk is as large as the
validation split, so every fold's model trains on as many samples as the model the trial keeps
and every fold scores the same thing; where the training split cannot hold k - 1 such chunks,
the chunks share it out whole. The selection accuracy pools every held-out prediction: k times
the validation split's samples, or every labelled sample outside the test split. With
``--fold-trials front`` only the candidates that reach the study's front on the validation
split get the extra trainings (:data:`FOLD_TRIALS`).

The test split takes no part. Normalization statistics and a distillation teacher come from the
training split as a whole, so a held-out chunk is not entirely unseen by them; the chunk's labels
never reach the candidate being scored on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from tinynas.errors import StudyError

if TYPE_CHECKING:
    from tinynas.datasets._base import Dataset
    from tinynas.spaces._base import Arch, Compression, SearchSpace, TrainingConfig

#: Study user attribute holding the number of folds a study selects on (absent: 1).
FOLDS_KEY = "selection_folds"
#: Study user attribute present on studies whose extra folds hold out validation-sized chunks
#: (whole speakers or recordings where the dataset names them). A study created before it
#: shared the whole training split out into chunks, sample by sample, and keeps doing so.
CHUNKS_KEY = "selection_fold_chunks"
#: The value :data:`CHUNKS_KEY` holds.
SIZED_CHUNKS = "validation-sized"
#: Study user attribute naming which trained candidates the extra folds score
#: (:data:`FOLD_TRIALS`; absent: every one, as before the choice existed).
FOLD_TRIALS_KEY = "selection_fold_trials"
#: ``--fold-trials``: ``all`` cross-validates every trained candidate; ``front`` only those whose
#: validation-split accuracy puts them on the study's front. A trial's objective values never
#: change once it completes, so a candidate dominated when it completes stays dominated, and the
#: front ends up holding cross-validated models only, at the cost of those that reached it.
FOLD_TRIALS = ("all", "front")
#: Validation samples below which a single validation split is too noisy to choose on.
MIN_SELECTION_SAMPLES = 100
#: The most folds ``--folds auto`` asks for: each costs one more training per candidate.
MAX_AUTO_FOLDS = 5


def auto_folds(train: int, val: int) -> int:
    """The folds ``--folds auto`` picks for a dataset of ``train`` and ``val`` samples.

    1 (the validation split alone) when it holds at least :data:`MIN_SELECTION_SAMPLES`;
    otherwise one fold per validation-sized chunk of the training split, plus the validation
    split itself, at most :data:`MAX_AUTO_FOLDS`.
    """
    if val >= MIN_SELECTION_SAMPLES or val < 1:
        return 1
    return max(1, min(MAX_AUTO_FOLDS, 1 + train // val))


def _chance_points(samples: int) -> float:
    """Points an accuracy near 0.9 moves by chance alone over ``samples`` samples (one sigma)."""
    return math.sqrt(0.9 * 0.1 / max(samples, 1)) * 100


#: Split methods (``Dataset.preprocessing["split"]["method"]``) that keep whole speakers,
#: recordings or stretches of time out of the training split. The folds hold out whole groups
#: where the dataset names them (``Dataset.train_groups``), else single samples.
GROUPED_SPLITS = frozenset({"grouped", "lists", "by recording", "by time"})


def ungrouped_split(data: Dataset) -> str | None:
    """The split method of ``data`` when it keeps groups apart (:data:`GROUPED_SPLITS`) but the
    dataset does not name each training sample's group, so folds cannot; else None."""
    method = data.preprocessing.get("split", {}).get("method")
    if method in GROUPED_SPLITS and data.train_groups is None:
        return str(method)
    return None


def selection_note(val: int, train: int, folds: int, where: str,
                   ungrouped: str | None = None, front_only: bool = False) -> str | None:
    """What a search says, before it starts, about the samples it chooses models on.

    With one fold: a warning when the validation split holds fewer than
    :data:`MIN_SELECTION_SAMPLES` (one model's accuracy near 0.9 moves by about
    ``sqrt(0.9 * 0.1 / n)`` by chance: 11 points with 8 samples, so among close models the
    choice follows that noise), else None. With more folds: how many samples the
    cross-validated accuracy pools, what it costs, and the chance noise left when still few;
    and, given ``ungrouped`` (the method of a split that keeps groups apart, from
    :data:`GROUPED_SPLITS`, where the dataset does not name each training sample's group), that
    the extra folds cannot, so they read optimistic. ``front_only``: the extra folds score only
    the candidates that reach the front (``--fold-trials front``).
    """
    if folds <= 1:
        if val >= MIN_SELECTION_SAMPLES:
            return None
        return (f"{where}: the validation split has {val} samples; the search chooses models "
                f"on it, and at this size an accuracy moves by about {_chance_points(val):.0f} "
                f"points by chance alone, so its choices among close models are noise (at least "
                f"{MIN_SELECTION_SAMPLES} validation samples are recommended; --folds auto "
                f"cross-validates, training each candidate up to {MAX_AUTO_FOLDS} times)")
    pooled_samples = val + held_out_total(train, val, folds)
    note = (f"{where}: the validation split has {val} samples; the search chooses models on "
            f"{folds}-fold cross-validated accuracy over {pooled_samples} samples, training "
            + (f"each candidate that reaches the front on the validation split {folds} times"
               if front_only else f"each candidate {folds} times"))
    if pooled_samples < MIN_SELECTION_SAMPLES:
        note += (f"; at this size an accuracy still moves by about "
                 f"{_chance_points(pooled_samples):.0f} points by chance alone")
    if ungrouped is not None:
        note += (f"; its validation split is split {ungrouped!r}, keeping speakers, "
                 f"recordings or stretches of time apart from training, but the extra folds "
                 f"draw single samples, which share those with their training samples and so "
                 f"read optimistic")
    return note


#: ``--folds auto``: cross-validate only when the validation split is small (:func:`auto_folds`).
AUTO = "auto"


def parse_folds(text: str) -> int | str:
    """``--folds``: :data:`AUTO` or a whole number of at least 1.

    Raises:
        StudyError: Anything else.
    """
    if text.strip().lower() == AUTO:
        return AUTO
    try:
        folds = int(text)
    except ValueError:
        folds = 0
    if folds < 1:
        raise StudyError(f"--folds must be 'auto' or a whole number of at least 1, got {text!r}")
    return folds


def resolve_folds(asked: int | str | None, train: int, val: int) -> int:
    """The folds a new study selects on: ``asked`` as a number, :func:`auto_folds` for
    :data:`AUTO`, and 1 (the validation split alone) when nothing was asked."""
    if asked is None:
        return 1
    if asked == AUTO:
        return auto_folds(train, val)
    return int(asked)


def check_fold_trials(fold_trials: str, asked_folds: int | str | None) -> None:
    """Refuse an unknown ``--fold-trials``, and ``front`` where ``--folds`` asks for no extra
    fold (``auto`` may resolve to 1: then there is simply nothing to cross-validate).

    Raises:
        StudyError: ``fold_trials`` is not one of :data:`FOLD_TRIALS`, or is ``front`` without
            ``--folds`` 2 or more (or auto).
    """
    if fold_trials not in FOLD_TRIALS:
        raise StudyError(f"--fold-trials must be one of {', '.join(FOLD_TRIALS)}, "
                         f"got {fold_trials!r}")
    if fold_trials == "front" and (asked_folds is None or asked_folds == 1):
        raise StudyError("--fold-trials front: cross-validates the candidates that reach the "
                         "front, so it needs --folds 2 or more (or auto)")


def check_folds(folds: int, y_train: np.ndarray, where: str,
                groups: np.ndarray | None = None) -> None:
    """Refuse more folds than the training split can hold out: each extra fold holds out at
    least one training sample, or one whole group (speaker, recording) where ``groups`` names
    the group of each training sample.

    Raises:
        StudyError: ``folds`` is too many for ``y_train``.
    """
    if folds <= 1:
        return
    units = len(np.unique(groups)) if groups is not None else len(y_train)
    what = "speakers or recordings" if groups is not None else "samples"
    most = units + 1
    if folds > most:
        raise StudyError(f"--folds {folds}: {where} has {units} training {what}, so at "
                         f"most {most} folds (each extra fold holds out part of the training "
                         f"split)")


def held_out_total(train: int, val: int, folds: int) -> int:
    """Training samples the ``folds - 1`` extra folds hold out in all: one validation-sized chunk
    each, or the whole training split when it cannot hold that many chunks."""
    chunks = max(folds - 1, 0)
    if chunks == 0:
        return 0
    return train if val < 1 else min(train, chunks * val)


def held_out(y_train: np.ndarray, folds: int, seed: int, size: int | None = None,
             groups: np.ndarray | None = None) -> list[np.ndarray]:
    """Indices of the training samples each of the ``folds - 1`` extra folds holds out.

    The chunks are disjoint. With ``size`` (the validation split's samples) they hold about
    ``size`` samples each (:func:`held_out_total` in all); without it, or when the training
    split cannot hold that many, they share out the whole training split.

    Without ``groups`` the chunks are stratified: the samples drawn keep every class's share,
    and each class is shuffled (by ``seed``) and dealt round-robin, continuing where the previous
    class stopped, so chunk sizes differ by at most one and every class is spread over the
    chunks. With ``groups`` (the speaker or recording of each training sample) whole groups are
    drawn in an order shuffled by ``seed``, each to the chunk that holds fewest samples so far,
    so no group is split between a chunk and the samples its fold trains on.
    """
    chunks = max(folds - 1, 0)
    if chunks == 0:
        return []
    rng = np.random.default_rng(seed)
    total = len(y_train) if size is None else held_out_total(len(y_train), size, folds)
    if groups is not None:
        return _group_chunks(np.asarray(groups), chunks, total, rng)
    shuffled = {int(label): rng.permutation(np.flatnonzero(y_train == label))
                for label in np.unique(y_train)}
    if total < len(y_train):
        # Each class's samples spread evenly over (0, 1): the first ``total`` in that order hold
        # every class in its share of the training split.
        spread = sorted(((rank + 0.5) / len(idx), label, rank)
                        for label, idx in shuffled.items() for rank in range(len(idx)))
        keep: dict[int, int] = {}
        for _, label, _ in spread[:total]:
            keep[label] = keep.get(label, 0) + 1
        shuffled = {label: idx[:keep.get(label, 0)] for label, idx in shuffled.items()}
    parts: list[list[int]] = [[] for _ in range(chunks)]
    turn = 0
    for label in sorted(shuffled):
        for index in shuffled[label]:
            parts[turn % chunks].append(int(index))
            turn += 1
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def _group_chunks(groups: np.ndarray, chunks: int, total: int,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """``chunks`` disjoint chunks of whole groups, about ``total`` samples in all (see
    :func:`held_out`)."""
    _, inverse = np.unique(groups, return_inverse=True)
    by_group = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse))
    members = np.split(by_group, bounds[:-1])
    parts: list[list[int]] = [[] for _ in range(chunks)]
    taken = 0
    for group in rng.permutation(len(members)):
        if taken >= total:
            break
        smallest = min(range(chunks), key=lambda k: len(parts[k]))
        parts[smallest].extend(int(i) for i in members[group])
        taken += len(members[group])
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def fold_dataset(data: Dataset, held: np.ndarray) -> Dataset:
    """``data`` with the training samples ``held`` as its validation split and the rest of the
    training split plus the original validation split to train on (the test split unchanged)."""
    keep = np.ones(len(data.y_train), dtype=bool)
    keep[held] = False
    return replace(
        data,
        x_train=np.concatenate([data.x_train[keep], data.x_val]),
        y_train=np.concatenate([data.y_train[keep], data.y_val]),
        x_val=data.x_train[held], y_val=data.y_train[held], train_groups=None)


@dataclass(frozen=True)
class FoldScores:
    """A candidate's accuracy over k folds.

    Attributes:
        float_val: Float accuracy pooled over every held-out sample.
        int8_val: Int8 accuracy of the final step pooled the same way: what the search selects on.
        float_folds: Float accuracy per fold, the validation split first.
        int8_folds: Int8 accuracy per fold, the validation split first.
        sizes: Held-out samples per fold.
    """

    float_val: float
    int8_val: float
    float_folds: tuple[float, ...]
    int8_folds: tuple[float, ...]
    sizes: tuple[int, ...]

    def to_attrs(self) -> dict[str, Any]:
        """The trial user attributes that record the folds."""
        return {"accuracy_float_val": self.float_val, "accuracy_int8_val": self.int8_val,
                "fold_accuracy_float_val": [round(a, 4) for a in self.float_folds],
                "fold_accuracy_int8_val": [round(a, 4) for a in self.int8_folds],
                "fold_sizes": list(self.sizes)}


def fold_summary(attrs: Mapping[str, Any]) -> str | None:
    """How a trial's validation accuracy was pooled, e.g. ``"5-fold cross-validated over 40
    samples"``; None for a trial scored on the validation split alone."""
    sizes = attrs.get("fold_sizes")
    if not sizes or len(sizes) < 2:
        return None
    return f"{len(sizes)}-fold cross-validated over {sum(sizes)} samples"


def pooled(accuracies: Sequence[float], sizes: Sequence[int]) -> float:
    """The accuracy over the union of folds: each fold's accuracy weighted by its size."""
    total = sum(sizes)
    if total == 0:
        return math.nan
    return float(sum(a * n for a, n in zip(accuracies, sizes, strict=True)) / total)


def sized_chunks(attrs: Mapping[str, Any] | None) -> bool:
    """Whether a study (its user attributes; None for a new study) holds out validation-sized
    chunks, as every study created since :data:`CHUNKS_KEY` exists does."""
    return attrs is None or attrs.get(CHUNKS_KEY) == SIZED_CHUNKS


def cross_validate(space: SearchSpace, arch: Arch, compression: Compression, data: Dataset,
                   training: TrainingConfig, seed: int, folds: int, split_seed: int,
                   first: tuple[float, float], teacher: Any = None,
                   sized: bool = True) -> FoldScores:
    """Score a candidate on ``folds`` folds; ``first`` is its (float, int8) validation accuracy
    from the run the trial keeps, so only the ``folds - 1`` extra trainings happen here.

    ``split_seed`` chooses the chunks (the study's seed: every candidate of a study is scored on
    the same folds); ``seed`` is the candidate's training seed. ``sized`` False keeps the chunks
    of a study created before validation-sized chunks (:func:`sized_chunks`).

    Raises:
        TrainingError: An extra fold's training or conversion failed.
    """
    from tinynas.train import train_candidate

    float_folds, int8_folds, sizes = [first[0]], [first[1]], [len(data.y_val)]
    chunks = (held_out(data.y_train, folds, split_seed, size=len(data.y_val),
                       groups=data.train_groups) if sized
              else held_out(data.y_train, folds, split_seed))
    for number, held in enumerate(chunks, start=1):
        result = train_candidate(space, arch, compression, fold_dataset(data, held), training,
                                 seed=seed + number, teacher=teacher, evaluate_test=False)
        float_folds.append(float(result.accuracy_float_val))
        int8_folds.append(float(result.accuracy_int8_val))
        sizes.append(len(held))
    return FoldScores(float_val=pooled(float_folds, sizes), int8_val=pooled(int8_folds, sizes),
                      float_folds=tuple(float_folds), int8_folds=tuple(int8_folds),
                      sizes=tuple(sizes))
