"""Every trial samples every parameter its space allows (inactive genes), so genetic samplers
can breed all of them; the architecture ignores the inactive ones."""

from __future__ import annotations

import optuna
import pytest

from tinynas.spaces import load_space, space_names


@pytest.mark.parametrize("name", space_names())
def test_every_trial_samples_the_same_parameters(name: str) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    names, shapes = set(), set()
    for _ in range(60):
        trial = study.ask()
        arch = space.suggest(trial)
        space.suggest_compression(trial)
        names.add(frozenset(trial.params))
        shapes.add(space.describe(arch).count("|"))
        study.tell(trial, 0.0)
    assert len(names) == 1
    assert len(shapes) > 1  # the depth varies, the parameter set does not


def test_inactive_genes_change_nothing() -> None:
    """Two trials that differ only past ``blocks`` (and in an unpruned model's sparsity) give
    the same architecture and compression."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space("mixed_cnn")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = study.ask()
    space.suggest(drawn)
    space.suggest_compression(drawn)
    active = {**drawn.params, "convolution": True, "blocks": 2, "b0_filters": 16,
              "b1_filters": 24, "pruning": "none"}
    study.tell(drawn, 0.0)
    for inactive in ({"b2_filters": 8, "b5_stride": 1, "sparsity": 0.3},
                     {"b2_filters": 64, "b5_stride": 2, "sparsity": 0.7}):
        study.enqueue_trial({**active, **inactive})
    results = []
    for _ in range(2):
        trial = study.ask()
        results.append((space.suggest(trial), space.suggest_compression(trial)))
        study.tell(trial, 0.0)
    assert results[0] == results[1]
    assert results[0][0].filters == (16, 24) and results[0][1].sparsity == 0.0
