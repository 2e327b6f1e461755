"""``tinynas search`` and ``tinynas worker``."""

from __future__ import annotations

import argparse
import sys

from tinynas import study as studies


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--storage", default=studies.DEFAULT_STORAGE,
                        help=f"study database URL (default {studies.DEFAULT_STORAGE})")
    if name == "worker":
        parser.add_argument("--study", required=True, help="the study to join")
        parser.add_argument("--trials", type=int, default=None,
                            help="stop when the study holds this many complete trials "
                                 "(default: the number it was created with)")
        parser.add_argument("--timeout", type=float, default=None, help="stop after S seconds")
        parser.set_defaults(func=_worker)
        return
    parser.add_argument("--board", required=True, help="board name or constraint file")
    parser.add_argument("--space", required=True, help="search-space name or file")
    parser.add_argument("--dataset", required=True, help="dataset name or path")
    parser.add_argument("--trials", type=int, required=True,
                        help="complete trials the study should hold (a resumed study tops up)")
    parser.add_argument("--timeout", type=float, default=None, help="stop after S seconds")
    parser.add_argument("--study", default=None,
                        help="study name (default: BOARD-SPACE-DATASET)")
    parser.add_argument("--objectives", default=",".join(studies.DEFAULT_OBJECTIVES),
                        help="comma-separated: accuracy,ram,flash,latency")
    parser.add_argument("--sampler", default="nsga2", help="nsga2, tpe or random")
    parser.add_argument("--seed", type=int, default=0, help="seed of sampler, splits and training")
    parser.add_argument("--artifact-dir", default=None,
                        help="where trial artifacts go (default: beside the SQLite file); "
                             "fixed when the study is created")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the space file's training epochs")
    parser.add_argument("--teacher", default=None,
                        help="a Keras model (.h5/.keras) to distill from (default: the best float "
                             "model trained so far in the study)")
    parser.add_argument("--profile", default=None,
                        help="a calibrated latency profile (JSON from `tinynas calibrate`) for "
                             "the board's core")
    parser.add_argument("--fidelity", default="full",
                        help="full: every candidate gets the whole training budget; halving: a "
                             "short probe first, only promising candidates go on")
    parser.add_argument("--folds", default=None,
                        help="choose models on K-fold cross-validated validation accuracy (each "
                             "candidate trains K times, each extra fold holding out a "
                             "validation-sized chunk of the training split; default 1: the "
                             "validation split alone); "
                             "auto: 1 when the validation split holds at least 100 samples, "
                             "else up to 5 (new studies; a study keeps its folds)")
    parser.add_argument("--fold-trials", default=None,
                        help="with --folds K > 1, which trained candidates get the K - 1 extra "
                             "trainings: all (default), or front: only those whose validation-"
                             "split accuracy puts them on the study's front, so every model the "
                             "front offers is cross-validated at a fraction of the cost (new "
                             "studies; a study keeps its choice)")
    parser.add_argument("--no-warm-start", dest="warm_start", action="store_false",
                        help="let the sampler draw its first generation at random instead of "
                             "choosing it by estimate (new studies; random search never has one)")
    parser.add_argument("--workers", type=int, default=1,
                        help="local worker processes sharing the study")
    parser.set_defaults(func=_search)


def _search(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tinynas.errors import StudyError
    from tinynas.folds import parse_folds
    from tinynas.pipeline import SearchConfig, prepare

    if args.workers < 1:
        raise StudyError(f"--workers must be at least 1, got {args.workers}")
    if args.epochs is not None and args.epochs < 1:
        raise StudyError(f"--epochs must be at least 1, got {args.epochs}")
    config = SearchConfig(
        board=args.board, space=args.space, dataset=args.dataset, trials=args.trials,
        timeout=args.timeout, storage=args.storage, study_name=args.study,
        objectives=studies.parse_objectives(args.objectives), sampler=args.sampler,
        seed=args.seed, artifact_dir=Path(args.artifact_dir) if args.artifact_dir else None,
        epochs=args.epochs, teacher=Path(args.teacher) if args.teacher else None,
        profile=Path(args.profile) if args.profile else None, fidelity=args.fidelity,
        warm_start=args.warm_start,
        folds=parse_folds(args.folds) if args.folds is not None else None,
        fold_trials=args.fold_trials)
    ctx = prepare(config)
    print(f"study {ctx.study.study_name!r} in {args.storage}: {ctx.space.name} on "
          f"{ctx.board.name} with {args.dataset} ({len(ctx.data.y_train)} train / "
          f"{len(ctx.data.y_val)} val / {len(ctx.data.y_test)} test), "
          f"objectives {','.join(ctx.objectives)}", file=sys.stderr)
    if args.workers > 1:
        from tinynas.workers import run_local_workers

        run_local_workers(args.storage, ctx.study.study_name, args.trials, args.workers,
                          args.timeout)
    else:
        from tinynas.workers import stop_on_signals

        with stop_on_signals():
            _run(ctx, args.timeout)
    _summary(ctx.study, args.storage)
    return 0


def _run(ctx: object, timeout: float | None) -> None:
    from tinynas.pipeline import SearchContext, run
    from tinynas.progress import Progress

    assert isinstance(ctx, SearchContext)
    progress = Progress(ctx.trials)
    try:
        run(ctx, timeout=timeout, callbacks=[progress])
    finally:
        progress.close()


def _summary(study: object, storage: str) -> None:
    import optuna

    assert isinstance(study, optuna.Study)
    front = studies.pareto_trials(study)
    print(f"{len(front)} feasible Pareto-optimal trials; see: tinynas pareto --storage {storage} "
          f"--study {study.study_name}", file=sys.stderr)


def _worker(args: argparse.Namespace) -> int:
    from tinynas.errors import StudyError
    from tinynas.pipeline import context_for_worker
    from tinynas.workers import stop_on_signals

    if args.trials is not None and args.trials < 1:
        raise StudyError(f"--trials must be at least 1, got {args.trials}")
    if args.timeout is not None and args.timeout <= 0:
        raise StudyError(f"--timeout must be positive seconds, got {args.timeout}")
    study = studies.open_study(args.storage, args.study)
    trials = args.trials or int(study.user_attrs.get("trials", 0)) or None
    if trials is None:
        raise StudyError("--trials is required: the study does not record a trial budget")
    with stop_on_signals():
        ctx = context_for_worker(args.storage, args.study, trials)
        _run(ctx, args.timeout)
    return 0
