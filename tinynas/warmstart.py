"""The first generation of a new study, chosen by the resource estimator before any training.

A sampler's first generation is random: on a tight board part of it breaks a limit (and so
teaches nothing), and the rest is spread by chance. Estimates cost milliseconds, so a new study
instead draws many candidates, keeps those that fit the board, splits them by board usage into
``count`` equal bands (smallest to largest) and enqueues the middle candidate of each band. The
front starts spread over the whole resource range, one model per size class.

The pick within a band is deliberately not "the most parameters": on 40-sample sensor data
(basic_motions) that rule chose flatten-and-dense heads only, which overfit (0.25 to 0.68 int8
accuracy where pooled models of the same size reached 0.95), and on digits it gained nothing
over random search.

The warm-start candidates are plain models (quantization alone): unstructured and 2:4 pruning,
clustering and distillation change no resource figure the estimator reports, and channel pruning
reaches sizes a narrower architecture reaches without the pruning. Compression enters the search
through the sampler's later generations, like every other dimension.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinynas.spaces import Arch, SearchSpace

#: Candidates drawn (and estimated) to choose one generation from.
DRAWS = 256

#: The choices that make a candidate plain, where the space offers them.
PLAIN = {"pruning": "none", "clusters": 0, "distillation": False}

#: What :func:`first_generation` needs to know of a candidate: how much of the board it uses, in
#: [0, 1] (None when it breaks a limit), and its parameter count.
Usage = Callable[["Arch"], "tuple[float, int] | None"]


@dataclass(frozen=True)
class WarmCandidate:
    """One enqueued candidate of the first generation.

    Attributes:
        params: Optuna parameters, as the space's ``suggest`` functions name them.
        usage: How much of the board it uses, in [0, 1] (see :data:`Usage`).
        model_params: Parameter count of its (effective) architecture (reported; it breaks
            ties of usage).
    """

    params: dict[str, Any]
    usage: float
    model_params: int


def plain_choices(space: SearchSpace) -> dict[str, Any]:
    """The fixed compression parameters of a plain candidate, limited to what the space offers."""
    c = space.config.compression
    offered = {"pruning": c.pruning, "clusters": c.clusters, "distillation": c.distillation}
    return {name: value for name, value in PLAIN.items() if value in offered[name]}


def first_generation(space: SearchSpace, count: int, seed: int, usage: Usage,
                     draws: int = DRAWS) -> list[WarmCandidate]:
    """Choose ``count`` candidates that fit the board, spread over its resource range.

    Args:
        space: The search space.
        count: Candidates wanted (fewer come back when fewer distinct ones fit).
        seed: Seed of the draws; the same seed gives the same generation.
        usage: Board usage and parameter count of an effective architecture (see :data:`Usage`).
        draws: Candidates drawn at random to choose from.

    Returns:
        The chosen candidates, smallest usage first.
    """
    import optuna

    from tinynas.study import _quiet_optuna

    fixed = plain_choices(space)
    with _quiet_optuna():
        scratch = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    fits: dict[str, WarmCandidate] = {}
    for _ in range(draws):
        scratch.enqueue_trial(fixed)
        trial = scratch.ask()
        arch = space.suggest(trial)
        compression = space.suggest_compression(trial)
        effective = space.effective_arch(arch, compression)
        scratch.tell(trial, state=optuna.trial.TrialState.PRUNED)
        measured = usage(effective)
        if measured is None:
            continue
        # Candidates that differ in inactive genes only are one model.
        key = space.signature(effective, compression)
        fits.setdefault(key, WarmCandidate(dict(trial.params), measured[0], measured[1]))
    return choose_spread(list(fits.values()), count)


def choose_spread(candidates: list[WarmCandidate], count: int) -> list[WarmCandidate]:
    """Split ``candidates`` by usage into ``count`` equal bands; keep each band's middle one."""
    ranked = sorted(candidates, key=lambda c: (c.usage, c.model_params))
    if count <= 0 or not ranked:
        return []
    bands = min(count, len(ranked))
    chosen = []
    for band in range(bands):
        members = ranked[band * len(ranked) // bands:(band + 1) * len(ranked) // bands]
        chosen.append(members[len(members) // 2])
    return chosen
