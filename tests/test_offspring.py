"""NSGA-II breeds no child whose model the study already holds (``tinynas.offspring``), and a
set of Optuna parameters names its model (``SearchSpace.params_signature``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest

from tinynas.boards import load_board
from tinynas.offspring import DistinctNSGAIISampler
from tinynas.pipeline import _fits, estimate_arch, make_search_sampler
from tinynas.spaces import SearchSpace, load_space, space_names
from tinynas.study import make_sampler

BOARD = load_board("nucleo_l432kc")


@pytest.fixture(autouse=True)
def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _search(space: SearchSpace, sampler: optuna.samplers.BaseSampler, trials: int,
            study: optuna.Study | None = None, *, largest: bool = False,
            shape: tuple[int, ...] | None = None) -> list[str]:
    """Run an estimator-only two-objective study (an accuracy stand-in that grows with the
    parameters, and the arena: the smaller the better, or with ``largest`` the larger);
    return each trial's model signature."""
    if study is None:
        study = optuna.create_study(
            directions=["maximize", "maximize" if largest else "minimize"], sampler=sampler)
    shape = shape or space.default_input_shape()
    signatures = []

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        arch = space.suggest(trial)
        compression = space.suggest_compression(trial)
        effective = space.effective_arch(arch, compression)
        est = estimate_arch(space, effective, shape, 10, BOARD, None)
        signatures.append(space.signature(effective, compression))
        bonus = 0.01 if compression.quantization == "qat" else 0.0
        return 1 - 1 / (1 + math.log1p(est.params)) + bonus, float(est.arena_bytes)

    study.optimize(objective, n_trials=trials)
    return signatures


@pytest.mark.parametrize("name", ["mixed_cnn", "ds_cnn"])
@pytest.mark.parametrize("seed", [0, 1])
def test_offspring_are_models_the_study_does_not_hold(name: str, seed: int) -> None:
    space = load_space(name)
    repeated = {}
    for distinct in (False, True):
        sampler = make_sampler("nsga2", seed, 2,
                               signature=space.params_signature if distinct else None)
        assert isinstance(sampler, DistinctNSGAIISampler) == distinct
        signatures = _search(space, sampler, trials=48)
        repeated[distinct] = len(signatures) - len(set(signatures))
    assert repeated[False] > 0  # plain NSGA-II repeats models in these searches
    assert repeated[True] == 0


@pytest.mark.parametrize("name", space_names())
def test_params_name_the_model_they_sample(name: str) -> None:
    space = load_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=5))
    for _ in range(20):
        trial = study.ask()
        arch = space.suggest(trial)
        compression = space.suggest_compression(trial)
        expected = space.signature(space.effective_arch(arch, compression), compression)
        assert space.params_signature(trial.params) == expected
        study.tell(trial, 0.0)
    missing = dict(trial.params)
    del missing["quantization"]
    assert space.params_signature(missing) is None


def test_a_parameter_with_one_value_may_be_left_out(tmp_path: Path) -> None:
    text = (Path(load_space("ds_cnn").config.path).read_text()
            .replace("first_kernel = [3, 5]", "first_kernel = [5]"))
    path = tmp_path / "one_kernel.toml"
    path.write_text(text)
    space = load_space(str(path))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    space.suggest(trial)
    space.suggest_compression(trial)
    params = dict(trial.params)
    assert params.pop("first_kernel") == 5
    signature = space.params_signature(params)
    assert signature is not None and '"first_kernel": 5' in signature


def test_queued_and_finished_models_are_held() -> None:
    space = load_space("mixed_cnn")
    sampler = DistinctNSGAIISampler(space.params_signature, seed=0, population_size=4)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    done = _search(space, sampler, trials=3, study=study)
    scratch = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=9))
    trial = scratch.ask()
    space.suggest(trial)
    space.suggest_compression(trial)
    study.enqueue_trial(trial.params)
    queued = space.params_signature(trial.params)
    assert sampler.held_signatures(study) == {*done, queued}


def test_a_study_bred_by_plain_nsga2_goes_on_in_its_generations() -> None:
    space = load_space("ds_cnn")
    plain = optuna.samplers.NSGAIISampler(seed=0, population_size=4)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=plain)
    _search(space, plain, trials=8, study=study)
    study.sampler = DistinctNSGAIISampler(space.params_signature, seed=0, population_size=4)
    _search(space, study.sampler, trials=4, study=study)
    key = optuna.samplers.NSGAIISampler._get_generation_key()
    generations = [t.system_attrs[key] for t in study.trials]
    assert generations == [0] * 4 + [1] * 4 + [2] * 4


def _over_limits(space: SearchSpace, signatures: list[str], shape: tuple[int, ...]) -> int:
    """How many of the models named by ``signatures`` break one of the board's limits."""
    over = 0
    for signature in signatures:
        arch = space.arch_from_dict(json.loads(signature)["arch"])
        est = estimate_arch(space, arch, shape, 10, BOARD, None)
        over += any(c > 0 for c in _fits(BOARD, est))
    return over


@pytest.mark.parametrize("seed", [0, 1])
def test_offspring_fit_the_board(seed: int) -> None:
    space = load_space("mixed_cnn")
    shape = (28, 28, 1)
    over = {}
    for screened in (False, True):
        sampler = (make_search_sampler("nsga2", seed, ("accuracy", "ram"), space, BOARD, shape, 10,
                                       None)
                   if screened else make_sampler("nsga2", seed, 2,
                                                 signature=space.params_signature))
        # Offspring pushed towards large arenas, after the random first generation.
        offspring = _search(space, sampler, trials=48, largest=True, shape=shape)[8:]
        over[screened] = _over_limits(space, offspring, shape)
    assert over[False] > 0  # unscreened offspring break the NUCLEO's limits in these searches
    assert over[True] == 0


def test_a_board_no_child_fits_still_gets_its_trials() -> None:
    space = load_space("ds_cnn")
    sampler = DistinctNSGAIISampler(space.params_signature, fits=lambda params: False, seed=0,
                                    population_size=4, tries=3)
    assert len(_search(space, sampler, trials=10)) == 10


@pytest.mark.parametrize("explore", [0, 3])
def test_the_chooser_weighs_models_drawn_from_the_whole_space(explore: int) -> None:
    space = load_space("mixed_cnn")
    shape = (28, 28, 1)

    def fits(params: dict[str, object]) -> bool:
        arch = space.arch_from_dict(json.loads(space.params_signature(params) or "{}")["arch"])
        return not any(c > 0 for c in _fits(BOARD, estimate_arch(space, arch, shape, 10, BOARD,
                                                                  None)))

    seen: list[list[str]] = []

    def choose_last(study: optuna.Study, children: list[dict[str, object]]
                    ) -> tuple[int, dict[str, float]]:
        seen.append([space.params_signature(c) or "" for c in children])
        return len(children) - 1, {}

    sampler = DistinctNSGAIISampler(space.params_signature, fits=fits, choose=choose_last,
                                    seed=0, population_size=4, pool=3, explore=explore)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    trained = _search(space, sampler, trials=12, study=study, shape=shape)
    assert all(len(set(children)) == len(children) for children in seen)
    assert _over_limits(space, trained[4:], shape) == 0
    drawn = [t.system_attrs.get("offspring:drawn") for t in study.trials[4:]]
    if explore:
        assert len(seen) == 8  # every offspring trial chose among bred and drawn children
        assert all(len(children) == 3 + explore for children in seen)
        assert drawn == [1] * 8
    else:
        assert all(len(children) <= 3 for children in seen) and drawn == [None] * 8
    for before, children in enumerate(seen, start=4):
        assert not set(children) & set(trained[:before])  # every child is new to the study
