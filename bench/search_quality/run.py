"""Running the grid: jobs in worker processes, results written after each one."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from bench.search_quality.grid import Job, SearchJob

#: One thread per TensorFlow pool: on a small shared machine, more threads per process only
#: add switching; parallelism comes from ``--jobs``.
_THREAD_ENV = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
               "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def load_results(path: Path) -> dict[str, Any]:
    """The results file, or an empty one."""
    if path.is_file():
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    return {"results": {}, "runs": []}


def save_results(path: Path, data: dict[str, Any]) -> None:
    """Write the results through a temporary file, so a reader never sees half of it."""
    from tinynas.study import atomic_write

    atomic_write(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def _init_worker(threads: int) -> None:
    os.environ.update(_THREAD_ENV)
    os.environ.update({"TF_NUM_INTRAOP_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)})
    os.environ["TF_USE_LEGACY_KERAS"] = "1"


def _work(job: Job, workdir: str) -> dict[str, Any]:
    from bench.search_quality.jobs import run_job

    return run_job(job, Path(workdir))


def _describe(job: Job, row: dict[str, Any]) -> str:
    if "error" in row:
        return f"{job.key()}: error: {row['error']}"
    if isinstance(job, SearchJob):
        trials = row["trials"]
        trained = sum(1 for t in trials if t.get("trained"))
        best = max((t["accuracy_int8"] for t in trials
                    if t.get("feasible") and "accuracy_int8" in t), default=None)
        shown = f"{best:.3f}" if best is not None else "-"
        return (f"{job.key()}: {len(trials)} trials, {trained} trained, best feasible int8 "
                f"{shown}, {row['wall_s']:.0f} s")
    return f"{job.key()}: int8 {row['accuracy_int8']:.3f}, {row['wall_s']:.0f} s"


def run_grid(jobs: list[Job], out: Path, workdir: Path, workers: int,
             command: str, budget_minutes: float | None = None,
             threads: int = 1) -> dict[str, Any]:
    """Run every job not already in ``out`` and record each result as it arrives.

    Args:
        jobs: The grid, in the order to start them.
        out: The results file (created, or continued).
        workdir: Where searches keep their study databases and artifacts.
        workers: Jobs run at once, each in its own process.
        command: The command line, stored with the run.
        budget_minutes: No job starts after this many minutes (running ones finish); a later
            run of the same command continues with the rest.
        threads: TensorFlow's intra-op threads in each job (results depend on it: the order of
            floating-point sums changes with it).

    Returns:
        The results.
    """
    data = load_results(out)
    done = {k for k, v in data["results"].items() if "error" not in v}
    todo = [j for j in jobs if j.key() not in done]
    run_info = {"command": command, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                "jobs": len(todo), "workers": workers, "threads": threads, "cpus": os.cpu_count(),
                "load_average_start": list(os.getloadavg()), "python": platform.python_version()}
    data["runs"].append(run_info)
    save_results(out, data)
    print(f"{len(todo)} jobs to run ({len(jobs) - len(todo)} already done), {workers} at once",
          file=sys.stderr, flush=True)
    started = time.perf_counter()
    pending: dict[Future[dict[str, Any]], Job] = {}
    queue = list(todo)
    pool = _pool(workers, threads)
    try:
        while queue or pending:
            if budget_minutes is not None and time.perf_counter() - started > budget_minutes * 60:
                queue.clear()
            while queue and len(pending) < workers:
                job = queue.pop(0)
                try:
                    pending[pool.submit(_work, job, str(workdir))] = job
                except BrokenProcessPool:
                    # A worker died (out of memory, say): the others' jobs fail with it below;
                    # the rest of the grid goes on in a new pool.
                    queue.insert(0, job)
                    pool.shutdown(cancel_futures=True)
                    pool = _pool(workers, threads)
            if not pending:
                continue
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                job = pending.pop(future)
                try:
                    row = future.result()
                except Exception as exc:  # a crash in one job must not lose the others
                    row = {**job.to_dict(), "error": f"{type(exc).__name__}: {exc}"}
                data["results"][job.key()] = row
                run_info["wall_s"] = round(time.perf_counter() - started, 1)
                run_info["load_average_end"] = list(os.getloadavg())
                save_results(out, data)
                print(f"[{time.perf_counter() - started:7.0f} s] {_describe(job, row)}",
                      file=sys.stderr, flush=True)
    finally:
        pool.shutdown(cancel_futures=True)
    return data


def _pool(workers: int, threads: int = 1) -> ProcessPoolExecutor:
    """Worker processes, each replaced after one job: a long search grows a TensorFlow process
    by gigabytes (one worker reached 10 GB after four searches and was killed for memory)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                               initializer=_init_worker, initargs=(threads,),
                               max_tasks_per_child=1)
