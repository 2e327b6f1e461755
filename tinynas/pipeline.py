"""The search driver: validate a search before it starts, create or resume its study, and run
trials (estimate -> refuse what cannot fit -> train, compress, convert -> evaluate -> measure).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinynas import __version__
from tinynas import study as studies
from tinynas.boards import Board, load_board
from tinynas.errors import SearchSpaceError, StudyError, TinyNASError, unknown_name
from tinynas.fidelity import FIDELITIES, NotPromoted, Probe, probe_epochs, promote
from tinynas.folds import (
    CHUNKS_KEY,
    FOLD_TRIALS_KEY,
    FOLDS_KEY,
    SIZED_CHUNKS,
    check_fold_trials,
    check_folds,
    cross_validate,
    resolve_folds,
    selection_note,
    sized_chunks,
    ungrouped_split,
)

if TYPE_CHECKING:
    import optuna

    from tinynas.datasets import Dataset
    from tinynas.estimator import Estimate
    from tinynas.latency import CoreProfile
    from tinynas.spaces import Arch, Compression, SearchSpace
    from tinynas.surrogate import Candidate


@dataclass
class SearchConfig:
    """What ``tinynas search`` was asked to do."""

    board: str
    space: str
    dataset: str
    trials: int
    timeout: float | None = None
    storage: str = studies.DEFAULT_STORAGE
    study_name: str | None = None
    objectives: tuple[str, ...] = studies.DEFAULT_OBJECTIVES
    sampler: str = "nsga2"
    seed: int = 0
    artifact_dir: Path | None = None
    epochs: int | None = None
    teacher: Path | None = None
    profile: Path | None = None
    fidelity: str = "full"
    warm_start: bool = True
    folds: int | str | None = None
    fold_trials: str | None = None


@dataclass
class SearchContext:
    """Validated parts of a search, shared by every trial of one worker."""

    board: Board
    space: SearchSpace
    data: Dataset
    input_shape: tuple[int, ...]
    num_classes: int
    study: optuna.Study
    objectives: tuple[str, ...]
    trials: int
    seed: int
    epochs: int | None = None
    profile: CoreProfile | None = None
    fidelity: str = "full"
    folds: int = 1
    sized_folds: bool = True
    fold_trials: str = "all"
    teacher_cache: dict[int, Any] = field(default_factory=dict)


def _fits(board: Board, est: Estimate) -> list[float]:
    """Constraint values in :data:`tinynas.study.CONSTRAINTS` order; above 0 breaks a limit."""
    latency = est.latency_ms if est.latency_ms is not None else 0.0
    return [est.arena_bytes / board.ram_limit - 1.0,
            est.flash_bytes / board.flash_limit - 1.0,
            latency / board.latency_ms - 1.0]


def estimate_arch(space: SearchSpace, arch: Arch, input_shape: tuple[int, ...],
                  num_classes: int, board: Board | None,
                  profile: CoreProfile | None = None) -> Estimate:
    """Analytic estimate of one architecture, before any training."""
    from tinynas.estimator import estimate_graph

    return estimate_graph(space.graph(arch, input_shape, num_classes), board, target="mcu",
                          profile=profile)


class ChildEstimates:
    """Analytic estimates of the models sets of Optuna parameters stand for, kept by model, for
    the sampler's screen and chooser.

    Args:
        space: Decodes the parameters.
        board: Whose limits the screen applies.
        input_shape: The model's input shape (batch excluded).
        num_classes: Classifier width.
        profile: Calibrated latency profile (None: the board core's default).
    """

    def __init__(self, space: SearchSpace, board: Board, input_shape: tuple[int, ...],
                 num_classes: int, profile: CoreProfile | None = None):
        self.space = space
        self.board = board
        self._shape = input_shape
        self._classes = num_classes
        self._profile = profile
        self._known: dict[str, tuple[Estimate, Compression]] = {}

    def estimate(self, params: Mapping[str, Any]) -> tuple[Estimate, Compression] | None:
        """The estimate and the compression of the model ``params`` stand for (None when the
        parameters do not say)."""
        model = self.space.params_model(params)
        if model is None:
            return None
        key = self.space.signature(*model)
        if key not in self._known:
            self._known[key] = (estimate_arch(self.space, model[0], self._shape, self._classes,
                                              self.board, self._profile), model[1])
        return self._known[key]

    def fits(self, params: Mapping[str, Any]) -> bool:
        """Whether the model fits the board (True when the parameters do not say)."""
        model = self.estimate(params)
        return model is None or all(c <= 0 for c in _fits(self.board, model[0]))

    def describe(self, params: Mapping[str, Any]) -> Candidate | None:
        """What the sampler's chooser knows of the model before it is trained."""
        from tinynas.surrogate import candidate_of

        model = self.estimate(params)
        return None if model is None else candidate_of(*model)


def make_search_sampler(name: str, seed: int | None, objectives: Sequence[str],
                        space: SearchSpace, board: Board, input_shape: tuple[int, ...],
                        num_classes: int,
                        profile: CoreProfile | None) -> optuna.samplers.BaseSampler:
    """The sampler of a search: NSGA-II breeds only children whose models the study does not
    hold yet and whose estimates fit ``board`` (:mod:`tinynas.offspring`), and trains the one
    expected to add most to the front (:mod:`tinynas.surrogate`)."""
    from tinynas.surrogate import FrontChooser

    children = ChildEstimates(space, board, input_shape, num_classes, profile)
    return studies.make_sampler(name, seed, len(objectives), signature=space.params_signature,
                                fits=children.fits,
                                choose=FrontChooser(children.describe, board, objectives))


def stored_space_ref(study_attrs: Mapping[str, Any]) -> str:
    """The space a study searches, from its user attributes: the space file it was created
    with while that file is still there, else the space's name."""
    path = study_attrs["space_path"]
    return str(path) if Path(path).is_file() else str(study_attrs["space"])


def stored_profile(study_attrs: Mapping[str, Any]) -> CoreProfile | None:
    """The calibrated latency profile a study was created with (None: the core's default)."""
    if not study_attrs.get("latency_profile"):
        return None
    from tinynas.latency import CoreProfile

    return CoreProfile.from_dict(study_attrs["latency_profile"])


def load_profile(path: Path, board: Board) -> CoreProfile:
    """A calibrated latency profile for ``board``'s core.

    Raises:
        BoardFileError: The file is not a profile, or it was fitted for another core.
    """
    from tinynas.errors import BoardFileError
    from tinynas.latency import CoreProfile

    profile = CoreProfile.load(path)
    if profile.core != board.core:
        raise BoardFileError(f"--profile {path}: fitted for {profile.core}, but board "
                             f"{board.name!r} has a {board.core}")
    return profile


def check_smallest_fits(space: SearchSpace, board: Board, input_shape: tuple[int, ...],
                        num_classes: int, profile: CoreProfile | None = None) -> None:
    """Refuse a board on which even the space's smallest architecture breaks a limit.

    Raises:
        SearchSpaceError: With the figures of the smallest architecture and the board's limits.
    """
    est = estimate_arch(space, space.smallest(), input_shape, num_classes, board, profile)
    over = []
    if est.arena_bytes > board.ram_limit:
        over.append(f"RAM {est.arena_bytes} B > {board.ram_limit} B")
    if est.flash_bytes > board.flash_limit:
        over.append(f"flash {est.flash_bytes} B > {board.flash_limit} B")
    if est.latency_ms is not None and est.latency_ms > board.latency_ms:
        over.append(f"latency {est.latency_ms:.1f} ms > {board.latency_ms:g} ms")
    if over:
        raise SearchSpaceError(
            f"board {board.name!r} cannot fit even the smallest {space.name} architecture "
            f"for input {input_shape}: {'; '.join(over)}")


def _study_attrs(config: SearchConfig, board: Board, space: SearchSpace, data: Dataset,
                 input_shape: tuple[int, ...], artifact_dir: Path) -> dict[str, Any]:
    return {
        "board": board.to_dict(),
        "space": space.name,
        "space_path": str(space.config.path.resolve()),
        "space_family": space.config.family,
        "dataset": config.dataset,
        "dataset_name": data.name,
        "modality": data.modality,
        "class_names": list(data.class_names),
        "preprocessing": data.preprocessing,
        "input_shape": list(input_shape),
        "data_shape": list(data.input_shape),
        "split_sizes": [len(data.y_train), len(data.y_val), len(data.y_test)],
        "objectives": list(config.objectives),
        studies.SELECTION_KEY: "validation",
        "constraints": list(studies.CONSTRAINTS),
        "sampler": config.sampler,
        "seed": config.seed,
        "epochs": config.epochs,
        "fidelity": config.fidelity,
        "teacher_path": str(config.teacher.resolve()) if config.teacher else None,
        "artifact_dir": str(artifact_dir),
        "tinynas_version": __version__,
    }


def prepare(config: SearchConfig) -> SearchContext:
    """Validate a search and create (or resume) its study.

    Everything that can be refused is refused here, before any training: unknown names,
    malformed files, a space that does not fit the dataset, a board nothing fits, a study that
    exists with other settings.
    """
    import optuna

    from tinynas.datasets import load_dataset
    from tinynas.spaces import load_space

    if config.trials < 1:
        raise StudyError(f"--trials must be at least 1, got {config.trials}")
    if config.timeout is not None and config.timeout <= 0:
        raise StudyError(f"--timeout must be positive seconds, got {config.timeout}")
    if config.sampler not in studies.SAMPLERS:
        raise unknown_name("sampler", config.sampler, list(studies.SAMPLERS))
    if config.fidelity not in FIDELITIES:
        raise unknown_name("fidelity", config.fidelity, list(FIDELITIES))
    board = load_board(config.board)
    profile = load_profile(config.profile, board) if config.profile else None
    space = load_space(config.space)
    name = config.study_name or studies.study_name_for(board.name, space.name, config.dataset)
    store = studies.make_storage(config.storage)
    existing = _existing_attrs(store, name)
    if config.fold_trials is not None:
        # A study resumed without --folds keeps its own.
        check_fold_trials(config.fold_trials, int(existing.get(FOLDS_KEY, 1))
                          if existing is not None and config.folds is None else config.folds)
    if existing is not None:
        _check_resume(name, existing, board, space, config)
    data = load_dataset(config.dataset, seed=config.seed)
    where = f"dataset {config.dataset}"
    if existing is not None:
        folds = int(existing.get(FOLDS_KEY, 1))
    else:
        folds = resolve_folds(config.folds, len(data.y_train), len(data.y_val))
        check_folds(folds, data.y_train, where, data.train_groups)
    fold_trials = (existing.get(FOLD_TRIALS_KEY, "all") if existing is not None
                   else config.fold_trials or "all")
    note = selection_note(len(data.y_val), len(data.y_train), folds, where,
                          ungrouped_split(data), front_only=fold_trials == "front")
    if note is not None:
        studies.log().warning(note)
    input_shape = space.model_input_shape(tuple(data.input_shape))
    num_classes = len(data.class_names)
    if existing is not None and existing.get("latency_profile"):
        profile = stored_profile(existing)
    check_smallest_fits(space, board, input_shape, num_classes, profile)
    if config.teacher is not None:
        from tinynas.train import check_teacher, load_teacher

        check_teacher(load_teacher(config.teacher), input_shape, num_classes)

    objectives = tuple(existing["objectives"]) if existing else config.objectives
    directions = [studies.OBJECTIVES[o][0] for o in objectives]
    sampler = make_search_sampler(config.sampler, config.seed, objectives, space, board,
                                  input_shape, num_classes, profile)
    artifact_dir = (Path(existing["artifact_dir"]) if existing else
                    (config.artifact_dir or studies.default_artifact_dir(config.storage)).resolve())
    with studies._quiet_optuna():
        study = optuna.create_study(study_name=name, storage=store, directions=directions,
                                    sampler=sampler, load_if_exists=True)
        if existing is None:
            for key, value in _study_attrs(config, board, space, data, input_shape,
                                           artifact_dir).items():
                study.set_user_attr(key, value)
            study.set_user_attr(FOLDS_KEY, folds)
            study.set_user_attr(CHUNKS_KEY, SIZED_CHUNKS)
            study.set_user_attr(FOLD_TRIALS_KEY, fold_trials)
            study.set_user_attr("latency_profile", profile.to_dict() if profile else None)
            study.set_metric_names([studies.OBJECTIVES[o][2] for o in objectives])
            if config.warm_start:
                warm = _enqueue_first_generation(study, config, board, space, input_shape,
                                                 num_classes, profile)
                study.set_user_attr("warm_start", warm)
        study.set_user_attr("trials", config.trials)
    return SearchContext(board=board, space=space, data=data, input_shape=input_shape,
                         num_classes=num_classes, study=study, objectives=objectives,
                         trials=config.trials, seed=config.seed,
                         epochs=existing.get("epochs") if existing else config.epochs,
                         profile=profile,
                         fidelity=existing.get("fidelity", "full") if existing else config.fidelity,
                         folds=folds, sized_folds=sized_chunks(existing),
                         fold_trials=fold_trials)


def _enqueue_first_generation(study: optuna.Study, config: SearchConfig, board: Board,
                              space: SearchSpace, input_shape: tuple[int, ...], num_classes: int,
                              profile: CoreProfile | None) -> int:
    """Enqueue the estimator-chosen first generation (:mod:`tinynas.warmstart`) of a new study
    whose sampler has one; return how many candidates were enqueued."""
    from tinynas.warmstart import first_generation

    count = min(studies.FIRST_GENERATION.get(config.sampler, 0), config.trials)
    if count == 0:
        return 0

    def usage(arch: Arch) -> tuple[float, int] | None:
        est = estimate_arch(space, arch, input_shape, num_classes, board, profile)
        shares = [1.0 + c for c in _fits(board, est)]
        if max(shares) > 1.0:
            return None
        # The share of the board's box (RAM x flash x latency) the model leaves unused is what
        # its hypervolume can cover: usage is the rest.
        return 1.0 - math.prod(1.0 - s for s in shares), int(est.params)

    chosen = first_generation(space, count, config.seed, usage)
    for candidate in chosen:
        study.enqueue_trial(candidate.params, user_attrs={"warm_start": True})
    return len(chosen)


def _existing_attrs(store: optuna.storages.BaseStorage, name: str) -> dict[str, Any] | None:
    import optuna

    for summary in optuna.get_all_study_summaries(store):
        if summary.study_name == name:
            return dict(summary.user_attrs)
    return None


def _check_resume(name: str, attrs: dict[str, Any], board: Board, space: SearchSpace,
                  config: SearchConfig) -> None:
    """Resuming is allowed only with the settings the study was created with."""
    stored = {"board": attrs.get("board", {}).get("name"), "space": attrs.get("space"),
              "dataset": attrs.get("dataset")}
    asked: dict[str, Any] = {"board": board.name, "space": space.name,
                             "dataset": config.dataset}
    if isinstance(config.folds, int):
        stored["folds"] = int(attrs.get(FOLDS_KEY, 1))
        asked["folds"] = config.folds
    if config.fold_trials is not None:
        stored["fold-trials"] = attrs.get(FOLD_TRIALS_KEY, "all")
        asked["fold-trials"] = config.fold_trials
    for key in stored:
        if stored[key] is not None and stored[key] != asked[key]:
            raise StudyError(
                f"study {name!r} was created with --{key} {stored[key]}, not {asked[key]}; "
                f"resume it with the same settings or name a new study with --study")


def context_for_worker(storage: str, study_name: str, trials: int) -> SearchContext:
    """Rebuild a search context from what a study stores, for a worker joining it."""
    study = studies.open_study(storage, study_name)
    attrs = study.user_attrs
    if "board" not in attrs or "space_path" not in attrs:
        raise StudyError(f"study {study_name!r} was not created by tinynas search")
    try:
        board = load_board(attrs["board"]["name"])
        if board.to_dict() != attrs["board"]:
            board = Board.from_dict(attrs["board"])
    except TinyNASError:
        board = Board.from_dict(attrs["board"])
    space_ref = stored_space_ref(attrs)
    config = SearchConfig(board=board.name, space=space_ref, dataset=attrs["dataset"],
                          trials=trials, storage=storage, study_name=study_name,
                          objectives=tuple(attrs["objectives"]), sampler=attrs.get("sampler",
                                                                                   "nsga2"),
                          seed=int(attrs.get("seed", 0)), epochs=attrs.get("epochs"))
    from tinynas.datasets import load_dataset
    from tinynas.spaces import load_space

    space = load_space(space_ref)
    data = load_dataset(config.dataset, seed=config.seed)
    profile = stored_profile(attrs)
    input_shape = space.model_input_shape(tuple(data.input_shape))
    num_classes = len(data.class_names)
    sampler = make_search_sampler(config.sampler, None, config.objectives, space, board,
                                  input_shape, num_classes, profile)
    import optuna

    with studies._quiet_optuna():
        study = optuna.load_study(study_name=study_name,
                                  storage=studies.make_storage(storage), sampler=sampler)
    return SearchContext(board=board, space=space, data=data,
                         input_shape=input_shape, num_classes=num_classes, study=study,
                         objectives=config.objectives, trials=trials, seed=config.seed,
                         epochs=config.epochs, profile=profile,
                         fidelity=attrs.get("fidelity", "full"),
                         folds=int(attrs.get(FOLDS_KEY, 1)), sized_folds=sized_chunks(attrs),
                         fold_trials=attrs.get(FOLD_TRIALS_KEY, "all"))


class BudgetReached(Exception):
    """The study already has its number of trials (set by another worker)."""


def _count_towards_budget(study: optuna.Study, before: int) -> int:
    """Trials numbered below ``before`` that hold or may still take a place of the budget
    (waiting ones are queued retries; see :mod:`tinynas.workers` for why this is exact)."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)
    return sum(1 for t in study.get_trials(deepcopy=False, states=states) if t.number < before)


def _trial_report(study: optuna.Study, trial: optuna.Trial) -> None:
    """Attach the per-trial report and plots; a drawing failure must not cost the trained
    model, so it is logged and the trial stands."""
    from tinynas.report import trial_artifacts

    try:
        trial_artifacts(study, trial)
    except Exception as exc:  # matplotlib and file-system errors of many kinds
        studies.log().warning("trial %d: report not attached: %s", trial.number, exc)


class Objective:
    """One trial: sample, estimate, refuse or train, convert, evaluate, measure, store."""

    def __init__(self, ctx: SearchContext):
        self.ctx = ctx
        self._teacher_trial: int | None = None
        study_attrs = ctx.study.user_attrs
        #: Objective name -> the trial user attribute it reads.
        self._attrs = {o: studies.objective_attr(o, study_attrs) for o in ctx.objectives}
        #: The float accuracy on the split the study selects on: what picks its teacher.
        self._float_attr = ("accuracy_float_val" if studies.selection_split(study_attrs)
                            == "validation" else "accuracy_float")

    def __call__(self, trial: optuna.Trial) -> Sequence[float]:
        import optuna

        ctx = self.ctx
        if _count_towards_budget(ctx.study, trial.number) >= ctx.trials:
            trial.set_user_attr("skipped", "the study already has its number of trials")
            raise optuna.TrialPruned("budget reached")
        studies.join_generation(trial)
        space = ctx.space
        arch = space.suggest(trial)
        compression = space.suggest_compression(trial)
        effective = space.effective_arch(arch, compression)
        started = time.perf_counter()
        est = estimate_arch(space, effective, ctx.input_shape, ctx.num_classes, ctx.board,
                            ctx.profile)
        estimate_ms = (time.perf_counter() - started) * 1000
        arch_dict = {"space": space.name, **arch.to_dict()}
        attrs: dict[str, Any] = {
            "arch": arch_dict,
            "arch_summary": space.describe(effective),
            "compression": compression.to_dict(),
            "compression_summary": compression.summary(),
            "estimated_ram_bytes": int(est.arena_bytes),
            "estimated_flash_bytes": int(est.flash_bytes),
            "estimated_latency_ms": float(est.latency_ms or 0.0),
            "estimated_model_bytes": int(est.model_bytes),
            "macs": int(est.macs),
            "params": int(est.params),
            "estimate_ms": round(estimate_ms, 3),
        }
        if effective != arch:
            attrs["effective_arch"] = {"space": space.name, **effective.to_dict()}
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        constraints = _fits(ctx.board, est)
        studies.set_constraints(trial, constraints)
        if any(c > 0 for c in constraints):
            trial.set_user_attr("trained", False)
            return self._values(attrs, accuracy=0.0)
        signature = space.signature(effective, compression)
        trial.set_user_attr("signature", signature)
        twin = self._trained_twin(signature)
        if twin is not None:
            return self._reuse(trial, twin, attrs)
        return self._train(trial, arch, compression, attrs)

    def _values(self, attrs: dict[str, Any], accuracy: float) -> list[float]:
        """The objective values: ``accuracy`` (the study's accuracy objective) and resources."""
        merged = {**attrs, self._attrs["accuracy"]: accuracy}
        return [float(merged[self._attrs[o]]) for o in self.ctx.objectives]

    def _cross_validates(self, trial: optuna.Trial, attrs: dict[str, Any]) -> bool:
        """Whether the extra folds score this trained candidate (``attrs``: its estimates and
        its validation-split accuracy): always, or with ``--fold-trials front`` only when no
        trained trial dominates it (recorded as ``cross_validated``)."""
        if self.ctx.fold_trials != "front":
            return True
        reaches = not studies.is_dominated(self.ctx.study, attrs)
        trial.set_user_attr("cross_validated", reaches)
        return reaches

    def _trained_twin(self, signature: str) -> optuna.trial.FrozenTrial | None:
        for t in studies.trained_trials(self.ctx.study):
            if t.user_attrs.get("signature") == signature:
                return t
        return None

    def _reuse(self, trial: optuna.Trial, twin: optuna.trial.FrozenTrial,
               attrs: dict[str, Any]) -> list[float]:
        """An identical candidate was trained before: reuse its results instead of training."""
        for key in ("accuracy_float", "accuracy_int8", "accuracy_float_val", "accuracy_int8_val",
                    "fold_accuracy_float_val", "fold_accuracy_int8_val", "fold_sizes",
                    "tflite_bytes", "measured_arena_bytes", "recorded_arena_bytes",
                    "stages", "epochs", "train_seconds"):
            if key in twin.user_attrs:
                trial.set_user_attr(key, twin.user_attrs[key])
        trial.set_user_attr("trained", True)
        trial.set_user_attr("reused_from", twin.number)
        data = studies.download_bytes(self.ctx.study, twin, "model.tflite")
        studies.upload_bytes(self.ctx.study, trial, "model.tflite", data)
        _trial_report(self.ctx.study, trial)
        return self._values(attrs, accuracy=float(twin.user_attrs[self._attrs["accuracy"]]))

    def _teacher(self) -> Any:
        """The user's teacher model if the study names one, else the most accurate float model
        trained so far in this study, by accuracy on the split it selects on (None before the
        first)."""
        from tinynas.train import load_teacher

        user = self.ctx.study.user_attrs.get("teacher_path")
        if user:
            if -1 not in self.ctx.teacher_cache:
                self.ctx.teacher_cache[-1] = load_teacher(Path(user))
            return self.ctx.teacher_cache[-1]
        best = None
        key = self._float_attr
        for t in studies.trained_trials(self.ctx.study):
            if key in t.user_attrs and (best is None or t.user_attrs[key] > best.user_attrs[key]):
                best = t
        if best is None:
            return None
        self._teacher_trial = best.number
        if best.number not in self.ctx.teacher_cache:
            import tempfile

            raw = studies.download_bytes(self.ctx.study, best, "float_model.h5")
            with tempfile.NamedTemporaryFile(suffix=".h5") as fh:
                fh.write(raw)
                fh.flush()
                self.ctx.teacher_cache[best.number] = load_teacher(Path(fh.name))
        return self.ctx.teacher_cache[best.number]

    def _probe(self, trial: optuna.Trial, attrs: dict[str, Any],
               epochs: int) -> tuple[Callable[[float], bool] | None, int]:
        """The multi-fidelity gate for this trial (None when every candidate trains fully)."""
        if self.ctx.fidelity != "halving":
            return None, 0
        costs = ("estimated_ram_bytes", "estimated_latency_ms")

        def gate(accuracy: float) -> bool:
            trial.set_user_attr("probe_accuracy", round(accuracy, 4))
            peers = [Probe(t.user_attrs["probe_accuracy"], tuple(t.user_attrs[c] for c in costs))
                     for t in self.ctx.study.get_trials(deepcopy=False)
                     if "probe_accuracy" in t.user_attrs and t.number != trial.number]
            promoted = promote(Probe(accuracy, tuple(attrs[c] for c in costs)), peers)
            trial.set_user_attr("promoted", promoted)
            return promoted

        return gate, probe_epochs(epochs)

    def _train(self, trial: optuna.Trial, arch: Arch, compression: Compression,
               attrs: dict[str, Any]) -> list[float]:
        """Train ``arch`` (as sampled: channel pruning narrows it during training)."""
        import tempfile

        from tinynas.estimator import estimate_tflite
        from tinynas.measure import min_working_arena, recorded_arena
        from tinynas.train import train_candidate

        ctx = self.ctx
        training = ctx.space.config.training
        if ctx.epochs is not None:
            from dataclasses import replace

            training = replace(training, epochs=ctx.epochs)
        teacher = self._teacher() if compression.distillation else None
        if compression.distillation:
            user = self.ctx.study.user_attrs.get("teacher_path")
            source = user if user else (self._teacher_trial or None)
            # Before the study's first trained model there is no teacher: say so.
            trial.set_user_attr("distilled_from", source if teacher is not None else "none yet")
        started = time.perf_counter()
        probe, epochs = self._probe(trial, attrs, training.epochs)
        try:
            result = train_candidate(ctx.space, arch, compression, ctx.data, training,
                                     seed=ctx.seed + trial.number, teacher=teacher,
                                     probe=probe, probe_epochs=epochs)
        except NotPromoted as exc:
            import optuna

            trial.set_user_attr("train_seconds", round(time.perf_counter() - started, 2))
            trial.set_user_attr("not_promoted", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        except TinyNASError as exc:
            trial.set_user_attr("fail_reason", str(exc))
            raise
        if not math.isfinite(result.accuracy_int8):
            trial.set_user_attr("fail_reason", "int8 accuracy is not a number")
            raise TinyNASError("int8 accuracy is not a number")
        selection = {"accuracy_float_val": float(result.accuracy_float_val),
                     "accuracy_int8_val": float(result.accuracy_int8_val)}
        if ctx.folds > 1 and self._cross_validates(trial, {**attrs, **selection}):
            try:
                scores = cross_validate(
                    ctx.space, arch, compression, ctx.data, training, seed=ctx.seed + trial.number,
                    folds=ctx.folds, split_seed=ctx.seed,
                    first=(result.accuracy_float_val, result.accuracy_int8_val), teacher=teacher,
                    sized=ctx.sized_folds)
            except TinyNASError as exc:
                trial.set_user_attr("fail_reason", f"cross-validation: {exc}")
                raise
            selection = scores.to_attrs()
        train_seconds = time.perf_counter() - started
        stages = []
        for stage in result.stages:
            row = {k: v for k, v in stage.items() if k != "tflite"}
            if isinstance(stage.get("tflite"), bytes | bytearray):
                est = estimate_tflite(bytes(stage["tflite"]), ctx.board, profile=ctx.profile)
                row.update(arena_bytes=est.arena_bytes, macs=est.macs,
                           latency_ms=est.latency_ms, flash_bytes=est.flash_bytes)
            stages.append(row)
        recorded = recorded_arena(result.tflite)
        # The recording allocator's total misses what planning needs (up to 38% for a GRU);
        # the bisected minimum is what a firmware must reserve on the host build.
        measured = min_working_arena(result.tflite)
        trained: dict[str, Any] = {
            "trained": True,
            "accuracy_float": float(result.accuracy_float),
            "accuracy_int8": float(result.accuracy_int8),
            **selection,
            "tflite_bytes": len(result.tflite),
            "measured_arena_bytes": int(measured),
            "recorded_arena_bytes": int(recorded),
            "stages": stages,
            "epochs": int(result.epochs),
            "train_seconds": round(train_seconds, 2),
        }
        for key, value in trained.items():
            trial.set_user_attr(key, value)
        studies.upload_bytes(ctx.study, trial, "model.tflite", result.tflite)
        studies.upload_bytes(ctx.study, trial, "stages.json",
                             json.dumps(stages, indent=2).encode(), "application/json")
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            # HDF5 is what a distillation teacher is reloaded from; the legacy notice is noise.
            warnings.simplefilter("ignore", UserWarning)
            path = Path(tmp) / "float_model.h5"
            result.float_model.save(str(path), save_format="h5")
            studies.upload_bytes(ctx.study, trial, "float_model.h5", path.read_bytes())
        _trial_report(ctx.study, trial)
        return self._values(attrs, accuracy=float(trained[self._attrs["accuracy"]]))


def run(ctx: SearchContext, timeout: float | None = None,
        callbacks: Sequence[Callable[..., None]] = ()) -> None:
    """Run trials until the study holds ``ctx.trials`` complete trials or ``timeout`` passes.

    A trial that fails (NaN loss, converter error, anything raised) is recorded as failed with
    its reason and the search goes on. Other workers may share the study: while every trial the
    budget still needs runs elsewhere, this one waits, ready to retry a trial whose worker dies
    (:mod:`tinynas.workers`). Ctrl-C fails the running trial, queues it again and is raised.
    """
    from optuna.trial import TrialState

    from tinynas import workers

    objective = Objective(ctx)
    deadline = None if timeout is None else time.monotonic() + timeout
    failures_in_a_row = 0
    while True:
        workers.check_stop()
        counts = workers.trial_counts(ctx.study)
        if counts.complete >= ctx.trials:
            return
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return
        if workers.budget_in_flight(counts, ctx.trials):
            workers.wait_for_others(ctx.study, remaining)
            continue
        last = workers.run_one_trial(ctx.study, objective, remaining, callbacks)
        if last is None:
            return
        if last.state == TrialState.PRUNED and "skipped" in last.user_attrs:
            continue
        failures_in_a_row = failures_in_a_row + 1 if last.state == TrialState.FAIL else 0
        if failures_in_a_row >= 5:
            reason = last.user_attrs.get("fail_reason", "see the log above")
            raise StudyError(f"5 trials in a row failed; the last one: {reason}")
