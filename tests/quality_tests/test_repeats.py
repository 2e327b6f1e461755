"""Repeated training of fixed models (``bench.search_quality repeats``): the models file, the
table, and a real two-seed run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

# The benchmark lives beside the package, not in it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.search_quality.__main__ import main  # noqa: E402
from bench.search_quality.repeats import (  # noqa: E402
    ModelsFileError,
    load_models,
    repeat_jobs,
    repeat_table,
)

SHIPPED = Path(__file__).resolve().parents[2] / "bench" / "search_quality" / \
    "fashion_mnist_half_ram.toml"
DENSE = ('space = "mixed_cnn"\narch = { first_filters = 0, first_kernel = 1, first_stride = 1, '
         'filters = [], kernels = [], strides = [], separable = [], pooling = "flatten", '
         'dense_units = 32, dropout = 0.0 }\n')


def test_the_shipped_models_load_and_are_named_by_reference_or_summary() -> None:
    models = load_models(SHIPPED)
    assert models[0].name == "keras_mnist_cnn" and models[0].reference == "keras_mnist_cnn"
    assert models[1].name == "conv 12 k5 s2 | conv 24 k3 s2 | flatten | dropout 0.15"
    assert models[-1].name == "flatten | dropout 0.1 | dense 128"
    assert models[1].to_dict()["compression"] == {"quantization": "qat"}


@pytest.mark.parametrize("path", sorted(SHIPPED.parent.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_models_file_loads_with_its_reference_first(path: Path) -> None:
    models = load_models(path)
    assert models[0].reference == "keras_mnist_cnn"
    assert len({m.name for m in models}) == len(models) > 1


@pytest.mark.parametrize("text,expect", [
    ("", "expected one or more [[model]] tables"),
    ("[[model]]\nspace = \"mixed_cnn\"\n", "needs reference = NAME, or space = NAME"),
    ("[[model]]\nreference = \"no_such_model\"\n", "no_such_model"),
    ("[[model]]\n" + DENSE.replace("dense_units = 32", "dense_units = 32, kernel = 3"),
     "model 1"),
    ("[[model]]\n" + DENSE + "[[model]]\n" + DENSE, "two models share a name"),
    ("[[model]\n", "model"),
    ("[[model]]\n" + DENSE + 'teacher = "nobody"\n', "teacher must name another model"),
    ('[[model]]\nname = "a"\nteacher = "a"\n' + DENSE, "model 1: teacher must name"),
    ('[[model]]\nreference = "keras_mnist_cnn"\nteacher = "b"\n[[model]]\nname = "b"\n'
     + DENSE, "model 1: teacher must name"),
    ('[[model]]\nname = "a"\nteacher = "b"\n' + DENSE + '[[model]]\nname = "b"\n'
     'teacher = "a"\n' + DENSE, "teacher must name another model of the file that has no "
     "teacher itself"),
    ("[[model]]\n" + DENSE + "compression = { distillation = true }\n",
     "distillation needs teacher = NAME"),
    ("[[model]]\nepochs = 0\n" + DENSE, "model 1: epochs must be a whole number of at least 1"),
    ('[[model]]\nreference = "keras_mnist_cnn"\nepochs = "5"\n', "got '5'"),
])
def test_a_bad_models_file_is_refused_in_one_line_naming_it(tmp_path: Path, text: str,
                                                            expect: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(ModelsFileError) as exc:
        load_models(path)
    assert str(path) in str(exc.value) and expect in str(exc.value)
    assert "\n" not in str(exc.value)


def test_jobs_cover_every_model_split_and_seed_with_distinct_keys(tmp_path: Path) -> None:
    models = load_models(SHIPPED)[:2]
    grid = repeat_jobs("fashion_mnist:3000", models, (0, 2), (0, 1, 2), epochs=5)
    assert len(grid) == len({j.key() for j in grid}) == 12
    assert grid[0].key() == "repeat/e5/fashion_mnist:3000/keras_mnist_cnn/split0/t0"
    assert grid[0].to_dict()["training_seed"] == 0 and grid[-1].to_dict()["split"] == 2
    assert grid[0].to_dict()["lr_schedule"] == "constant"
    cosine = repeat_jobs("fashion_mnist:3000", models, (0,), (0,), epochs=5, lr_schedule="cosine")
    assert cosine[0].key() == "repeat/e5/cosine/fashion_mnist:3000/keras_mnist_cnn/split0/t0"
    shifted = repeat_jobs("digits", models, (0,), (0,), epochs=5, augment=("shift", "noise"))
    assert shifted[0].key() == "repeat/e5/augment-shift+noise/digits/keras_mnist_cnn/split0/t0"
    assert shifted[0].training() == {"lr_schedule": "constant", "augment": ("shift", "noise")}
    assert grid[0].training()["augment"] == ()
    tuned = repeat_jobs("digits", models, (0,), (0,), epochs=5, learning_rate=0.01, batch_size=64)
    assert tuned[0].key() == "repeat/e5/lr0.01/batch64/digits/keras_mnist_cnn/split0/t0"
    assert tuned[0].training()["learning_rate"] == 0.01
    assert tuned[0].to_dict()["batch_size"] == 64
    assert "learning_rate" not in grid[0].training() and "batch_size" not in grid[0].to_dict()


def _row(model: str, seed: int, acc: float, ram: int) -> dict[str, object]:
    return {"kind": "repeat", "dataset": "d", "split": 0, "model": model, "training_seed": seed,
            "accuracy_int8": acc, "ram_bytes": ram}


def test_the_table_gives_mean_spread_and_difference_against_the_baseline() -> None:
    rows = [_row("ref", 0, 0.80, 8192), _row("ref", 1, 0.84, 8192),
            _row("small", 1, 0.83, 4096), _row("small", 0, 0.85, 4096),
            _row("mid", 0, 0.90, 6144), _row("mid", 1, 0.90, 6144),
            {**_row("mid", 2, 0.1, 6144), "error": "crashed"}]
    rows.append({**_row("a | b", 0, 0.5, 1024)})
    table = repeat_table(rows, baseline="ref")
    models = [line.split(" | ")[2] for line in table.splitlines()[2:]]
    assert models == ["ref", "small", "mid", "a \\| b"]
    assert "| d | 0 | ref | 8.0 KB | 0.800 / 0.840 | 0.820 | 0.028 | +0.000 | no |" in table
    assert "| d | 0 | small | 4.0 KB | 0.850 / 0.830 | 0.840 | 0.014 | +0.020 | yes |" in table
    assert "| d | 0 | mid | 6.0 KB | 0.900 / 0.900 | 0.900 | 0.000 | +0.080 | no |" in table
    assert "mean - ref" in table.splitlines()[0]
    assert "mean -" not in repeat_table(rows).splitlines()[0]


def test_a_real_run_trains_each_seed_once_and_continues(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    models = tmp_path / "models.toml"
    models.write_text("[[model]]\nname = \"mlp\"\n" + DENSE)
    out = tmp_path / "repeats.json"
    argv = ["repeats", "--models", str(models), "--dataset", "digits", "--splits", "0",
            "--training-seeds", "0,1", "--epochs", "1", "--out", str(out)]
    assert main(argv) == 0
    rows = list(json.loads(out.read_text())["results"].values())
    assert sorted(r["training_seed"] for r in rows) == [0, 1]
    assert all(0.3 < r["accuracy_int8"] <= 1.0 and r["ram_bytes"] > 0 for r in rows)
    assert all(r["test_samples"] > 100 and r["model"] == "mlp" for r in rows)
    # One float epoch and a quarter of one (rounded up to one) of QAT.
    assert all(r["epochs_trained"] == 2 for r in rows)
    table = capsys.readouterr().out
    assert "| digits | 0 | mlp |" in table
    assert main(argv) == 0
    assert "0 jobs to run (2 already done)" in capsys.readouterr().err
    assert len(json.loads(out.read_text())["runs"]) == 2


def test_a_student_distils_from_its_teacher_trained_on_the_same_split_and_seed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[[model]]\nname = "big"\n' + DENSE.replace("32", "64") +
                      '[[model]]\nname = "student"\nteacher = "big"\n' + DENSE)
    specs = load_models(models)
    assert specs[1].teacher is specs[0] and specs[0].teacher is None
    assert specs[1].to_dict()["teacher"] == "big"
    assert specs[1].to_dict()["compression"]["distillation"] is True
    out = tmp_path / "repeats.json"
    assert main(["repeats", "--models", str(models), "--only", "student", "--dataset", "digits",
                 "--splits", "0", "--training-seeds", "0", "--epochs", "1",
                 "--out", str(out), "--workdir", str(tmp_path / "work")]) == 0
    (row,) = json.loads(out.read_text())["results"].values()
    assert row["model"] == "student" and row["teacher"] == "big" and row["teacher_epochs"] == 1
    assert 0.3 < row["accuracy_int8"] <= 1.0


def test_a_teacher_with_its_own_epochs_is_trained_once_for_its_students(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[[model]]\nname = "big"\nepochs = 2\n' + DENSE.replace("32", "64")
                      + '[[model]]\nname = "a"\nteacher = "big"\n' + DENSE
                      + '[[model]]\nname = "b"\nteacher = "big"\n'
                      + DENSE.replace("32", "16"))
    specs = load_models(models)
    assert [m.epochs for m in specs] == [2, None, None]
    grid = repeat_jobs("digits", specs, (0, 1), (0,), epochs=1)
    assert [(j.model.name, j.split) for j in grid] == [
        ("big", 0), ("big", 1), ("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert grid[0].key() == "repeat/e2/digits/big/split0/t0"
    assert grid[2].key() == "repeat/e1/digits/a/split0/t0"
    assert grid[2].teacher_key() == grid[4].teacher_key() == "teacher/e2/digits/big/split0/t0"
    work, out = tmp_path / "work", tmp_path / "repeats.json"
    argv = ["repeats", "--models", str(models), "--dataset", "digits", "--splits", "0",
            "--training-seeds", "0", "--epochs", "1", "--out", str(out), "--workdir", str(work)]
    assert main([*argv, "--only", "a"]) == 0
    (kept,) = (work / "teachers").iterdir()
    assert kept.name == "teacher_e2_digits_big_split0_t0.h5"
    written = kept.stat().st_mtime_ns
    assert main([*argv, "--only", "b"]) == 0
    assert kept.stat().st_mtime_ns == written and len(list((work / "teachers").iterdir())) == 1
    rows = json.loads(out.read_text())["results"]
    student = rows["repeat/e1/digits/b/split0/t0"]
    assert student["teacher"] == "big" and student["teacher_epochs"] == 2
    assert student["epochs"] == 1 and 0.3 < student["accuracy_int8"] <= 1.0


def test_bad_arguments_are_refused_in_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["repeats", "--models", str(SHIPPED), "--baseline", "nope",
                 "--out", str(out)]) == 2
    assert main(["repeats", "--models", str(SHIPPED), "--splits", "a",
                 "--out", str(out)]) == 2
    assert main(["repeats", "--models", str(SHIPPED), "--only", "keras_mnist_cnn,x",
                 "--out", str(out)]) == 2
    assert main(["repeats", "--models", str(SHIPPED), "--only", "keras_mnist_cnn",
                 "--baseline", "flatten | dropout 0.1 | dense 128", "--out", str(out)]) == 2
    assert main(["repeats", "--models", str(SHIPPED), "--jobs", "0", "--out", str(out)]) == 2
    assert main(["repeats", "--models", str(SHIPPED), "--dataset", "no_such_data",
                 "--out", str(out)]) == 2
    assert main(["repeats", "--models", str(SHIPPED), "--dataset", "digits", "--augment",
                 "shift,spin", "--out", str(out)]) == 2
    assert main(["repeats", "--models", str(SHIPPED), "--learning-rate", "2",
                 "--out", str(out)]) == 2
    assert main(["repeats", "--models", str(SHIPPED), "--batch-size", "0",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[7] == "--learning-rate: must be above 0 and below 1, got 2.0"
    assert err[8] == "--batch-size: must be at least 1, got 0"
    assert err[6] == ("--augment: augmentation 'spin' does not apply to image data; allowed: "
                      "shift, rotate, noise, flip, none")
    assert err[4] == "--jobs: must be at least 1, got 0"
    assert err[5].startswith("--dataset: ") and "no_such_data" in err[5]
    assert err[0].startswith("--baseline: no model named 'nope'")
    assert err[1].startswith("--splits and --training-seeds")
    assert err[2].startswith("--only: no model named 'x'")
    assert err[3].startswith("--baseline: no model named 'flatten | dropout 0.1 | dense 128'")
    assert not out.exists()
