"""Command line of the search-quality benchmark (see the package's description)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from bench.search_quality.grid import (
    DEFAULT_BOARDS,
    DEFAULT_DATASETS,
    DEFAULT_SAMPLERS,
    ORDERS,
    Settings,
    jobs,
)
from tinynas.spaces import LR_SCHEDULES

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = ROOT / "bench" / "results" / "search_quality.json"
WORKDIR = ROOT / "studies" / "search_quality"


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.search_quality")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the grid (continues an earlier run of the same file)")
    run.add_argument("--trials", type=int, default=16, help="complete trials per search")
    run.add_argument("--epochs", type=int, default=8, help="float training epochs")
    run.add_argument("--fidelity", default=None,
                     help="the search's fidelity schedule (full or halving), where supported")
    run.add_argument("--folds", type=int, default=None,
                     help="the folds every search selects on (default: the search's own choice)")
    run.add_argument("--fold-trials", choices=("all", "front"), default=None,
                     help="which candidates the extra folds score (tinynas search --fold-trials; "
                     "default: the search's own choice)")
    run.add_argument("--space", default=None,
                     help="search every dataset in this space instead of the dataset's own")
    run.add_argument("--seeds", default="0,1,2")
    run.add_argument("--datasets", default=",".join(DEFAULT_DATASETS))
    run.add_argument("--boards", default=",".join(DEFAULT_BOARDS))
    run.add_argument("--samplers", default=",".join(DEFAULT_SAMPLERS))
    run.add_argument("--no-references", action="store_true")
    run.add_argument("--order", choices=ORDERS, default="dataset",
                     help="finish each dataset's seeds first, or each seed's datasets first")
    run.add_argument("--jobs", type=int, default=1, help="jobs at once, one process each")
    run.add_argument("--budget-minutes", type=float, default=None,
                     help="start no job after this many minutes; running ones finish")
    run.add_argument("--out", type=Path, default=RESULTS)
    run.add_argument("--workdir", type=Path, default=WORKDIR,
                     help="study databases and artifacts of the searches")
    report = sub.add_parser("report", help="print the Markdown tables of a results file")
    report.add_argument("--results", type=Path, nargs="+", default=[RESULTS],
                        help="one or more results files, reported together")
    kids = sub.add_parser("offspring", help="what each search's trials added to its front, "
                          "and how predictable their accuracy was, from a grid's work directory")
    kids.add_argument("--workdir", type=Path, nargs="+", default=[WORKDIR])
    pred = sub.add_parser("predictions", help="how well the accuracy models predict each "
                          "search's int8 accuracies before training, replayed from results files")
    pred.add_argument("--results", type=Path, nargs="+", required=True)
    pred.add_argument("--samplers", default="nsga2",
                      help="comma-separated samplers whose searches are replayed")
    pred.add_argument("--space", default=None, help="replay only the searches of this space")
    rep = sub.add_parser("repeats", help="train models on fixed splits with several training "
                         "seeds (continues an earlier run of the same file), then print the table")
    rep.add_argument("--models", type=Path, required=True, help="TOML file of [[model]] tables")
    rep.add_argument("--dataset", default="fashion_mnist:3000")
    rep.add_argument("--splits", default="0,1,2", help="dataset seeds (the split)")
    rep.add_argument("--training-seeds", default="0,1,2,3,4")
    rep.add_argument("--epochs", type=int, default=5, help="float training epochs")
    rep.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="constant",
                     help="learning-rate schedule of the float training, for every model")
    rep.add_argument("--learning-rate", type=float, default=None,
                     help="learning rate of every model's float training (default: each "
                     "model's space's)")
    rep.add_argument("--batch-size", type=int, default=None,
                     help="batch size of every model's training (default: each model's "
                     "space's)")
    rep.add_argument("--augment", default="none",
                     help="comma-separated augmentations for every model's training (names of "
                     "tinynas/augment.py for the dataset's modality; default none)")
    rep.add_argument("--only", default=None, help="comma-separated model names to train "
                     "(default: every model of the file)")
    rep.add_argument("--baseline", default=None,
                     help="model name the others are compared with in the table")
    rep.add_argument("--jobs", type=int, default=1, help="trainings at once, one process each")
    rep.add_argument("--threads", type=int, default=1,
                     help="TensorFlow threads per training (the grid uses 1)")
    rep.add_argument("--out", type=Path, required=True)
    rep.add_argument("--workdir", type=Path, default=WORKDIR,
                     help="where teachers trained for students are kept (teachers/)")
    prof = sub.add_parser("profile", help="split one candidate's training time by step")
    prof.add_argument("--dataset", default="digits")
    prof.add_argument("--reference", default="keras_mnist_cnn")
    prof.add_argument("--epochs", type=int, default=8)
    prof.add_argument("--out", type=Path, default=None)
    return parser


def _command_line(argv: list[str] | None) -> str:
    return shlex.join([".venv/bin/python", "-m", "bench.search_quality",
                       *(argv if argv is not None else sys.argv[1:])])


def _repeats(args: argparse.Namespace, argv: list[str] | None) -> int:
    from bench.search_quality.repeats import (
        ModelsFileError,
        load_models,
        repeat_jobs,
        repeat_table,
    )
    from bench.search_quality.run import run_grid
    from tinynas.augment import parse_options
    from tinynas.datasets import load_dataset
    from tinynas.errors import TinyNASError

    try:
        models = load_models(args.models)
        splits = tuple(int(s) for s in _names(args.splits))
        seeds = tuple(int(s) for s in _names(args.training_seeds))
    except ModelsFileError as exc:
        print(f"--models: {exc}", file=sys.stderr)
        return 2
    except ValueError:
        print("--splits and --training-seeds: comma-separated integers", file=sys.stderr)
        return 2
    for flag, value in (("--epochs", args.epochs), ("--jobs", args.jobs),
                        ("--threads", args.threads), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            print(f"{flag}: must be at least 1, got {value}", file=sys.stderr)
            return 2
    if args.learning_rate is not None and not 0 < args.learning_rate < 1:
        print(f"--learning-rate: must be above 0 and below 1, got {args.learning_rate}",
              file=sys.stderr)
        return 2
    if args.only is not None:
        only = set(_names(args.only))
        unknown = only - {m.name for m in models}
        if unknown:
            print(f"--only: no model named {sorted(unknown)[0]!r} in {args.models}",
                  file=sys.stderr)
            return 2
        models = [m for m in models if m.name in only]
    if args.baseline is not None and args.baseline not in {m.name for m in models}:
        print(f"--baseline: no model named {args.baseline!r} in {args.models}", file=sys.stderr)
        return 2
    try:
        data_check = load_dataset(args.dataset, seed=splits[0] if splits else 0)
    except TinyNASError as exc:
        print(f"--dataset: {exc}", file=sys.stderr)
        return 2
    try:
        augment = tuple(parse_options(_names(args.augment), data_check.modality))
    except TinyNASError as exc:
        print(f"--augment: {exc}", file=sys.stderr)
        return 2
    grid = repeat_jobs(args.dataset, models, splits, seeds, args.epochs, args.lr_schedule,
                       augment, args.learning_rate, args.batch_size)
    data = run_grid(grid, args.out, args.workdir, args.jobs, _command_line(argv),
                    threads=args.threads)
    keys = {job.key() for job in grid}
    print(repeat_table([row for key, row in data["results"].items() if key in keys],
                       args.baseline))
    return 0


def _merged_results(paths: list[Path]) -> dict[str, Any] | None:
    """The results and runs of ``paths`` in one, a later file's rows replacing an earlier's of
    the same key (None, with one line on stderr, when a file is not a results file)."""
    merged: dict[str, Any] = {"results": {}, "runs": []}
    for path in paths:
        try:
            data = json.loads(path.read_text())
            merged["results"].update(data["results"])
            merged["runs"] += data.get("runs", [])
        except (OSError, ValueError, KeyError, TypeError):
            print(f"--results: {path} is not a results file of this benchmark "
                  "(a JSON object with \"results\")", file=sys.stderr)
            return None
    return merged


def _predictions(args: argparse.Namespace) -> int:
    from bench.search_quality.predictions import predictions_table, replay

    merged = _merged_results(args.results)
    if merged is None:
        return 2
    try:
        replayed = replay(merged["results"], _names(args.samplers), args.space)
    except ValueError as exc:
        print(f"--results: {exc}", file=sys.stderr)
        return 2
    if not any(r.pairs for r in replayed):
        print(f"--results: no search of sampler {args.samplers!r}"
              + (f" in space {args.space!r}" if args.space else "")
              + " has a trial to predict", file=sys.stderr)
        return 2
    print(predictions_table(replayed))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.command == "run":
        import dataclasses

        from bench.search_quality.run import run_grid
        from tinynas.pipeline import SearchConfig

        if args.fidelity and "fidelity" not in {f.name for f in dataclasses.fields(SearchConfig)}:
            print("--fidelity: this version of the search pipeline has no fidelity schedule",
                  file=sys.stderr)
            return 2

        if args.space:
            from tinynas.errors import TinyNASError
            from tinynas.spaces import load_space

            try:
                load_space(args.space)
            except TinyNASError as exc:
                print(f"--space: {exc}", file=sys.stderr)
                return 2
        settings = Settings(trials=args.trials, epochs=args.epochs, fidelity=args.fidelity,
                            space=args.space, folds=args.folds, fold_trials=args.fold_trials)
        grid = jobs(_names(args.datasets), _names(args.boards),
                    tuple(int(s) for s in _names(args.seeds)), _names(args.samplers), settings,
                    references=not args.no_references, order=args.order)
        run_grid(grid, args.out, args.workdir, args.jobs, _command_line(argv),
                 args.budget_minutes)
        return 0
    if args.command == "report":
        from bench.search_quality.report import render

        merged = _merged_results(args.results)
        if merged is None:
            return 2
        print(render(merged))
        return 0
    if args.command == "repeats":
        return _repeats(args, argv)
    if args.command == "predictions":
        return _predictions(args)
    if args.command == "offspring":
        from bench.search_quality.offspring import offspring_table, workdir_facts

        missing = [str(w) for w in args.workdir if not w.is_dir()]
        if missing:
            print(f"--workdir: no such directory: {', '.join(missing)}", file=sys.stderr)
            return 2
        print(offspring_table(workdir_facts(args.workdir)))
        return 0
    from bench.search_quality.profile import format_profile, profile_candidate

    row = profile_candidate(args.dataset, args.reference, args.epochs)
    if args.out:
        from tinynas.study import atomic_write

        atomic_write(args.out, json.dumps(row, indent=1) + "\n")
    print(format_profile(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
