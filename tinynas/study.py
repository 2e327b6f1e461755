"""Studies: storage, creation, resumption, objectives, constraints and artifacts.

Everything a tool needs to read a study lives in the study's and trials' user attributes, so any
worker (or the dashboard) can rebuild a trial exactly. TensorFlow is never imported here.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tinynas.errors import StudyError, TinyNASError, unknown_name

if TYPE_CHECKING:
    import optuna

    from tinynas.offspring import Choose, Fits, Signature

DEFAULT_STORAGE = "sqlite:///studies/tinynas.db"

#: Optuna's direction of an objective.
Direction = Literal["maximize", "minimize"]

#: Objective name -> (direction, trial user attribute, column label).
OBJECTIVES: dict[str, tuple[Direction, str, str]] = {
    "accuracy": ("maximize", "accuracy_int8_val", "int8 validation accuracy"),
    "ram": ("minimize", "estimated_ram_bytes", "RAM bytes"),
    "flash": ("minimize", "estimated_flash_bytes", "flash bytes"),
    "latency": ("minimize", "estimated_latency_ms", "latency ms"),
}
DEFAULT_OBJECTIVES = ("accuracy", "ram", "flash", "latency")

#: Study attribute naming the split the accuracy objective is measured on.
SELECTION_KEY = "selection_split"
#: Split -> the trial user attribute holding the int8 accuracy on it.
ACCURACY_ATTRS = {"validation": "accuracy_int8_val", "test": "accuracy_int8"}

#: Constraint order, as stored in the trial's ``constraints`` system attribute.
CONSTRAINTS = ("ram", "flash", "latency")
CONSTRAINTS_KEY = "constraints"

SAMPLERS = ("nsga2", "tpe", "random")

#: Trials a sampler draws before it learns from results (NSGA-II's population, TPE's start-up):
#: the generation :mod:`tinynas.warmstart` chooses instead. Random search has none.
FIRST_GENERATION = {"nsga2": 8, "tpe": 5}

#: Seconds between heartbeats of a running trial, and after which a silent one is failed
#: (environment variables TINYNAS_HEARTBEAT_INTERVAL and TINYNAS_HEARTBEAT_GRACE override them,
#: for every worker started from that environment).
HEARTBEAT_INTERVAL = 10
HEARTBEAT_GRACE = 30


def heartbeat_settings() -> tuple[int, int]:
    """Heartbeat interval and grace period in seconds.

    Raises:
        StudyError: An override is not a positive integer or the grace is not longer than
            the interval.
    """
    values = []
    for name, default in (("TINYNAS_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL),
                          ("TINYNAS_HEARTBEAT_GRACE", HEARTBEAT_GRACE)):
        text = os.environ.get(name, "").strip()
        if not text:
            values.append(default)
            continue
        if not text.isdigit() or int(text) < 1:
            raise StudyError(f"environment variable {name}={text!r}: expected a positive "
                             f"number of seconds")
        values.append(int(text))
    if values[1] <= values[0]:
        raise StudyError(f"heartbeat grace period ({values[1]} s) must be longer than the "
                         f"interval ({values[0]} s)")
    return values[0], values[1]


def parse_objectives(text: str) -> tuple[str, ...]:
    """Parse ``--objectives`` (comma-separated names from :data:`OBJECTIVES`).

    Raises:
        UnknownNameError: An unknown objective.
        StudyError: No objective, a repeated one, or no accuracy objective.
    """
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for name in names:
        if name not in OBJECTIVES:
            raise unknown_name("objective", name, list(OBJECTIVES))
    if not names or len(set(names)) != len(names):
        raise StudyError(f"--objectives must list distinct names from "
                         f"{', '.join(OBJECTIVES)}, got {text!r}")
    if "accuracy" not in names:
        raise StudyError("--objectives must include accuracy")
    return names


def sqlite_path(storage: str) -> Path | None:
    """The database file of a SQLite URL, or None for other storages."""
    prefix = "sqlite:///"
    if storage.startswith(prefix):
        return Path(storage[len(prefix):])
    return None


def make_storage(storage: str, heartbeat: bool = True) -> optuna.storages.BaseStorage:
    """Open an Optuna RDB storage with heartbeats and retry of trials whose worker died.

    Args:
        storage: A SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://...``).
        heartbeat: Whether running trials record heartbeats (workers need it; readers do not).

    Raises:
        StudyError: The URL is malformed or the database cannot be reached.
    """
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    path = sqlite_path(storage)
    if path is not None:
        if not str(path):
            raise StudyError(f"--storage {storage!r}: no database file given")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StudyError(f"--storage {storage!r}: cannot create {path.parent}: "
                             f"{exc.strerror}") from None
    elif "://" not in storage:
        raise StudyError(f"--storage {storage!r}: expected a database URL such as "
                         f"sqlite:///studies/tinynas.db or postgresql+psycopg://user@host/db")
    if storage.startswith("postgresql://"):
        storage = "postgresql+psycopg://" + storage[len("postgresql://"):]
    kwargs: dict[str, Any] = {"engine_kwargs": {"pool_pre_ping": True}}
    if path is None:
        kwargs["engine_kwargs"]["connect_args"] = {"connect_timeout": 10}
    if heartbeat:
        interval, grace = heartbeat_settings()
        kwargs.update(heartbeat_interval=interval, grace_period=grace)
    try:
        with _quiet_optuna():
            if heartbeat:
                kwargs["heartbeat_stale_trial_callback"] = RetryHeartbeatStaleTrialCallback(
                    max_retry=2)
            return optuna.storages.RDBStorage(storage, **kwargs)
    except Exception as exc:  # SQLAlchemy raises many kinds; all mean "cannot use this URL"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StudyError(f"--storage {storage!r}: cannot open the database: {reason}") from None


class _quiet_optuna:
    """Silence Optuna's INFO logs and experimental warnings inside a block."""

    def __enter__(self) -> None:
        import warnings

        import optuna

        self._level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)

    def __exit__(self, *exc: Any) -> None:
        import optuna

        self._warnings.__exit__(*exc)
        optuna.logging.set_verbosity(self._level)


def open_study(storage: str, study_name: str) -> optuna.Study:
    """Load an existing study.

    Raises:
        StudyError: The storage cannot be reached or holds no study of that name.
    """
    import optuna

    path = sqlite_path(storage)
    if path is not None and not path.is_file():
        # Opening would create an empty database file where the user mistyped a path.
        raise StudyError(f"no study {study_name!r}: the database file {path} of --storage "
                         f"{storage!r} does not exist")
    store = make_storage(storage, heartbeat=False)
    names = [s.study_name for s in optuna.get_all_study_summaries(store)]
    if study_name not in names:
        known = ", ".join(sorted(names)) or "none"
        raise StudyError(f"no study {study_name!r} in {storage}; studies there: {known}")
    with _quiet_optuna():
        return optuna.load_study(study_name=study_name, storage=store)


def make_sampler(name: str, seed: int | None, n_objectives: int,
                 signature: Signature | None = None,
                 fits: Fits | None = None,
                 choose: Choose | None = None) -> optuna.samplers.BaseSampler:
    """Build the sampler named by ``--sampler``.

    Constraints reach every sampler through the trials' ``constraints`` system attribute, which
    NSGA-II and TPE read and optuna-dashboard displays.

    Args:
        name: One of :data:`SAMPLERS`.
        seed: The sampler's seed (None: unseeded).
        n_objectives: How many objectives the study has.
        signature: The model a set of parameters stands for (``SearchSpace.params_signature``);
            given, NSGA-II breeds no child whose model the study already holds
            (:mod:`tinynas.offspring`).
        fits: Whether the model a set of parameters stands for fits the board; given with
            ``signature``, NSGA-II breeds no child the board cannot hold either.
        choose: Given with ``signature``, NSGA-II breeds several distinct children for a trial,
            draws a few models at random beside them, and trains the one this picks
            (:class:`tinynas.surrogate.FrontChooser`).
    """
    import optuna

    if name not in SAMPLERS:
        raise unknown_name("sampler", name, list(SAMPLERS))
    with _quiet_optuna():
        if name == "nsga2":
            if signature is not None:
                from tinynas.offspring import DistinctNSGAIISampler

                return DistinctNSGAIISampler(signature, fits=fits, choose=choose, seed=seed,
                                             population_size=FIRST_GENERATION["nsga2"])
            return optuna.samplers.NSGAIISampler(seed=seed,
                                                 population_size=FIRST_GENERATION["nsga2"])
        if name == "tpe":
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=FIRST_GENERATION["tpe"],
                                              multivariate=True, group=True)
        return optuna.samplers.RandomSampler(seed=seed)


def join_generation(trial: optuna.Trial) -> int | None:
    """Place a trial whose parameters were all fixed in advance (an enqueued candidate: the
    warm start, a queued retry) in its generation of a genetic sampler such as NSGA-II.

    NSGA-II numbers a trial's generation only when it samples one of the trial's parameters. A
    trial that samples none would belong to no generation: the warm start would never become
    the parents of the first offspring, and the sampler would draw a random first generation of
    its own after it.

    Returns:
        The trial's generation, or None when the sampler has no generations or the trial
        samples some of its parameters (the sampler numbers those itself).
    """
    assign = getattr(trial.study.sampler, "get_trial_generation", None)
    frozen = trial.storage.get_trial(trial._trial_id)
    if assign is None or not frozen.system_attrs.get("fixed_params"):
        return None
    return int(assign(trial.study, frozen))


def set_constraints(trial: optuna.Trial, values: Sequence[float]) -> None:
    """Store constraint values (above 0 = violated) where samplers and the dashboard read them."""
    trial.storage.set_trial_system_attr(trial._trial_id, CONSTRAINTS_KEY,
                                        [float(v) for v in values])
    for name, value in zip(CONSTRAINTS, values, strict=True):
        trial.set_user_attr(f"constraint_{name}", float(value))


def is_feasible(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a finished trial meets every board limit."""
    return all(v <= 0 for v in trial.system_attrs.get(CONSTRAINTS_KEY, [1.0]))


def artifact_store(study: optuna.Study) -> optuna.artifacts.FileSystemArtifactStore:
    """The study's artifact store (its directory is fixed when the study is created)."""
    from optuna.artifacts import FileSystemArtifactStore

    base = study.user_attrs.get("artifact_dir")
    if not base:
        raise StudyError(f"study {study.study_name!r} has no artifact directory")
    Path(base).mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(base)


def default_artifact_dir(storage: str) -> Path:
    """Where artifacts go by default: beside a SQLite file, else under ``studies/artifacts``."""
    path = sqlite_path(storage)
    base = path.parent if path is not None else Path("studies")
    return (base / "artifacts").resolve()


def upload_bytes(study: optuna.Study, trial: optuna.Trial | optuna.trial.FrozenTrial, name: str,
                 data: bytes, mimetype: str = "application/octet-stream") -> str:
    """Store ``data`` as an artifact of ``trial`` under the file name ``name``."""
    from optuna.artifacts import upload_artifact

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        with _quiet_optuna():
            return upload_artifact(artifact_store=artifact_store(study), file_path=str(path),
                                   study_or_trial=trial, storage=study._storage,
                                   mimetype=mimetype)


def download_bytes(study: optuna.Study, trial: optuna.trial.FrozenTrial, name: str) -> bytes:
    """Read back the artifact ``name`` of ``trial``.

    Raises:
        StudyError: The trial has no such artifact, or its file is gone.
    """
    from optuna.artifacts import download_artifact, get_all_artifact_meta

    metas = [m for m in get_all_artifact_meta(trial, storage=study._storage)
             if m.filename == name]
    if not metas:
        raise StudyError(f"trial {trial.number} of study {study.study_name!r} has no {name}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / name
        try:
            download_artifact(artifact_store=artifact_store(study),
                              artifact_id=metas[-1].artifact_id, file_path=str(out))
        except Exception:
            raise StudyError(
                f"artifact {name} of trial {trial.number} is missing from "
                f"{study.user_attrs.get('artifact_dir')}") from None
        return out.read_bytes()


def selection_split(study_attrs: dict[str, Any]) -> str:
    """The split a study's accuracy objective is measured on and its front is chosen by.

    ``"validation"`` for a study that says so; ``"test"`` for a study created before the
    search selected on validation accuracy (it has no :data:`SELECTION_KEY`), so that resuming
    it keeps its objective's meaning.
    """
    return str(study_attrs.get(SELECTION_KEY, "test"))


def objective_attr(name: str, study_attrs: dict[str, Any]) -> str:
    """The trial user attribute that objective ``name`` of a study with ``study_attrs`` reads."""
    if name == "accuracy":
        return ACCURACY_ATTRS[selection_split(study_attrs)]
    return OBJECTIVES[name][1]


def trained_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Complete trials that were trained (have an int8 accuracy)."""
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if "accuracy_int8" in t.user_attrs]


def _losses(study_attrs: dict[str, Any], trial_attrs: Mapping[str, Any]) -> list[float]:
    """A trial's objective values (from its user attributes) as losses: lower is better."""
    out = []
    for name in study_attrs.get("objectives") or list(DEFAULT_OBJECTIVES):
        value = float(trial_attrs[objective_attr(name, study_attrs)])
        out.append(-value if OBJECTIVES[name][0] == "maximize" else value)
    return out


def _dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


def is_dominated(study: optuna.Study, trial_attrs: Mapping[str, Any]) -> bool:
    """Whether a feasible trained trial of ``study`` dominates a candidate whose objective
    attributes (as :func:`pareto_trials` reads them) are ``trial_attrs``."""
    study_attrs = study.user_attrs
    mine = _losses(study_attrs, trial_attrs)
    return any(_dominates(_losses(study_attrs, t.user_attrs), mine)
               for t in trained_trials(study) if is_feasible(t))


def pareto_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Feasible, trained trials not dominated by another feasible trained trial."""
    study_attrs = study.user_attrs
    candidates = [t for t in trained_trials(study) if is_feasible(t)]
    keys = {t.number: _losses(study_attrs, t.user_attrs) for t in candidates}
    front = [t for t in candidates
             if not any(_dominates(keys[o.number], keys[t.number]) for o in candidates)]
    accuracy = objective_attr("accuracy", study_attrs)
    front.sort(key=lambda t: (-t.user_attrs[accuracy], t.user_attrs["estimated_ram_bytes"]))
    return front


@dataclass
class TrialModel:
    """A trained trial's int8 model and everything needed to export it."""

    tflite: bytes
    number: int
    user_attrs: dict[str, Any]
    params: dict[str, Any]
    study_name: str
    study_attrs: dict[str, Any] = field(default_factory=dict)


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    """The most accurate feasible trained trial by the study's accuracy objective (smallest RAM
    among ties).

    Raises:
        StudyError: The study has no feasible trained trial.
    """
    front = pareto_trials(study)
    if not front:
        raise StudyError(f"study {study.study_name!r} has no feasible trained trial yet")
    return front[0]


def trial_model(storage: str, study_name: str, trial: int | str) -> TrialModel:
    """Load a trained trial's .tflite and attributes.

    Args:
        storage: The study's storage URL.
        study_name: The study.
        trial: A trial number, or ``"best"``.

    Raises:
        StudyError: No such study or trial, the trial was not trained, or its model is missing.
    """
    study = open_study(storage, study_name)
    if trial == "best":
        frozen = best_trial(study)
    else:
        number = int(trial)
        trials = study.get_trials(deepcopy=False)
        matches = [t for t in trials if t.number == number]
        if not matches:
            last = trials[-1].number if trials else None
            span = f"0 to {last}" if last is not None else "none yet"
            raise StudyError(f"study {study_name!r} has no trial {number}; trials: {span}")
        frozen = matches[0]
        if "accuracy_int8" not in frozen.user_attrs:
            why = frozen.user_attrs.get("fail_reason") or (
                "it breaks the board limits and was not trained" if not is_feasible(frozen)
                else f"it is {frozen.state.name.lower()}")
            raise StudyError(f"trial {number} of study {study_name!r} has no model: {why}")
    return TrialModel(tflite=download_bytes(study, frozen, "model.tflite"), number=frozen.number,
                      user_attrs=dict(frozen.user_attrs), params=dict(frozen.params),
                      study_name=study_name, study_attrs=dict(study.user_attrs))


def study_name_for(board: str, space: str, dataset: str) -> str:
    """The default study name: ``board-space-dataset`` (paths reduced to their stem)."""
    def stem(s: str) -> str:
        return Path(s.rstrip("/")).stem or s
    return f"{stem(board)}-{stem(space)}-{stem(dataset)}"


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write a file through a temporary file and a rename, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def log() -> logging.Logger:
    """The package logger."""
    return logging.getLogger("tinynas")


__all__ = [
    "ACCURACY_ATTRS", "DEFAULT_OBJECTIVES", "DEFAULT_STORAGE", "OBJECTIVES", "SELECTION_KEY",
    "TinyNASError", "TrialModel",
    "best_trial", "make_storage", "objective_attr", "open_study", "pareto_trials",
    "selection_split", "trial_model",
]
