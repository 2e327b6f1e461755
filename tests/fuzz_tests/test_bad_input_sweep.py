"""Bad input over every command: unreachable or malformed database URLs, studies and trials
that do not exist, model files that are not TFLite, output paths that would escape their folder,
out-of-range numbers. Each must be answered with one line and exit status 2, never a traceback,
and leave no file behind (each case runs in an empty working folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._cli import exportable_model_bytes, real_model_bytes, run_cli

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/none"

#: --storage values that cannot be used, with what the error must say.
BAD_STORAGES = [
    (UNREACHABLE, "cannot open the database"),
    ("studies.db", "expected a database URL"),
    ("sqlite:///{tmp}/missing/none.db", "missing/none.db"),
    ("postgresql+psycopg://nobody@127.0.0.1:notaport/x", "--storage"),
    ("mysql://nobody@127.0.0.1:1/x", "cannot open the database"),
    ("nosuchdialect://x", "cannot open the database"),
]

#: Commands that read a study, as argv builders (storage, study, out folder).
STUDY_READERS = {
    "pareto": lambda s, n, o: ["pareto", "--storage", s, "--study", n],
    "report": lambda s, n, o: ["report", "--storage", s, "--study", n, "--out", o],
    "worker": lambda s, n, o: ["worker", "--storage", s, "--study", n, "--trials", "1"],
    "export": lambda s, n, o: ["export", "--storage", s, "--study", n, "--trial", "best",
                               "--out", o],
}


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def refused(argv: list[str], workdir: Path, *expect: str) -> str:
    """Run ``argv`` in ``workdir``: exit 2, one line naming ``expect``, nothing written."""
    before = _files(workdir)
    code, _, err = run_cli(argv)
    assert "Traceback" not in err, err
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for text in expect:
        assert text in lines[0], (text, lines[0])
    assert _files(workdir) == before, sorted(map(str, _files(workdir) - before))
    return lines[0]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder, so that files written to default places are seen too."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _command_exists(name: str) -> bool:
    from tinynas.cli import COMMANDS, _available

    return _available(COMMANDS[name][0])


@pytest.mark.parametrize("storage,expect", BAD_STORAGES, ids=lambda v: str(v)[:24])
@pytest.mark.parametrize("command", sorted(STUDY_READERS))
def test_bad_storage(command: str, storage: str, expect: str, workdir: Path) -> None:
    if not _command_exists(command):
        pytest.skip(f"no {command} command in this tree")
    url = storage.format(tmp=workdir)
    refused(STUDY_READERS[command](url, "s", str(workdir / "out")), workdir, expect)


def test_bad_storage_for_search_and_dashboard(workdir: Path) -> None:
    refused(["search", "--board", "nucleo_l432kc", "--space", "ds_cnn", "--dataset", "digits",
             "--trials", "1", "--storage", UNREACHABLE], workdir, "cannot open the database")
    refused(["dashboard", "--storage", UNREACHABLE, "--port", "0"], workdir,
            "cannot open the database")
    refused(["dashboard", "--storage", f"sqlite:///{workdir}/none.db", "--port", "0"], workdir,
            "none.db")


@pytest.fixture(scope="module")
def existing(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite storage holding one real study, 'other', with no trials."""
    import optuna

    db = tmp_path_factory.mktemp("db") / "studies.db"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="other", storage=f"sqlite:///{db}")
    return f"sqlite:///{db}"


@pytest.mark.parametrize("command", sorted(STUDY_READERS))
def test_missing_study(command: str, existing: str, workdir: Path) -> None:
    if not _command_exists(command):
        pytest.skip(f"no {command} command in this tree")
    refused(STUDY_READERS[command](existing, "nope", str(workdir / "out")), workdir,
            "no study 'nope'", "other")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real study created by the search driver (no trial has run yet)."""
    from tinynas.pipeline import SearchConfig, prepare

    tmp = tmp_path_factory.mktemp("prepared")
    storage = f"sqlite:///{tmp}/s.db"
    prepare(SearchConfig(board="nucleo_l432kc", space="ds_cnn", dataset="digits", trials=2,
                         storage=storage, study_name="s", sampler="random",
                         artifact_dir=tmp / "artifacts"))
    return storage


@pytest.mark.parametrize("trial,expect", [("99", "has no trial 99"), ("-1", "trial"),
                                          ("abc", "trial")])
def test_unknown_trial_numbers(trial: str, expect: str, prepared: str, workdir: Path) -> None:
    if not _command_exists("export"):
        pytest.skip("no export command in this tree")
    refused(["export", "--storage", prepared, "--study", "s", "--trial", trial, "--out",
             str(workdir / "out")], workdir, expect)


def test_no_trained_trial_yet(prepared: str, workdir: Path) -> None:
    if not _command_exists("export"):
        pytest.skip("no export command in this tree")
    refused(["export", "--storage", prepared, "--study", "s", "--trial", "best", "--out",
             str(workdir / "out")], workdir, "no feasible trained trial")


@pytest.mark.parametrize("argv,expect", [
    (["worker", "--study", "s", "--trials", "0"], "--trials must be at least 1"),
    (["worker", "--study", "s", "--timeout", "-5"], "--timeout must be positive"),
    (["search", "--board", "nucleo_l432kc", "--space", "ds_cnn", "--dataset", "digits",
      "--trials", "2", "--workers", "0"], "--workers must be at least 1"),
    (["search", "--board", "nucleo_l432kc", "--space", "ds_cnn", "--dataset", "digits",
      "--trials", "2", "--epochs", "0"], "--epochs must be at least 1"),
    (["search", "--board", "nucleo_l432kc", "--space", "ds_cnn", "--dataset", "digits",
      "--trials", "2", "--timeout", "0"], "--timeout must be positive"),
    (["search", "--board", "nucleo_l432kc", "--space", "ds_cnn", "--dataset", "digits",
      "--trials", "2", "--folds", "0"], "--folds must be 'auto' or a whole number"),
    (["search", "--board", "nucleo_l432kc", "--space", "ds_cnn", "--dataset", "digits",
      "--trials", "2", "--folds", "5000", "--study", "many-folds"],
     "--folds 5000: dataset digits has 1259 training samples, so at most 1260 folds"),
    (["dashboard", "--port", "70000"], "port"),
    (["dashboard", "--port", "-1"], "port"),
    (["worker", "--study", "s", "--trials", "many"], "--trials"),
])
def test_out_of_range_numbers(argv: list[str], expect: str, prepared: str,
                              workdir: Path) -> None:
    if "--storage" not in argv and argv[0] in ("worker", "search"):
        argv = [*argv, "--storage", prepared]
    refused(argv, workdir, expect)


def test_worker_environment_overrides(prepared: str, workdir: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYNAS_HEARTBEAT_GRACE", "soon")
    refused(["worker", "--storage", prepared, "--study", "s"], workdir,
            "TINYNAS_HEARTBEAT_GRACE", "positive number of seconds")
    monkeypatch.setenv("TINYNAS_HEARTBEAT_GRACE", "5")
    monkeypatch.setenv("TINYNAS_HEARTBEAT_INTERVAL", "10")
    refused(["worker", "--storage", prepared, "--study", "s"], workdir, "must be longer")


# --- model files ------------------------------------------------------------------------------

def _model_files(root: Path, real: bytes) -> dict[str, Path]:
    cases = {"empty": b"", "text": b"hello, not a model\n", "png": b"\x89PNG\r\n\x1a\n" * 8,
             "truncated": real[: len(real) // 2], "header only": real[:8],
             "wrong identifier": real[:4] + b"XXXX" + real[8:]}
    root.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in cases.items():
        path = root / (name.replace(" ", "_") + ".tflite")
        path.write_bytes(data)
        paths[name] = path
    paths["missing"] = root / "missing.tflite"
    paths["directory"] = root
    return paths


MODEL_COMMANDS = {
    "analyze": lambda m, o: ["analyze", str(m), "--board", "nucleo_l432kc"],
    "analyze --measure": lambda m, o: ["analyze", str(m), "--measure"],
    "export": lambda m, o: ["export", "--tflite", str(m), "--out", str(o)],
    "bench": lambda m, o: ["bench", "--model", str(m), "--emulate", "cortex-m4", "--random",
                           "1"],
}


@pytest.mark.parametrize("case", ["empty", "text", "png", "truncated", "header only",
                                  "wrong identifier", "missing", "directory"])
@pytest.mark.parametrize("command", sorted(MODEL_COMMANDS))
def test_not_a_model(command: str, case: str, tmp_path_factory: pytest.TempPathFactory,
                     workdir: Path) -> None:
    name = command.split()[0]
    if not _command_exists(name):
        pytest.skip(f"no {name} command in this tree")
    models = _model_files(tmp_path_factory.mktemp("models"), real_model_bytes())
    path = models[case]
    refused(MODEL_COMMANDS[command](path, workdir / "out"), workdir,
            str(path) if case != "directory" else "")


def test_a_model_that_cannot_be_exported(workdir: Path) -> None:
    """Structurally valid, but its activations have no scale: refused before any file."""
    path = workdir / "unscaled.tflite"
    path.write_bytes(real_model_bytes())
    refused(["export", str(path), "--out", str(workdir / "out")], workdir,
            "quantization scale 0.0")


# --- export destinations and exported folders -------------------------------------------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder written by ``tinynas export``."""
    root = tmp_path_factory.mktemp("exported")
    (root / "m.tflite").write_bytes(exportable_model_bytes())
    code, _, err = run_cli(["export", str(root / "m.tflite"), "--out", str(root / "bundle")])
    assert code == 0, err
    return root / "bundle"


@pytest.mark.parametrize("out,expect", [
    ("afile", "exists and is not a folder"),
    ("afile/sub", "cannot create"),
    ("foreign", "not empty"),
    (".", "name the destination folder"),
    ("..", "name the destination folder"),
    ("foreign/..", "name the destination folder"),
])
def test_export_destinations(out: str, expect: str, workdir: Path) -> None:
    model = workdir / "m.tflite"
    model.write_bytes(exportable_model_bytes())
    (workdir / "afile").write_text("mine\n")
    (workdir / "foreign").mkdir()
    (workdir / "foreign" / "notes.txt").write_text("mine\n")
    refused(["export", str(model), "--out", out], workdir, expect)
    assert (workdir / "foreign" / "notes.txt").read_text() == "mine\n"


def test_export_over_an_earlier_one_does_not_follow_links_out(exported: Path,
                                                              workdir: Path) -> None:
    import shutil

    bundle = workdir / "bundle"
    shutil.copytree(exported, bundle)
    outside = workdir / "outside.txt"
    outside.write_text("mine\n")
    (bundle / "model.tflite").unlink()
    (bundle / "model.tflite").symlink_to(outside)
    model = workdir / "m.tflite"
    model.write_bytes(exportable_model_bytes())
    code, _, err = run_cli(["export", str(model), "--out", str(bundle)])
    assert code == 0, err
    assert outside.read_text() == "mine\n"
    assert not (bundle / "model.tflite").is_symlink()
    assert sorted(p.name for p in workdir.iterdir()) == ["bundle", "m.tflite", "outside.txt"]


@pytest.mark.parametrize("case", ["missing", "file", "empty", "foreign", "no manifest",
                                  "bad manifest", "truncated model"])
def test_verify_bad_folders(case: str, exported: Path, workdir: Path) -> None:
    import shutil

    folder = workdir / "bundle"
    if case == "file":
        folder.write_text("not a folder\n")
    elif case == "empty":
        folder.mkdir()
    elif case == "foreign":
        folder.mkdir()
        (folder / "notes.txt").write_text("mine\n")
    elif case != "missing":
        shutil.copytree(exported, folder)
        manifest = folder / "tinynas_export.json"
        if case == "no manifest":
            manifest.unlink()
        elif case == "bad manifest":
            manifest.write_text("{not json")
        else:
            model = folder / "model.tflite"
            model.write_bytes(model.read_bytes()[:100])
    refused(["verify", str(folder), "--inputs", "2"], workdir, "bundle")


@pytest.mark.slow
def test_verify_a_model_tensorflow_lite_refuses(exported: Path, workdir: Path) -> None:
    """Export accepts the model, TensorFlow Lite's reference kernels do not: one line."""
    import shutil

    folder = workdir / "bundle"
    shutil.copytree(exported, folder)
    before = _files(workdir)
    code, _, err = run_cli(["verify", str(folder), "--inputs", "2"])
    assert code == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "TensorFlow Lite cannot run model.tflite" in err
    assert {p for p in _files(workdir) - before if p.name != "tinynas_host"} == set()


# --- paths that would escape their folder -----------------------------------------------------

@pytest.mark.parametrize("label", ["../escape", "a/../../escape", "/abs", "..", "", "a\x00b"])
def test_collect_label_cannot_escape_the_output_folder(label: str, workdir: Path) -> None:
    refused(["collect", "--port", "socket://127.0.0.1:1", "--label", label, "--out",
             str(workdir / "data"), "--seconds", "1"], workdir, "--label")


def test_servers_listen_on_loopback_by_default() -> None:
    from tinynas.cli import build_parser

    parser = build_parser("dashboard")
    assert parser.parse_args(["dashboard"]).host == "127.0.0.1"


def test_emulated_uart_listens_on_loopback(tmp_path: Path) -> None:
    from tinynas.device.emulator import Emulator
    from tinynas.errors import MissingDependencyError

    elf = tmp_path / "app.elf"
    elf.write_bytes(b"\x7fELF")
    try:
        argv = Emulator(elf, "cortex-m4").command(4321)
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    serial = argv[argv.index("-serial") + 1]
    assert serial.startswith("tcp:127.0.0.1:4321,"), serial
