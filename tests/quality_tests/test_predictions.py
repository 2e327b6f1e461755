"""Replaying a search's accuracy predictions from a results file
(``bench.search_quality predictions``)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

# The benchmark lives beside the package, not in it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.search_quality.__main__ import main  # noqa: E402
from bench.search_quality.predictions import (  # noqa: E402
    PREDICTORS,
    compression_of,
    replay,
    replay_search,
)
from tinynas.spaces import Compression  # noqa: E402
from tinynas.surrogate import MIN_TRAINED  # noqa: E402


@pytest.mark.parametrize("compression", [
    Compression("ptq"),
    Compression("qat", pruning="channel", sparsity=0.6, clusters=16),
    Compression("ptq", pruning="2:4", sparsity=0.5, distillation=True),
    Compression("qat", pruning="unstructured", sparsity=0.35, clusters=8, distillation=True),
])
def test_a_compression_summary_reads_back_as_its_settings(compression: Compression) -> None:
    assert compression_of(compression.summary()) == compression


def test_an_unknown_compression_summary_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown part 'channel fifty'"):
        compression_of("qat, channel fifty")
    with pytest.raises(ValueError, match="compression summary 'fp16'"):
        compression_of("fp16")


def _trial(number: int, params: int, accuracy: float, **extra: object) -> dict:
    return {"number": number, "state": "COMPLETE", "accuracy_int8": accuracy,
            "macs": 10 * params, "params": params, "estimated_ram_bytes": 1000 + params // 10,
            "compression_summary": "qat", **extra}


def _search(seed: int, sampler: str = "nsga2") -> dict:
    """A search whose accuracy follows its models' size on a logistic curve, with noise: 8
    warm-start trials, then 16 offspring, one of them a reused twin."""
    rng = np.random.default_rng(seed)
    trials = []
    for number in range(24):
        params = int(rng.integers(200, 60000))
        accuracy = 1 / (1 + math.exp(-(math.log(params) - 7.0))) + rng.normal(0, 0.01)
        extra: dict[str, object] = {"warm_start": True} if number < 8 else {}
        if number == 12:
            extra["reused_from"] = 3
        trials.append(_trial(number, params, float(np.clip(accuracy, 0, 1)), **extra))
    trials.append({"number": 24, "state": "FAIL"})
    return {"kind": "search", "dataset": "digits", "sampler": sampler, "space": "mixed_cnn",
            "trials": trials}


def test_each_offspring_is_predicted_from_the_models_trained_before_it() -> None:
    replayed = replay_search(_search(0), "logit trend + GP")
    assert len(replayed.pairs) == 15  # 16 offspring, less the reused twin
    assert MIN_TRAINED <= 8  # the warm start is enough to predict the first offspring
    predicted, measured = np.array(replayed.pairs).T
    assert np.corrcoef(predicted, measured)[0, 1] > 0.9
    assert np.all((predicted > 0) & (predicted < 1))


def test_every_model_replays_every_search_of_the_samplers_asked() -> None:
    results = {"a": _search(0), "b": _search(1, "random"), "c": {"kind": "reference"}}
    replayed = replay(results, ("nsga2",))
    assert sorted(r.predictor for r in replayed) == sorted(PREDICTORS)
    assert {r.sampler for r in replayed} == {"nsga2"}
    assert replay(results, ("nsga2",), space="ds_cnn") == []


def test_the_command_prints_one_row_per_model_and_refuses_bad_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "results.json"
    good.write_text(json.dumps({"results": {"a": _search(0), "b": _search(1)}, "runs": []}))
    assert main(["predictions", "--results", str(good)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| digits")]
    assert len(rows) == len(PREDICTORS)
    assert all("| nsga2 | 2 | 30 |" in row for row in rows)

    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert main(["predictions", "--results", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is not a results file" in err
    assert main(["predictions", "--results", str(good), "--samplers", "random"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "--results: no search of sampler 'random' has a trial to predict"
