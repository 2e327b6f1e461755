"""Running one job of the grid in the current process: a search, a reference training, or one
repeated training."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.search_quality.grid import Job, ReferenceJob, SearchJob
from bench.search_quality.repeats import RepeatJob

if TYPE_CHECKING:
    import optuna

    from tinynas.spaces import Arch, Compression, SearchSpace
    from tinynas.train import TrainedCandidate

#: Trial attributes kept in the results, beside the trial's number and state.
TRIAL_ATTRS = ("trained", "reused_from", "accuracy_int8", "accuracy_float",
               "accuracy_int8_val", "accuracy_float_val", "fold_accuracy_int8_val",
               "fold_sizes", "cross_validated",
               "estimated_ram_bytes", "estimated_flash_bytes", "estimated_latency_ms", "macs",
               "params", "tflite_bytes", "measured_arena_bytes", "epochs", "train_seconds",
               "arch_summary", "compression_summary", "fail_reason", "probe_accuracy",
               "promoted", "not_promoted", "warm_start")


class TrialClock:
    """An Optuna callback recording the wall and CPU seconds between finished trials.

    CPU time is the process's (every thread of TensorFlow included), so what another job on the
    machine uses is not counted: the figure is what the search itself costs.
    """

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.by_trial: dict[int, tuple[float, float]] = {}

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.by_trial[trial.number] = (round(wall - self.wall, 3), round(cpu - self.cpu, 3))
        self.wall, self.cpu = wall, cpu


def _trial_row(trial: optuna.trial.FrozenTrial, clock: TrialClock) -> dict[str, Any]:
    from tinynas.study import is_feasible

    wall, cpu = clock.by_trial.get(trial.number, (None, None))
    row: dict[str, Any] = {"number": trial.number, "state": trial.state.name,
                           "feasible": is_feasible(trial), "wall_s": wall, "cpu_s": cpu}
    row.update({k: trial.user_attrs[k] for k in TRIAL_ATTRS if k in trial.user_attrs})
    # What NSGA-II's chooser expected of the child (tinynas.offspring).
    row.update({k: v for k, v in trial.system_attrs.items() if k.startswith("offspring:")})
    stages = trial.user_attrs.get("stages") or []
    if stages and "arena_bytes" in stages[-1]:
        # The estimate of the converted model, as for the references: the trial's own
        # estimated_* figures come from the graph predicted before training.
        last = stages[-1]
        row.update(tflite_ram_bytes=int(last["arena_bytes"]),
                   tflite_flash_bytes=int(last["flash_bytes"]),
                   tflite_latency_ms=float(last["latency_ms"] or 0.0))
    return row


def run_search(job: SearchJob, workdir: Path) -> dict[str, Any]:
    """Run one search to its trial budget in a fresh study and return its trials.

    Args:
        job: The search.
        workdir: Where the job's study database and artifacts go (replaced if present, so a
            job cut short earlier starts over).

    Returns:
        The job's description with ``trials`` (one row per trial), ``wall_s`` and ``cpu_s``.
    """
    from tinynas.pipeline import SearchConfig, prepare, run

    cell = workdir / _file_name(job.key())
    shutil.rmtree(cell, ignore_errors=True)
    cell.mkdir(parents=True)
    extra: dict[str, Any] = {}
    if job.settings.fidelity is not None:
        extra["fidelity"] = job.settings.fidelity
    if job.settings.folds is not None:
        extra["folds"] = job.settings.folds
    if job.settings.fold_trials is not None:
        extra["fold_trials"] = job.settings.fold_trials
    config = SearchConfig(board=job.board, space=job.space, dataset=job.dataset,
                          trials=job.settings.trials, storage=f"sqlite:///{cell / 'study.db'}",
                          study_name="bench", sampler=job.sampler, seed=job.seed,
                          artifact_dir=cell / "artifacts", epochs=job.settings.epochs, **extra)
    wall, cpu = time.perf_counter(), time.process_time()
    ctx = prepare(config)
    clock = TrialClock()
    run(ctx, callbacks=[clock])
    trials = [_trial_row(t, clock) for t in ctx.study.get_trials(deepcopy=False)]
    return {**job.to_dict(), "trials": trials, "selection_folds": ctx.folds,
            "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(time.process_time() - cpu, 2)}


def run_reference(job: ReferenceJob) -> dict[str, Any]:
    """Train one reference model by the search's pipeline and estimate it on every board.

    The figures are those a search records for a trained trial: int8 test accuracy, and the
    estimate of the converted ``.tflite`` (arena, flash, latency) on each board.
    """
    from tinynas.boards import load_board
    from tinynas.estimator import estimate_tflite
    from tinynas.references import get_reference

    reference = get_reference(job.reference)
    space, arch = reference.load()
    result, _, timing = _train(space, arch, reference.compression, job.dataset, job.seed,
                               job.seed, job.settings.epochs)
    whole = estimate_tflite(result.tflite)
    per_board = {}
    for name in job.boards:
        board = load_board(name)
        est = estimate_tflite(result.tflite, board)
        per_board[name] = {"ram_bytes": int(est.arena_bytes), "flash_bytes": int(est.flash_bytes),
                           "latency_ms": float(est.latency_ms or 0.0),
                           "fits": (est.arena_bytes <= board.ram_limit
                                    and est.flash_bytes <= board.flash_limit
                                    and (est.latency_ms or 0.0) <= board.latency_ms)}
    return {**job.to_dict(), "title": reference.title, "space": reference.space,
            "accuracy_int8": float(result.accuracy_int8),
            "accuracy_float": float(result.accuracy_float),
            "epochs_trained": int(result.epochs), "tflite_bytes": len(result.tflite),
            "macs": int(whole.macs), "params": int(whole.params), "boards": per_board,
            **timing}


def run_repeat(job: RepeatJob, workdir: Path) -> dict[str, Any]:
    """Train one model of :func:`bench.search_quality.repeats.repeat_jobs` and estimate its
    arena (no board); a student's teacher comes from ``workdir`` when an earlier student
    trained it for the same split and seed."""
    from tinynas.estimator import estimate_tflite

    training = job.training()
    teacher = _teacher(job, workdir) if job.model.teacher is not None else None
    space, arch, compression = job.model.load()
    result, test_samples, timing = _train(space, arch, compression, job.dataset, job.split,
                                          job.training_seed, job.model_epochs, training,
                                          teacher)
    est = estimate_tflite(result.tflite)
    return {**job.to_dict(), "accuracy_int8": float(result.accuracy_int8),
            "accuracy_float": float(result.accuracy_float), "test_samples": test_samples,
            "epochs_trained": int(result.epochs), "ram_bytes": int(est.arena_bytes),
            "flash_bytes": int(est.flash_bytes), **timing}


def _teacher(job: RepeatJob, workdir: Path) -> Any:
    """The float model of ``job``'s teacher for its split and training seed: loaded from
    ``workdir/teachers`` if kept there, else trained and kept (written whole, then renamed)."""
    from tinynas.train import load_teacher

    assert job.model.teacher is not None
    path = workdir / "teachers" / (_file_name(job.teacher_key()) + ".h5")
    if path.is_file():
        return load_teacher(path)
    t_space, t_arch, t_compression = job.model.teacher.load()
    model = _train(t_space, t_arch, t_compression, job.dataset, job.split, job.training_seed,
                   job.teacher_epochs, job.training())[0].float_model
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.h5")
    model.save(str(partial), include_optimizer=False)
    partial.replace(path)
    return model


def _file_name(key: str) -> str:
    """A result key as a file or folder name."""
    return key.replace("/", "_").replace(":", "-")


def _train(space: SearchSpace, arch: Arch, compression: Compression, dataset: str, split: int,
           seed: int, epochs: int, training: dict[str, Any] | None = None,
           teacher: Any = None) -> tuple[TrainedCandidate, int, dict[str, float]]:
    """Train by the search's pipeline on ``dataset`` split by ``split``, with training seed
    ``seed``, ``epochs`` float epochs, ``training`` in place of those fields of the space's
    ``[training]`` table, and a Keras ``teacher`` to distill from: the result, the test
    samples, and the wall and CPU seconds of the training (the student's alone)."""
    from tinynas.datasets import load_dataset
    from tinynas.train import train_candidate

    data = load_dataset(dataset, seed=split)
    config = replace(space.config.training, epochs=epochs, **(training or {}))
    wall, cpu = time.perf_counter(), time.process_time()
    result = train_candidate(space, arch, compression, data, config, seed=seed,
                             teacher=teacher)
    return result, len(data.y_test), {"wall_s": round(time.perf_counter() - wall, 2),
                                      "cpu_s": round(time.process_time() - cpu, 2)}


def run_job(job: Job, workdir: Path) -> dict[str, Any]:
    """Run any kind of job; a :class:`tinynas.errors.TinyNASError` becomes an ``error`` row."""
    from tinynas.errors import TinyNASError

    try:
        if isinstance(job, SearchJob):
            return run_search(job, workdir)
        if isinstance(job, RepeatJob):
            return run_repeat(job, workdir)
        return run_reference(job)
    except TinyNASError as exc:
        return {**job.to_dict(), "error": str(exc)}
    finally:
        _release_keras()


def _release_keras() -> None:
    """Drop the graphs of finished models so a long-lived worker does not grow."""
    import sys

    if "tf_keras" in sys.modules:
        sys.modules["tf_keras"].backend.clear_session()
