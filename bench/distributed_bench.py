"""Distributed-search benchmark on a real PostgreSQL server started in a temporary directory.

1. Throughput: ``tinynas search --workers W`` for W = 1, 2, 4 on the same tiny DS-CNN space
   (digits, one epoch per candidate), each on a fresh study of T trials; wall time of the whole
   command (worker start-up included) and trials per hour.
2. Crash run: W local workers on one study while a worker that is training a trial is
   SIGKILLed K times; the supervisor starts it again, heartbeats fail its trial and another
   worker retries it. Then the study is audited: exactly T complete trials, every model stored
   once and readable, nothing left running or queued.
3. Bad inputs: the tests under ``tests/fuzz_tests`` run with a plugin that counts every
   command-line invocation by exit status.

Usage::

    .venv/bin/python bench/distributed_bench.py [--trials 8] [--kills 3] \
        [--only throughput|crash|bad-inputs] [--out bench/results/distributed_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from distributed_tests.tiny import BOARD, TINY_SPACE, search_argv  # noqa: E402
from pg import PostgresServer  # noqa: E402

from tinynas import study as studies  # noqa: E402
from tinynas.workers import audit_study, run_local_workers  # noqa: E402

#: The tests' tiny space, a little wider so that fewer candidates repeat.
SPACE = (TINY_SPACE
         .replace("first_filters = [8, 8]", "first_filters = [8, 16]\nfirst_filters_step = 8")
         .replace("\nfilters = [8, 8]", "\nfilters = [8, 16]\nfilters_step = 8")
         .replace("blocks = [1, 1]", "blocks = [1, 2]"))


def _search_argv(storage: str, name: str, space: Path, artifacts: Path, trials: int,
                 workers: int) -> list[str]:
    return [sys.executable, "-m", "tinynas",
            *search_argv(storage, name, space, artifacts, trials, workers, seed=5)]


def throughput(server: PostgresServer, work: Path, workers: int, trials: int) -> dict[str, Any]:
    """Time one ``tinynas search --workers W`` from start to exit."""
    name = f"tp{workers}"
    storage = server.create_database(name)
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(_search_argv(storage, name, work / "space.toml", work / name,
                                         trials, workers),
                            capture_output=True, text=True, env=_env())
    seconds = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if result.returncode != 0:
        raise RuntimeError(f"search --workers {workers} failed: {result.stderr[-2000:]}")
    audit = audit_study(studies.open_study(storage, name))
    busy = _busy_seconds(studies.open_study(storage, name))
    return {"workers": workers, "trials": trials, "seconds": round(seconds, 1),
            "trials_per_hour": round(trials * 3600 / seconds, 1),
            "cpu_seconds": round(cpu, 1), "cpu_seconds_per_trial": round(cpu / trials, 1),
            "load_average_before": round(load_before, 1),
            "mean_trial_seconds": round(busy / max(1, audit.count("COMPLETE")), 2),
            "complete": audit.count("COMPLETE"), "missing": len(audit.missing),
            "duplicated": len(audit.duplicated)}


def _children_cpu() -> float:
    """User and system CPU seconds of every finished child process, grandchildren included."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _busy_seconds(study: Any) -> float:
    return sum((t.datetime_complete - t.datetime_start).total_seconds()
               for t in study.get_trials(deepcopy=False)
               if t.state.name == "COMPLETE" and t.datetime_complete and t.datetime_start)


def crash_run(server: PostgresServer, work: Path, workers: int, trials: int,
              kills: int) -> dict[str, Any]:
    """Kill a training worker ``kills`` times while ``workers`` share a study."""
    from tinynas.pipeline import SearchConfig, prepare

    storage = server.create_database("crash")
    prepare(SearchConfig(board=BOARD, space=str(work / "space.toml"), dataset="digits",
                         trials=trials, storage=storage, study_name="crash", sampler="random",
                         seed=7, artifact_dir=work / "crash"))
    pids: set[int] = set()
    done = threading.Event()
    killed: list[dict[str, Any]] = []

    def killer() -> None:
        rng = random.Random(0)
        study = studies.open_study(storage, "crash")
        while len(killed) < kills and not done.is_set():
            time.sleep(rng.uniform(1.0, 4.0))
            training = [t for t in study.get_trials(deepcopy=False)
                        if t.state.name == "RUNNING" and "signature" in t.user_attrs]
            for trial in training:
                pid = int(trial.user_attrs.get("worker", ":0").rsplit(":", 1)[1])
                if pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:  # it finished in the meantime
                        continue
                    killed.append({"trial": trial.number, "pid": pid, "at": time.time()})
                    break

    thread = threading.Thread(target=killer, daemon=True)
    started = time.perf_counter()
    thread.start()
    try:
        result = run_local_workers(storage, "crash", trials, workers, timeout=900,
                                   stream=open(os.devnull, "w"),  # noqa: SIM115
                                   on_start=lambda ids: pids.update(ids))
    finally:
        done.set()
        thread.join()
    seconds = time.perf_counter() - started
    study = studies.open_study(storage, "crash")
    audit = audit_study(study)
    trials_by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    fail_delays = [round(trials_by_number[k["trial"]].datetime_complete.timestamp() - k["at"], 1)
                   for k in killed if trials_by_number[k["trial"]].datetime_complete]
    return {"workers": workers, "trials": trials, "kills": len(killed),
            "restarts": result.restarts, "seconds": round(seconds, 1),
            "states": audit.states, "retried": audit.retried,
            "killed_trials_retried": sum(k["trial"] in audit.retried for k in killed),
            "seconds_from_kill_to_failed": fail_delays,
            "missing": audit.missing, "duplicated": audit.duplicated,
            "heartbeat": dict(zip(("interval_s", "grace_s"), studies.heartbeat_settings(),
                                  strict=True))}


def bad_inputs(work: Path) -> dict[str, Any]:
    """Run the bad-input tests and count the command invocations they make by exit status."""
    counts = work / "cli_counts.json"
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "bench.cli_call_counter", "-p",
         "no:cacheprovider", "tests/fuzz_tests"], cwd=ROOT, capture_output=True, text=True,
        env={**_env(), "TINYNAS_CLI_COUNTS": str(counts)})
    data = json.loads(counts.read_text())
    by_status = data["by_exit_status"]
    return {"invocations": sum(by_status.values()), "by_exit_status": by_status,
            "tests": result.stdout.strip().splitlines()[-1],
            "pytest_exit_status": data["pytest_exit_status"],
            "seconds": round(time.perf_counter() - started, 1)}


def _env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def main() -> None:
    """Run both parts and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--only", choices=("throughput", "crash", "bad-inputs"), default=None,
                        help="run one part (default: all); the others keep their last results")
    parser.add_argument("--out", default=str(ROOT / "bench/results/distributed_bench.json"))
    args = parser.parse_args()
    os.environ.setdefault("TINYNAS_HEARTBEAT_INTERVAL", "2")
    os.environ.setdefault("TINYNAS_HEARTBEAT_GRACE", "6")
    import tempfile

    path = Path(args.out)
    out: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    out["cpus"] = os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp, PostgresServer() as server:
        work = Path(tmp)
        (work / "space.toml").write_text(SPACE)
        if args.only in (None, "throughput"):
            out["throughput"] = []
            for workers in (int(w) for w in args.workers.split(",")):
                row = throughput(server, work, workers, args.trials)
                print(json.dumps(row), flush=True)
                out["throughput"].append(row)
        if args.only in (None, "crash"):
            out["crash"] = crash_run(server, work, 4, 2 * args.trials, args.kills)
            print(json.dumps(out["crash"]), flush=True)
        if args.only in (None, "bad-inputs"):
            out["bad_inputs"] = bad_inputs(work)
            print(json.dumps(out["bad_inputs"]), flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    studies.atomic_write(path, json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
