"""``tinynas report`` on a finished study: HTML and Markdown with the study's own figures."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tinynas import study as studies
from tinynas.cli import main
from tinynas.report import _format as fmt
from tinynas.report._facts import board_limits

ROOT = Path(__file__).resolve().parent.parent.parent
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(fab, tmp_path_factory) -> tuple[Path, str, str]:
    """The report folder and the text of report.html and report.md."""
    storage, name, _ = fab
    out = tmp_path_factory.mktemp("report") / "out"
    code = subprocess.run(
        [sys.executable, "-c",
         "import sys\nfrom tinynas.cli import main\ncode = main(sys.argv[1:])\n"
         "assert 'tensorflow' not in sys.modules, 'report imported TensorFlow'\n"
         "sys.exit(code)", "report", "--study", name, "--storage", storage,
         "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert code.returncode == 0, code.stderr
    assert "report.html" in code.stdout
    return out, (out / "report.html").read_text(), (out / "report.md").read_text()


def test_html_and_markdown_with_their_figures(report) -> None:
    out, page, md = report
    images = re.findall(r"<img src='([^']+)'", page)
    assert len(images) >= 5
    assert images == re.findall(r"!\[[^]]*\]\(([^)]+)\)", md)
    for src in images:
        assert (out / src).read_bytes().startswith(PNG), src
    assert "http://" not in page and "https://" not in page, "the page must read offline"
    steps = ["Dataset", "Preprocessing", "Training", "Quantization", "Conversion", "Deployment"]
    positions = [page.index(f"<h4>{s}</h4>") for s in steps]
    assert positions == sorted(positions)
    assert " → ".join(f"**{s}**" for s in steps) in md
    for section in ("Pareto front", "Board limits and headroom", "Search progress",
                    "Estimated against measured RAM", "Before and after compression"):
        assert f"<h2>{section}" in page and f"## {section}" in md, section


def test_pipeline_carries_the_study_figures(fab, report) -> None:
    storage, name, _ = fab
    _, page, _ = report
    study = studies.open_study(storage, name)
    attrs = study.user_attrs
    best = studies.best_trial(study)
    assert "train / val / test: " + " / ".join(fmt.count(n) for n in attrs["split_sizes"]) in page
    assert html.escape(attrs["preprocessing"]["normalization"]["formula"]) in page
    trained = studies.trained_trials(study)
    assert f"{len(trained)} of {len(study.trials)} trials trained" in page
    assert (f"best: float {fmt.acc(best.user_attrs['accuracy_float'])} → int8 "
            f"{fmt.acc(best.user_attrs['accuracy_int8'])}") in page
    assert f"{attrs['board']['name']}: {attrs['board']['core']}" in page


def test_a_study_selecting_on_validation_reports_test_beside_it(tmp_path) -> None:
    from fabricated_study import fabricate_study

    storage, name = fabricate_study(tmp_path, name="val", validation=True)
    study = studies.open_study(storage, name)
    front = studies.pareto_trials(study)
    vals = [t.user_attrs["accuracy_int8_val"] for t in front]
    assert vals == sorted(vals, reverse=True), "the front is ordered by what it was chosen on"
    out = tmp_path / "out"
    assert main(["report", "--study", name, "--storage", storage, "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "int8 accuracy on the validation split (what the search selects on)" in md
    rows = _table_rows(md, "## Pareto front")
    assert [int(r[0]) for r in rows] == [t.number for t in front]
    assert [r[1] for r in rows] == [fmt.acc(t.user_attrs["accuracy_int8"]) for t in front]
    assert [r[2] for r in rows] == [fmt.acc(v) for v in vals]
    best = front[0]
    assert (f"trial {best.number}, on test; validation "
            f"{fmt.acc(best.user_attrs['accuracy_int8_val'])}") in md


def _table_rows(md: str, after: str) -> list[list[str]]:
    """The rows of the first Markdown table after the line ``after``."""
    lines = md[md.index(after):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("| "):
            break
        rows.append([c.strip() for c in line.strip("| ").split(" | ")])
    return rows


def test_pareto_table_and_headroom(fab, report) -> None:
    storage, name, _ = fab
    _, _, md = report
    study = studies.open_study(storage, name)
    front = studies.pareto_trials(study)
    assert front
    rows = _table_rows(md, "## Pareto front")
    assert [int(r[0]) for r in rows] == [t.number for t in front]
    assert rows[0][1] == fmt.acc(front[0].user_attrs["accuracy_int8"])
    limits = board_limits(study.user_attrs)
    assert limits is not None
    headroom = _table_rows(md, "| trial | int8 acc | RAM headroom")
    for row, t in zip(headroom, front, strict=True):
        left = limits.ram - t.user_attrs["estimated_ram_bytes"]
        assert row[2] == f"{fmt.kb(left)} ({left / limits.ram * 100:.0f} %)"
    assert f"| RAM | {fmt.kb(study.user_attrs['board']['ram_bytes'])} |" in md


def test_before_after_tables_for_chosen_models(fab, report) -> None:
    storage, name, _ = fab
    _, _, md = report
    study = studies.open_study(storage, name)
    for t in studies.pareto_trials(study)[:5]:
        heading = next(line for line in md.splitlines()
                       if line.startswith(f"### Trial {t.number}:"))
        rows = _table_rows(md, heading)
        stages = t.user_attrs["stages"]
        assert [r[0] for r in rows] == [s["name"] for s in stages]
        assert [r[1] for r in rows] == [fmt.acc(s["accuracy"]) for s in stages]
        assert [r[2] for r in rows] == [fmt.kb(s["tflite_bytes"]) for s in stages]


def test_every_trial_listed_with_its_status(fab, report) -> None:
    storage, name, _ = fab
    _, _, md = report
    study = studies.open_study(storage, name)
    rows = {int(r[0]): r[1] for r in _table_rows(md, "## All trials")}
    assert sorted(rows) == [t.number for t in study.trials]
    over = {n for n, status in rows.items() if status == "over limits"}
    assert over == {t.number for t in study.trials if not studies.is_feasible(t)}
    assert {n for n, s in rows.items() if s == "Pareto"} == {
        t.number for t in studies.pareto_trials(study)}


def _one_line_error(capsys, argv: list[str], *expect: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for text in expect:
        assert text in err, err


def test_bad_report_arguments(capsys, fab, tmp_path: Path) -> None:
    storage, name, _ = fab
    _one_line_error(capsys, ["report", "--study", "nope", "--storage", storage,
                             "--out", str(tmp_path / "a")], "no study 'nope'", name)
    assert not (tmp_path / "a").exists()
    missing = tmp_path / "missing.db"
    _one_line_error(capsys, ["report", "--study", name, "--storage", f"sqlite:///{missing}"],
                    "no database file", str(missing))
    assert not missing.exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line_error(capsys, ["report", "--study", name, "--storage", storage,
                             "--out", str(blocker)], f"--out {blocker}", "not a folder")
    assert blocker.read_text() == "x"
