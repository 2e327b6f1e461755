"""Parallel search jobs that all find ``kws_synth`` missing: one generates it, the others wait
for it and load the same set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tinynas.datasets._kws_synth import MANIFEST

LOAD = ("from tinynas.datasets import _kws_synth, load_dataset\n"
        "_kws_synth.DEFAULT_PER_WORD = 3\n"
        "data = load_dataset('kws_synth')\n"
        "print(len(data.x_train) + len(data.x_val) + len(data.x_test))\n")


def test_processes_loading_at_once_share_one_generation(tmp_path: Path) -> None:
    env = {**os.environ, "TINYNAS_DATA": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", LOAD], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    assert len({out for out, _ in outputs}) == 1
    assert sum("generating kws_synth" in err for _, err in outputs) == 1
    assert (tmp_path / "kws_synth" / MANIFEST).is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
