"""The estimator-chosen first generation of a new study."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tinynas.boards import load_board
from tinynas.pipeline import SearchConfig, _fits, estimate_arch, prepare
from tinynas.spaces import load_space
from tinynas.warmstart import WarmCandidate, choose_spread, first_generation, plain_choices


def _candidate(usage: float, params: int) -> WarmCandidate:
    return WarmCandidate({"u": usage, "p": params}, usage, params)


def test_choose_spread_takes_the_middle_of_each_band() -> None:
    pool = [_candidate(u / 10, p) for u, p in
            [(9, 100), (1, 50), (2, 80), (3, 10), (4, 90), (5, 20), (6, 70), (7, 60), (8, 30)]]
    chosen = choose_spread(pool, 3)
    # Bands by usage: 0.1-0.3, 0.4-0.6, 0.7-0.9.
    assert [(c.usage, c.model_params) for c in chosen] == [(0.2, 80), (0.5, 20), (0.8, 30)]
    assert [c.usage for c in choose_spread(pool, 2)] == [0.3, 0.7]
    assert len(choose_spread(pool, 20)) == len(pool)
    assert choose_spread(pool, 0) == [] and choose_spread([], 4) == []


@pytest.mark.parametrize("board_name", ["arduino_nano33_ble", "nucleo_l432kc"])
def test_first_generation_fits_the_board_and_spans_it(board_name: str) -> None:
    space = load_space("ds_cnn")
    board = load_board(board_name)
    seen: list[float] = []

    def usage(arch):  # type: ignore[no-untyped-def]
        est = estimate_arch(space, arch, (8, 8, 1), 10, board)
        shares = [1.0 + c for c in _fits(board, est)]
        if max(shares) > 1.0:
            return None
        seen.append(1.0 - math.prod(1.0 - s for s in shares))
        return seen[-1], int(est.params)

    chosen = first_generation(space, 8, seed=0, usage=usage, draws=128)
    assert len(chosen) == 8
    usages = [c.usage for c in chosen]
    assert usages == sorted(usages)
    # From the smallest band to the largest of what fits.
    assert usages[0] <= sorted(seen)[len(seen) // 8] and usages[-1] >= sorted(seen)[-len(seen) // 8]
    for c in chosen:
        assert {k: c.params[k] for k in plain_choices(space)} == plain_choices(space)
    assert [c.params for c in first_generation(space, 8, 0, usage, draws=128)] == \
        [c.params for c in chosen]
    assert [c.params for c in first_generation(space, 8, 1, usage, draws=128)] != \
        [c.params for c in chosen]


def test_nothing_fits_gives_an_empty_generation() -> None:
    assert first_generation(load_space("ds_cnn"), 8, 0, lambda arch: None, draws=16) == []


def _config(tmp_path: Path, trials: int = 5, **kw) -> SearchConfig:  # type: ignore[no-untyped-def]
    kw.setdefault("space", "ds_cnn")
    return SearchConfig(board="nucleo_l432kc", dataset="digits", trials=trials,
                        storage=f"sqlite:///{tmp_path / 'ws.db'}", **kw)


def test_a_new_study_enqueues_its_first_generation_once(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    ctx = prepare(_config(tmp_path, study_name="nsga"))
    waiting = ctx.study.get_trials(states=(TrialState.WAITING,))
    assert ctx.study.user_attrs["warm_start"] == 5 == len(waiting)  # capped by --trials
    for trial in waiting:
        assert trial.user_attrs["warm_start"] is True
        params = trial.system_attrs["fixed_params"]
        assert params["pruning"] == "none" and params["clusters"] == 0
    # Resuming adds nothing.
    again = prepare(_config(tmp_path, study_name="nsga"))
    assert len(again.study.get_trials(states=(TrialState.WAITING,))) == 5


@pytest.mark.parametrize("kw", [{"sampler": "random"}, {"warm_start": False}])
def test_random_search_and_no_warm_start_enqueue_nothing(tmp_path: Path, kw: dict) -> None:
    ctx = prepare(_config(tmp_path, study_name="plain", **kw))
    assert ctx.study.get_trials() == []
    assert ctx.study.user_attrs.get("warm_start", 0) == 0


def test_the_search_trains_the_enqueued_candidates_first(tmp_path: Path) -> None:
    import optuna

    from tinynas.cli import main

    storage = f"sqlite:///{tmp_path / 'run.db'}"
    expected = [t.system_attrs["fixed_params"] for t in
                prepare(_config(tmp_path, trials=2, study_name="x")).study.get_trials()]
    assert main(["search", "--board", "nucleo_l432kc", "--space", "ds_cnn", "--dataset", "digits",
                 "--trials", "2", "--epochs", "1", "--storage", storage, "--study", "w"]) == 0
    trials = optuna.load_study(study_name="w", storage=storage).get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    assert [t.params for t in trials] == expected
    for trial in trials:
        assert trial.user_attrs["warm_start"] is True and trial.user_attrs["trained"] is True
        assert trial.user_attrs["compression_summary"] in ("ptq", "qat")
        assert trial.system_attrs["NSGAIISampler:generation"] == 0


def test_the_warm_start_is_nsga2s_first_generation_and_parents_the_next(tmp_path: Path) -> None:
    """The enqueued candidates sample no parameter, so NSGA-II would number no generation for
    them; the search places them in generation 0, and the first trials after them are offspring
    of theirs, not a random generation of the sampler's own."""
    ctx = _bred(tmp_path, "ds_cnn", 12)
    key = ctx.study.sampler._get_generation_key()
    generations = [t.system_attrs.get(key) for t in ctx.study.get_trials()]
    assert generations == [0] * 8 + [1] * 4
    parents = ctx.study.sampler.get_parent_population(ctx.study, 1)
    assert parents and {p.number for p in parents} <= set(range(8))
    assert all(p.user_attrs.get("warm_start") for p in parents)


def _bred(tmp_path: Path, space: str, trials: int):  # type: ignore[no-untyped-def]
    """A study of ``space`` after ``trials`` trials of NSGA-II, the warm start first, scored
    by architecture alone (no training)."""
    from tinynas import study as studies

    ctx = prepare(_config(tmp_path, trials=trials, study_name="ga", space=space))
    assert ctx.study.user_attrs["warm_start"] == 8

    def objective(trial):  # type: ignore[no-untyped-def]
        studies.join_generation(trial)  # what the search's objective does first
        arch = ctx.space.suggest(trial)
        ctx.space.suggest_compression(trial)
        return (1.0 / (1 + len(arch.to_dict()["filters"])), float(trial.number), 0.0, 0.0)

    ctx.study.optimize(objective, n_trials=trials)
    return ctx


@pytest.mark.parametrize("space", ["ds_cnn", "mixed_cnn"])
def test_offspring_inherit_every_gene(tmp_path: Path, space: str) -> None:
    """NSGA-II breeds the parameters every finished trial has; the rest it draws at random.
    The warm start spans several depths, so without inactive genes no block parameter past
    the shallowest model's (none at all for a zero-block model) would be bred."""
    ctx = _bred(tmp_path, space, 10)
    trials = ctx.study.get_trials()
    assert len({frozenset(t.params) for t in trials}) == 1
    assert len({t.params["blocks"] for t in trials[:8]}) > 1
    bred = ctx.study.sampler.infer_relative_search_space(ctx.study, trials[-1])
    assert set(bred) == {n for n, d in trials[0].distributions.items() if not d.single()}
    assert {f"b{i}_filters" for i in range(6)} <= set(bred)
