"""The generated runtime against TensorFlow Lite's reference kernels, byte for byte, built with
AddressSanitizer and UndefinedBehaviorSanitizer: every intermediate tensor of random graphs that
use every supported operator, and ``tinynas verify`` on a study export (test split + random)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tinynas.cli import main
from tinynas.codegen import lower
from tinynas.export import ExportInfo, export_bundle, trace_tensors
from tinynas.tflite_writer import serialize

from ._graphs import image_chain, overlap_chain, sequence_chain

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("make,seed", [(image_chain, 0), (image_chain, 1), (image_chain, 2),
                                       (sequence_chain, 0), (sequence_chain, 1),
                                       (overlap_chain, 0)])
def test_every_tensor_matches_tflite(make, seed: int, tmp_path: Path) -> None:
    graph = make(seed)
    out = tmp_path / "fw"
    export_bundle(serialize(graph), out, ExportInfo())
    rng = np.random.default_rng(seed)
    inputs = rng.integers(-128, 128, size=(150, graph.tensor(graph.inputs[0]).elements),
                          dtype=np.int8)
    inputs[75:] = np.clip(rng.normal(0, 12, size=inputs[75:].shape), -128, 127)
    checks = trace_tensors(out, inputs, sanitize=True)
    program, _ = lower(graph)
    finished = {t: k for k, step in enumerate(program.steps) for t in step.writes}
    assert sorted((c.call, c.tensor) for c in checks) == sorted((k, t) for t, k in finished.items())
    assert [c for c in checks if c.differing] == []


def test_verify_a_study_export(digits_study: tuple[str, str, bytes], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    storage, name, _ = digits_study
    out = tmp_path / "fw"
    assert main(["export", "--storage", storage, "--study", name, "--trial", "0",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["verify", str(out), "--inputs", "80", "--sanitize"]) == 0
    assert capsys.readouterr().out.strip() == \
        "identical: 80/80 outputs (test split 40, random 40)"

    # A wrong shift in the first kernel's constants must be caught and located.
    source = out / "tinynas_model.c"
    text = source.read_text()
    shifts = re.search(r"static const int8_t tn_c1\[\d+\] = \{\n([^}]*)\}", text)
    assert shifts is not None
    wrong = ", ".join(str(int(v) - 1) for v in shifts.group(1).replace("\n", " ").split(","))
    source.write_text(text.replace(shifts.group(1), wrong + "\n"))
    assert main(["verify", str(out), "--inputs", "20"]) == 1
    streams = capsys.readouterr()
    assert re.match(r"identical: \d+/20 outputs", streams.out)
    assert "first difference: kernel call 0 (CONV_2D)" in streams.err


def test_verify_refuses_folders_that_are_not_exports(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path)]) == 2
    assert "not a tinynas export" in capsys.readouterr().err
    assert main(["verify", str(tmp_path), "--inputs", "0"]) == 2
