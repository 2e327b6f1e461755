"""Several workers on one study: the trial budget shared between them, recovery of trials whose
worker died, clean interruption, and local worker processes.

Any number of ``tinynas worker`` processes, on any number of machines, share a study through its
RDB storage (PostgreSQL for several machines, SQLite on one). Nothing here schedules trials: the
database hands out trial numbers, Optuna's heartbeats fail the trials of a worker that vanished
and :class:`optuna.storages.RetryHeartbeatStaleTrialCallback` queues them again, and the rule
below keeps the number of complete trials exact.

The budget rule: a trial may run only if fewer than ``trials`` trials with a smaller number are
complete, running or waiting (see ``_count_towards_budget`` in :mod:`tinynas.pipeline`). A
lower-numbered trial can only leave those states by failing, so no two workers can both take the
last place, and the study never holds more complete trials than asked. A worker whose remaining
budget is all running elsewhere waits instead of leaving, so that it can take over the retry of a
trial whose worker dies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TextIO

from tinynas import study as studies
from tinynas.errors import StudyError
from tinynas.processes import die_with_parent

if TYPE_CHECKING:
    import optuna

#: Seconds between looks at the study while waiting for other workers' trials.
POLL_SECONDS = 2.0

#: Seconds a worker gets to mark its trial and leave after Ctrl-C before it is killed.
STOP_GRACE_SECONDS = 30.0

#: Exit statuses of ``tinynas worker`` that must not be answered by starting it again.
_FINAL_STATUSES = {0: "finished", 2: "stopped with an error", 130: "was interrupted"}

INTERRUPTED = "interrupted"

#: Logged by a worker that queued its interrupted trial again (the parent relays these lines).
REQUEUED_MESSAGE = ("trial %d interrupted; its candidate is queued as trial %d and runs first "
                    "when the search resumes")
_REQUEUED_PREFIX = REQUEUED_MESSAGE.split("%d", 1)[0]


def worker_id() -> str:
    """``host:pid`` of this process, stored with each trial it runs (user attribute
    ``worker``) to tell which process ran it."""
    return f"{socket.gethostname()}:{os.getpid()}"


class TrialCounts(NamedTuple):
    """Trials of a study by the states that matter to the budget."""

    complete: int
    running: int
    waiting: int


def trial_counts(study: optuna.Study) -> TrialCounts:
    """Count the complete, running and waiting (queued or retried) trials of ``study``."""
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    return TrialCounts(states.count(TrialState.COMPLETE), states.count(TrialState.RUNNING),
                       states.count(TrialState.WAITING))


def budget_in_flight(counts: TrialCounts, trials: int) -> bool:
    """Whether every trial the budget still needs is already running in some worker."""
    return counts.waiting == 0 and counts.complete + counts.running >= trials


def wait_for_others(study: optuna.Study, seconds: float | None) -> None:
    """Sleep up to :data:`POLL_SECONDS`, then fail (and so queue again) trials whose worker
    stopped sending heartbeats."""
    import optuna

    time.sleep(POLL_SECONDS if seconds is None else max(0.0, min(POLL_SECONDS, seconds)))
    with studies._quiet_optuna():
        optuna.storages.fail_stale_trials(study)


def run_one_trial(study: optuna.Study, objective: Callable[[optuna.Trial], Sequence[float]],
                  timeout: float | None,
                  callbacks: Sequence[Callable[..., None]] = ()) -> optuna.trial.FrozenTrial | None:
    """Run one trial of ``objective`` (a queued retry first, if any) and return it.

    Any exception of the objective fails the trial and is recorded. Ctrl-C (or SIGTERM under
    :func:`stop_on_signals`) fails the running trial with ``fail_reason`` "interrupted",
    queues the same candidate again so that the next ``search`` or ``worker`` resumes with it,
    and is raised again.

    Returns:
        The finished trial, or None if ``timeout`` passed before one started.
    """
    started: list[int] = []

    def tracked(trial: optuna.Trial) -> Sequence[float]:
        started.append(trial._trial_id)
        trial.set_user_attr("worker", worker_id())
        try:
            return objective(trial)
        except KeyboardInterrupt:
            trial.set_user_attr("fail_reason", INTERRUPTED)
            raise

    try:
        with studies._quiet_optuna(), _quiet_interrupts():
            study.optimize(tracked, n_trials=1, timeout=timeout, catch=(Exception,),
                           callbacks=list(callbacks), gc_after_trial=True)
    except KeyboardInterrupt:
        if started:
            requeue_interrupted(study, started[-1])
        raise
    # A stop whose KeyboardInterrupt was swallowed inside the trial: the trial stands as it
    # ended, and no further one starts.
    check_stop()
    return study._storage.get_trial(started[-1]) if started else None


def requeue_interrupted(study: optuna.Study, trial_id: int) -> int | None:
    """Fail an interrupted trial if Optuna has not yet, and queue its candidate again.

    Returns:
        The number of the queued trial, or None when the trial had not sampled anything yet.
    """
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    frozen = storage.get_trial(trial_id)
    if frozen.state == TrialState.RUNNING:
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
    if not frozen.params:
        return None
    # The same system attributes as Optuna's own retry of a stale trial, so that
    # RetryHeartbeatStaleTrialCallback.retried_trial_number() reads both alike.
    history = [*frozen.system_attrs.get("retry_history", []), frozen.number]
    template = optuna.create_trial(
        state=TrialState.WAITING, params=frozen.params, distributions=frozen.distributions,
        system_attrs={"failed_trial": frozen.system_attrs.get("failed_trial", frozen.number),
                      "retry_history": history})
    queued = storage.get_trial(storage.create_new_trial(study._study_id, template)).number
    studies.log().warning(REQUEUED_MESSAGE, frozen.number, queued)
    return queued


class _DropInterruptLogs(logging.Filter):
    """Optuna logs an interrupted trial as a failure with a traceback, then its missing value;
    the command line already says it was interrupted."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, KeyboardInterrupt):
            self.interrupted = True
            return False
        return not (self.interrupted and "failed with value" in record.getMessage())


@contextlib.contextmanager
def _quiet_interrupts() -> Iterator[None]:
    logger = logging.getLogger("optuna")
    log_filter = _DropInterruptLogs()
    handlers = [logger, *logger.handlers]
    for handler in handlers:
        handler.addFilter(log_filter)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(log_filter)


_stop = {"requested": False}


def stop_requested() -> bool:
    """Whether Ctrl-C or SIGTERM reached this process inside :func:`stop_on_signals`.

    The flag outlives the ``KeyboardInterrupt`` it raised: library code that swallows the
    exception (a ``__del__`` or a cleanup handler that catches everything) cannot make a worker
    go on to start another trial.
    """
    return _stop["requested"]


def check_stop() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was requested (see :func:`stop_requested`)."""
    if stop_requested():
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside the block, Ctrl-C and SIGTERM (so ``kill PID`` too) raise ``KeyboardInterrupt``
    and set a flag that :func:`check_stop` raises on again between trials."""
    def interrupt(signum: int, frame: object) -> None:
        _stop["requested"] = True
        raise KeyboardInterrupt

    try:
        previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave the defaults
        yield
        return
    _stop["requested"] = False
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def worker_command(storage: str, study_name: str, trials: int,
                   timeout: float | None = None) -> list[str]:
    """The command line of one ``tinynas worker`` process with this Python."""
    argv = [sys.executable, "-m", "tinynas", "worker", "--storage", storage, "--study",
            study_name, "--trials", str(trials)]
    if timeout is not None:
        argv += ["--timeout", f"{max(timeout, 1.0):g}"]
    return argv


@dataclass
class _Worker:
    """One local worker process and its log file."""

    index: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    starts: int = 0

    def start(self, argv: list[str], env: dict[str, str]) -> None:
        self.close()
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,  # Ctrl-C reaches the parent only, which stops each worker once
            preexec_fn=die_with_parent(signal.SIGTERM))
        self.starts += 1

    def poll(self) -> int | None:
        assert self.process is not None
        return self.process.poll()

    def lines(self) -> list[str]:
        """The non-empty lines the worker printed."""
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace")
            return [ln.strip() for ln in text.splitlines() if ln.strip()]
        return []

    def last_line(self) -> str:
        return (self.lines() or ["no output"])[-1]

    def requeued_lines(self) -> list[str]:
        """The worker's "trial N interrupted; ... queued" messages, without any prefix a log
        handler may have put before them."""
        return [ln[ln.index(_REQUEUED_PREFIX):] for ln in self.lines() if _REQUEUED_PREFIX in ln]

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None


@dataclass
class WorkersResult:
    """What the local workers did."""

    complete: int
    restarts: int
    exit_statuses: list[int]


def run_local_workers(storage: str, study_name: str, trials: int, workers: int,
                      timeout: float | None = None, *, restart: bool = True,
                      stream: TextIO | None = None,
                      on_start: Callable[[list[int]], None] | None = None) -> WorkersResult:
    """Run ``workers`` local ``tinynas worker`` processes on one study until it holds ``trials``
    complete trials, printing the study's progress.

    A worker that dies (crash, out of memory, SIGKILL) is started again while the budget is not
    reached; the trial it left running is failed by its missing heartbeats and retried by a
    worker. Ctrl-C stops every worker cleanly (each marks its trial and queues it again) and is
    raised again.

    Args:
        storage: The study's storage URL; every worker opens it.
        study_name: An existing study created by ``tinynas search``.
        trials: Complete trials the study should hold.
        workers: Number of processes.
        timeout: Seconds after which the workers stop starting trials.
        restart: Whether to start a dead worker again.
        stream: Where progress goes (default: stderr).
        on_start: Called with the worker process ids whenever a worker starts (for tests and
            benchmarks that need to signal one).

    Returns:
        The number of complete trials, restarts and exit statuses. Worker logs are deleted
        unless an error names them.

    Raises:
        StudyError: Bad arguments, a missing study, or workers that stopped before the budget
            was reached (with the last line of the lowest-numbered worker that failed).
    """
    from tinynas.progress import Progress

    if workers < 1:
        raise StudyError(f"--workers must be at least 1, got {workers}")
    if trials < 1:
        raise StudyError(f"--trials must be at least 1, got {trials}")
    study = studies.open_study(storage, study_name)
    deadline = None if timeout is None else time.monotonic() + timeout
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    seen = _finished_numbers(study)
    progress = Progress(trials, stream=stream)
    restarts = 0
    statuses: dict[int, int] = {}
    log_dir = Path(tempfile.mkdtemp(prefix="tinynas-workers-"))
    pool = [_Worker(i, log_dir / f"worker-{i}.log") for i in range(workers)]
    try:
        try:
            for worker in pool:
                worker.start(worker_command(storage, study_name, trials, timeout), env)
            _notify(on_start, pool)
            while len(statuses) < len(pool):
                time.sleep(0.5)
                seen = _report_new(study, seen, progress)
                for worker in pool:
                    status = worker.poll()
                    if status is None or worker.index in statuses:
                        continue
                    left = None if deadline is None else deadline - time.monotonic()
                    if (restart and status not in _FINAL_STATUSES and restarts < 3 * workers
                            and (left is None or left > 0)
                            and trial_counts(study).complete < trials):
                        restarts += 1
                        worker.start(worker_command(storage, study_name, trials, left), env)
                        _notify(on_start, pool)
                    else:
                        statuses[worker.index] = status
            _report_new(study, seen, progress)
        finally:
            _stop_all(pool)
            progress.close()
            for worker in pool:
                worker.close()
    except KeyboardInterrupt:
        for worker in pool:
            for line in worker.requeued_lines():
                print(line, file=stream or sys.stderr)
        shutil.rmtree(log_dir, ignore_errors=True)
        raise
    complete = trial_counts(study).complete
    failed = {i: s for i, s in statuses.items() if s != 0}
    timed_out = deadline is not None and time.monotonic() >= deadline
    if complete < trials and not timed_out and failed:
        index = min(failed)
        status = failed[index]
        why = _FINAL_STATUSES.get(status) or _describe_status(status)
        raise StudyError(
            f"workers stopped with {complete} of {trials} complete trials: worker {index} {why}: "
            f"{pool[index].last_line()} (logs in {log_dir})")
    shutil.rmtree(log_dir, ignore_errors=True)
    return WorkersResult(complete=complete, restarts=restarts,
                         exit_statuses=[statuses[w.index] for w in pool])


def _describe_status(status: int) -> str:
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-status).name}"
        return f"was killed by signal {-status}"
    return f"exited with status {status}"


def _notify(on_start: Callable[[list[int]], None] | None, pool: list[_Worker]) -> None:
    if on_start is not None:
        on_start([w.process.pid for w in pool if w.process is not None])


def _stop_all(pool: list[_Worker]) -> None:
    """SIGINT each live worker once, give them time to mark their trials, then kill."""
    for worker in pool:
        worker.signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for worker in pool:
        if worker.process is None:
            continue
        try:
            worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


def _finished_numbers(study: optuna.Study) -> set[int]:
    from optuna.trial import TrialState

    return {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()
            and t.state != TrialState.WAITING}


def _report_new(study: optuna.Study, seen: set[int], progress: Any) -> set[int]:
    """Print a progress line for every trial that finished since the last look."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    for trial in trials:
        if trial.number in seen or not trial.state.is_finished():
            continue
        seen.add(trial.number)
        if trial.state == TrialState.PRUNED and "skipped" in trial.user_attrs:
            continue
        progress(study, trial)
    return seen


@dataclass
class StudyAudit:
    """What a study holds after workers ran on it, and what would mean lost or duplicated work.

    Attributes:
        states: Trial count by state name.
        missing: Complete trained trials whose ``model.tflite`` is not stored, cannot be read,
            or does not have the size the trial recorded.
        duplicated: Complete trials with more than one ``model.tflite``.
        retried: Numbers of failed trials that a later trial retried (by heartbeat or after
            Ctrl-C).
    """

    states: dict[str, int]
    missing: list[int]
    duplicated: list[int]
    retried: list[int]

    def count(self, state: str) -> int:
        """Trials in ``state`` (``"COMPLETE"``, ``"RUNNING"``...)."""
        return self.states.get(state, 0)


def audit_study(study: optuna.Study) -> StudyAudit:
    """Check every complete trial's model artifact and count trials by state."""
    from optuna.artifacts import get_all_artifact_meta
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    store = studies.artifact_store(study)
    missing, duplicated, retried = [], [], set()
    for trial in trials:
        retried.update(trial.system_attrs.get("retry_history", []))
        if trial.state != TrialState.COMPLETE or not trial.user_attrs.get("trained"):
            continue
        metas = [m for m in get_all_artifact_meta(trial, storage=study._storage)
                 if m.filename == "model.tflite"]
        if len(metas) > 1:
            duplicated.append(trial.number)
        try:
            with store.open_reader(metas[0].artifact_id) as reader:
                size = len(reader.read())
        except Exception:  # noqa: BLE001 - no meta, no file, unreadable: all mean missing
            missing.append(trial.number)
            continue
        if size != trial.user_attrs.get("tflite_bytes"):
            missing.append(trial.number)
    states: dict[str, int] = {}
    for trial in trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    return StudyAudit(states=states, missing=missing, duplicated=duplicated,
                      retried=sorted(retried))
