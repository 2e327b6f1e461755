"""Distributed-search benchmark on a real PostgreSQL server started in a temporary directory.

1. Throughput: ``tinynas search --workers W`` for W = 1, 2, 4 on the same tiny DS-CNN space
   (digits, one epoch per candidate), each on a fresh study of T trials; wall time of the whole
   command (worker start-up included) and trials per hour.
2. Crash run: W local workers on one study while a worker that is training a trial is
   SIGKILLed K times; the supervisor starts it again, heartbeats fail its trial and another
   worker retries it. Then the study is audited: exactly T complete trials, every model stored
   once and readable, nothing left running or queued.

Usage::

    .venv/bin/python bench/distributed_bench.py [--trials 8] [--kills 3] \
        [--out bench/results/distributed_bench.json]
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

from pg import PostgresServer  # noqa: E402

from tinynas import study as studies  # noqa: E402
from tinynas.workers import audit_study, run_local_workers  # noqa: E402

BOARD = "stm32h743zi"
SPACE = """
[space]
family = "ds_cnn"
input_ranks = [3]

[architecture]
min_input = [8, 8]
first_filters = [8, 16]
first_filters_step = 8
first_kernel = [3]
first_stride = [1, 2]
blocks = [1, 2]
filters = [8, 16]
filters_step = 8
kernel = [3]
stride = [1, 2]
pooling = ["avg"]
dense_units = [0, 0]
dropout = [0.0, 0.3]

[training]
epochs = 1
batch_size = 64
patience = 1
"""


def _search_argv(storage: str, name: str, space: Path, artifacts: Path, trials: int,
                 workers: int) -> list[str]:
    return [sys.executable, "-m", "tinynas", "search", "--board", BOARD, "--space", str(space),
            "--dataset", "digits", "--trials", str(trials), "--storage", storage, "--study",
            name, "--sampler", "random", "--seed", "5", "--artifact-dir", str(artifacts),
            "--workers", str(workers)]


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


def _env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def main() -> None:
    """Run both parts and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--out", default=str(ROOT / "bench/results/distributed_bench.json"))
    args = parser.parse_args()
    os.environ.setdefault("TINYNAS_HEARTBEAT_INTERVAL", "2")
    os.environ.setdefault("TINYNAS_HEARTBEAT_GRACE", "6")
    import tempfile

    out: dict[str, Any] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp, PostgresServer() as server:
        work = Path(tmp)
        (work / "space.toml").write_text(SPACE)
        out["throughput"] = []
        for workers in (int(w) for w in args.workers.split(",")):
            row = throughput(server, work, workers, args.trials)
            print(json.dumps(row), flush=True)
            out["throughput"].append(row)
        out["crash"] = crash_run(server, work, 4, 2 * args.trials, args.kills)
        print(json.dumps(out["crash"]), flush=True)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    studies.atomic_write(path, json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
