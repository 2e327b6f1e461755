"""NSGA-II offspring that are models the study has not evaluated yet and that fit the board.

Optuna's NSGA-II breeds a child by uniform crossover of two parents and then redraws each
parameter at random with probability 1/n. When the parents differ only in genes their models do
not use (the widths of blocks past the depth, the sparsity of an unpruned model), or once the
population holds near-copies, the child is often a model the study already has: the search
reuses the trained twin, and the trial adds nothing to the front while it still counts towards
the trial budget. In the 24-trial ``mixed_cnn`` searches this was 5 to 13 of 72 trials a cell.

:class:`DistinctNSGAIISampler` breeds the child again (new parents, crossover and mutations)
while its model repeats one the study holds (finished, running or queued), up to :data:`TRIES`
times; it then gives up and keeps the last child, which the search reuses as before. Selection,
crossover and mutation are NSGA-II's own, so a child is still one NSGA-II could have bred.

Given the board's screen (``fits``: the analytic estimate of the child's model within the RAM,
flash and latency limits), it also breeds again a child the board cannot hold. Such a child is
never trained, but its trial counts towards the budget and adds nothing to the front: 29 of 432
NSGA-II trials in the 24-trial ``mixed_cnn`` searches. When no try gives a new model that fits,
the first child that fits is kept (the search reuses its trained twin), else the last one.

Given a chooser (``choose``, :class:`tinynas.surrogate.FrontChooser`), it breeds up to
:data:`POOL` such children for one trial, all distinct, and trains the one the chooser expects to
add most to the front; NSGA-II's selection then works on trained results as before. The trial's
system attributes ``offspring:children`` (how many were bred to choose from) and, once the
chooser predicts, ``offspring:predicted_accuracy``, ``offspring:predicted_std`` and
``offspring:expected_gain`` say what was expected of it.

Bred children stay near their parents: once the population settles on one kind of model, no
child is of another kind, however much the chooser would expect of it. So the chooser also
weighs up to :data:`EXPLORE` models drawn at random from the whole space (distinct, fitting the
board) beside the bred ones; ``offspring:drawn`` is 1 when the trial trains one of those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial

#: Children bred at most for one trial before a repeated model is accepted.
TRIES = 32

#: Distinct children that fit, bred for one trial when a chooser picks among them.
POOL = 8

#: Models drawn at random from the whole space, weighed by the chooser beside the bred children.
EXPLORE = 4

#: The trials whose models a child must not repeat.
_HELD = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)

#: The model a set of parameters stands for (None when the parameters do not say).
Signature = Callable[[Mapping[str, Any]], "str | None"]

#: Whether the model a set of parameters stands for fits the board (estimated).
Fits = Callable[[Mapping[str, Any]], bool]

#: The index of the child to train among distinct children that fit, and what is expected of it
#: (stored as the trial's system attributes ``offspring:<key>``).
Choose = Callable[[optuna.Study, Sequence[Mapping[str, Any]]], tuple[int, dict[str, float]]]


class DistinctNSGAIISampler(optuna.samplers.NSGAIISampler):
    """NSGA-II that breeds again a child whose model the study already holds or the board
    cannot hold.

    Args:
        signature: Maps a full set of parameters to a string naming the model they stand for
            (``SearchSpace.params_signature``).
        fits: Whether the model a full set of parameters stands for fits the board (None: every
            child is taken to fit).
        choose: Picks the child to train among up to ``pool`` distinct children that fit
            (None: the first one bred).
        seed: Seed of selection, crossover, mutation and the parameters mutation redraws.
        population_size: NSGA-II's population size.
        tries: Children bred at most for one trial.
        pool: Distinct children that fit, bred for one trial before ``choose`` picks.
        explore: Distinct models that fit, drawn at random from the whole space and added to
            the children ``choose`` picks from.
    """

    def __init__(self, signature: Signature, *, fits: Fits | None = None,
                 choose: Choose | None = None, seed: int | None = None,
                 population_size: int = 50, tries: int = TRIES, pool: int = POOL,
                 explore: int = EXPLORE):
        super().__init__(seed=seed, population_size=population_size)
        self._signature = signature
        self._fits = fits
        self._choose = choose
        self._pool = pool if choose is not None else 1
        self._explore = explore if choose is not None else 0
        self._tries = tries
        self._redraw = optuna.samplers.RandomSampler(seed=seed)
        self._finished: dict[int, str | None] = {}

    # NSGA-II's own keys for generations and parents, so that a study started by either sampler
    # goes on with the other (Optuna names them after the class).
    @classmethod
    def _get_generation_key(cls) -> str:
        return optuna.samplers.NSGAIISampler._get_generation_key()

    @classmethod
    def _get_parent_cache_key_prefix(cls) -> str:
        return optuna.samplers.NSGAIISampler._get_parent_cache_key_prefix()

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """NSGA-II's child for ``trial``, bred again while its model is one the study holds or
        one the board cannot hold; with a chooser, its pick among up to ``pool`` such children."""
        breed = super().sample_relative
        child = breed(study, trial, search_space)
        if not self.get_parent_population(study, self.get_trial_generation(study, trial)):
            return child  # generation 0: drawn at random
        held = self.held_signatures(study, trial.number)
        bred = (self._complete(study, trial, search_space,
                               breed(study, trial, search_space) if attempt else child)
                for attempt in range(self._tries))
        distinct, fitting, last = self._collect(bred, self._pool, held)
        if not distinct:
            return fitting if fitting is not None else last or child
        children = len(distinct)
        distinct += self.draw(study, trial, search_space, held)
        if self._choose is None or len(distinct) < 2:
            return distinct[0]
        index, expected = self._choose(study, distinct)
        attrs = {"children": len(distinct), **expected}
        if self._explore:
            attrs["drawn"] = int(index >= children)
        for key, value in attrs.items():
            study._storage.set_trial_system_attr(trial._trial_id, f"offspring:{key}", value)
        return distinct[index]

    def draw(self, study: optuna.Study, trial: FrozenTrial,
             search_space: dict[str, BaseDistribution], held: set[str]) -> list[dict[str, Any]]:
        """Up to ``explore`` models drawn at random from ``search_space`` that fit the board and
        whose signatures are not in ``held`` (which gains theirs), in at most ``tries`` draws."""
        draws = (self._complete(study, trial, search_space, {})
                 for _ in range(self._tries if self._explore else 0))
        return self._collect(draws, self._explore, held)[0]

    def _collect(self, candidates: Iterable[dict[str, Any]], want: int, held: set[str]
                 ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Any]]:
        """Up to ``want`` of ``candidates`` that fit the board and whose models are not in
        ``held`` (which gains theirs); the first that fits but is held (None: none); and the
        last candidate looked at."""
        distinct: list[dict[str, Any]] = []
        fitting: dict[str, Any] | None = None
        last: dict[str, Any] = {}
        for last in candidates:
            if self._fits is not None and not self._fits(last):
                continue
            key = self._signature(last)
            if key is not None and key in held:
                if fitting is None:
                    fitting = last
                continue
            distinct.append(last)
            if key is not None:
                held.add(key)
            if len(distinct) >= want:
                break
        return distinct, fitting, last

    def held_signatures(self, study: optuna.Study, exclude: int | None = None) -> set[str]:
        """The signatures of the models of the study's finished, running and queued trials
        (but trial number ``exclude``)."""
        held = set()
        for t in study.get_trials(deepcopy=False, states=_HELD):
            if t.number == exclude:
                continue
            if t.state.is_finished():
                if t.number not in self._finished:
                    self._finished[t.number] = (t.user_attrs.get("signature")
                                                or self._signature(t.params))
                key = self._finished[t.number]
            else:
                key = self._signature(t.params or t.system_attrs.get("fixed_params", {}))
            if key is not None:
                held.add(key)
        return held

    def _complete(self, study: optuna.Study, trial: FrozenTrial,
                  search_space: dict[str, BaseDistribution],
                  child: dict[str, Any]) -> dict[str, Any]:
        """Draw now the parameters NSGA-II's mutation left to be drawn at random later, so the
        child's model is known before it is returned."""
        return {name: child[name] if name in child else
                self._redraw.sample_independent(study, trial, name, distribution)
                for name, distribution in search_space.items()}
