"""Cost of study reports, per-trial artifacts and the dashboard.

Measures, on studies written the way ``tinynas search`` writes them (fabricated from plausible
values, see tests/report_tests/fabricated_study.py) or on a study you name:

* ``tinynas report`` in a fresh interpreter: wall and CPU seconds, output size;
* ``tinynas.report.trial_artifacts`` per trained trial (what the search adds to each trial;
  fabricated studies only, since it adds trials);
* ``tinynas dashboard`` in a fresh interpreter: seconds until ``/api/studies`` answers, and the
  time of ``/api/studies/<id>`` (the call the study page makes).

Usage: ``.venv/bin/python bench/report_bench.py [--trials 14 100] [--storage URL --study NAME]
[--out bench/results/report_bench.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "report_tests"))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_report(storage: str, study: str, out: Path) -> dict[str, float]:
    """Run ``tinynas report`` in a fresh interpreter."""
    cpu, wall = _children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "tinynas", "report", "--study", study, "--storage",
                    storage, "--out", str(out)], check=True, cwd=ROOT, capture_output=True)
    wall, cpu = time.perf_counter() - wall, _children_cpu() - cpu
    files = [p for p in out.rglob("*") if p.is_file()]
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "html_kb": round((out / "report.html").stat().st_size / 1024, 1),
            "total_kb": round(sum(p.stat().st_size for p in files) / 1024, 1),
            "figures": sum(1 for p in files if p.suffix == ".png")}


def bench_trial_artifacts(storage: str, study_name: str) -> dict[str, float]:
    """Time ``trial_artifacts`` on fresh running trials carrying each trained trial's attrs."""
    import optuna

    from tinynas import study as studies
    from tinynas.report import trial_artifacts

    study = studies.open_study(storage, study_name)
    trained = studies.trained_trials(study)[:10]
    times = []
    for source in trained:
        trial = study.ask()
        for key, value in source.user_attrs.items():
            trial.set_user_attr(key, value)
        studies.set_constraints(trial, source.system_attrs[studies.CONSTRAINTS_KEY])
        cpu, wall = time.process_time(), time.perf_counter()
        trial_artifacts(study, trial)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    times = times[1:] or times  # the first call pays matplotlib's font cache
    return {"trials": len(times), "wall_s_mean": round(sum(t[0] for t in times) / len(times), 3),
            "cpu_s_mean": round(sum(t[1] for t in times) / len(times), 3)}


def bench_dashboard(storage: str, study_name: str) -> dict[str, float]:
    """Start ``tinynas dashboard`` and time its first answers."""
    from tinynas import study as studies

    study_id = studies.open_study(storage, study_name)._study_id
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tinynas", "dashboard", "--storage", storage,
                             "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert proc.stdout is not None
        url = None
        while url is None:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the dashboard exited before printing its address")
            match = re.search(r"(http://\S+)/dashboard/", line)
            url = match.group(1) if match else None
        urllib.request.urlopen(f"{url}/api/studies", timeout=60).read()
        ready = time.perf_counter() - started
        detail = []
        for _ in range(5):
            t = time.perf_counter()
            urllib.request.urlopen(f"{url}/api/studies/{study_id}", timeout=60).read()
            detail.append(time.perf_counter() - t)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return {"ready_s": round(ready, 2), "study_detail_s_median": round(sorted(detail)[2], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[14, 100])
    parser.add_argument("--storage")
    parser.add_argument("--study")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        if args.storage and args.study:
            cases.append((f"study {args.study}", args.storage, args.study))
        else:
            from fabricated_study import fabricate_study

            for n in args.trials:
                folder = Path(tmp) / f"fab{n}"
                folder.mkdir()
                storage, name = fabricate_study(folder, trials=n)
                cases.append((f"fabricated, {n} trials", storage, name))
        for label, storage, name in cases:
            row = {"study": label, "load_average": round(os.getloadavg()[0], 2),
                   "report": bench_report(storage, name,
                                          Path(tmp) / f"report-{name}-{len(results)}"),
                   "dashboard": bench_dashboard(storage, name)}
            if label.startswith("fabricated"):
                # It adds trials, so it runs only on studies this script made.
                row["trial_artifacts"] = bench_trial_artifacts(storage, name)
            results.append(row)
            print(json.dumps(row))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
