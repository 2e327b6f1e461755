"""The benchmark grid: each dataset's own space, or one space for every dataset of a run, kept
apart in the results by the setting tag."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The benchmark lives beside the package, not in it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.search_quality.__main__ import main  # noqa: E402
from bench.search_quality.grid import SearchJob, Settings, jobs  # noqa: E402
from bench.search_quality.summary import cells  # noqa: E402


def test_each_dataset_is_searched_in_its_own_space_by_default() -> None:
    grid = jobs(("digits", "basic_motions"), ("nucleo_l432kc",), (0,), ("nsga2",),
                Settings(trials=4, epochs=2), references=False)
    assert [(j.dataset, j.space) for j in grid if isinstance(j, SearchJob)] == [
        ("digits", "ds_cnn"), ("basic_motions", "cnn1d")]
    assert grid[0].key() == "search/t4-e2/digits/nucleo_l432kc/nsga2/s0"


def test_a_space_of_the_run_replaces_every_dataset_s_and_names_the_setting() -> None:
    settings = Settings(trials=4, epochs=2, space="mixed_cnn")
    (job,) = jobs(("fashion_mnist:3000",), ("nucleo_l432kc",), (1,), ("random",), settings,
                  references=False)
    assert isinstance(job, SearchJob)
    assert job.space == job.to_dict()["space"] == "mixed_cnn"
    assert job.key() == "search/t4-e2-mixed_cnn/fashion_mnist:3000/nucleo_l432kc/random/s1"
    row = {**job.to_dict(), "trials": [], "wall_s": 1.0, "cpu_s": 1.0}
    (cell,) = cells({job.key(): row})
    assert cell.setting == "t4-e2-mixed_cnn"


def test_folds_on_the_front_name_the_setting_apart_from_folds_on_every_candidate() -> None:
    front = Settings(trials=4, epochs=2, folds=3, fold_trials="front")
    assert front.tag() == "t4-e2-f3front"
    assert Settings(trials=4, epochs=2, folds=3, fold_trials="all").tag() == "t4-e2-f3"
    (job,) = jobs(("digits",), ("nucleo_l432kc",), (0,), ("nsga2",), front, references=False)
    assert isinstance(job, SearchJob) and job.to_dict()["fold_trials"] == "front"
    assert "fold_trials" not in SearchJob("digits", "nucleo_l432kc", 0, "nsga2",
                                          Settings(trials=4, epochs=2, folds=3)).to_dict()


COSINE = Path(__file__).resolve().parents[2] / "bench" / "search_quality" / "spaces" / \
    "mixed_cnn_cosine.toml"


def test_a_space_file_names_the_setting_by_its_file_name() -> None:
    settings = Settings(trials=4, epochs=2, space=str(COSINE))
    (job,) = jobs(("digits",), ("nucleo_l432kc",), (0,), ("nsga2",), settings, references=False)
    assert isinstance(job, SearchJob) and job.space == str(COSINE)
    assert job.key() == "search/t4-e2-mixed_cnn_cosine/digits/nucleo_l432kc/nsga2/s0"
    (cell,) = cells({job.key(): {**job.to_dict(), "trials": [], "wall_s": 1.0, "cpu_s": 1.0}})
    assert cell.setting == "t4-e2-mixed_cnn_cosine"


def test_the_cosine_space_is_mixed_cnn_but_for_its_schedule() -> None:
    from dataclasses import replace

    from tinynas.spaces import load_space

    shipped, cosine = load_space("mixed_cnn").config, load_space(str(COSINE)).config
    assert shipped.training.lr_schedule == "constant" and cosine.training.lr_schedule == "cosine"
    assert cosine.arch == shipped.arch and cosine.compression == shipped.compression
    assert replace(cosine.training, lr_schedule="constant") == shipped.training
    assert (cosine.family, cosine.input_ranks) == (shipped.family, shipped.input_ranks)


def test_an_unknown_space_is_refused_in_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.json"
    assert main(["run", "--space", "dscnn", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--space: unknown search space 'dscnn'" in err
    assert "mixed_cnn" in err and not out.exists()
