"""Bad input on the command line: one line, exit status 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tinynas.cli import main


def _one_line_error(capsys, argv: list[str], *expect: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    for text in expect:
        assert text in err, err
    return err


def test_unknown_board(capsys) -> None:
    _one_line_error(capsys, ["search", "--board", "stm32", "--space", "ds_cnn", "--dataset",
                             "digits", "--trials", "1"], "unknown board 'stm32'", "nucleo_l432kc")


def test_unknown_space(capsys, tmp_path) -> None:
    _one_line_error(capsys, ["search", "--board", "nucleo_l432kc", "--space", "dscnn",
                             "--dataset", "digits", "--trials", "1",
                             "--storage", f"sqlite:///{tmp_path}/s.db"],
                    "unknown search space 'dscnn'", "ds_cnn", "cnn1d", "gru", "cnn")


def test_unknown_dataset(capsys, tmp_path) -> None:
    _one_line_error(capsys, ["search", "--board", "nucleo_l432kc", "--space", "ds_cnn",
                             "--dataset", "digitz", "--trials", "1",
                             "--storage", f"sqlite:///{tmp_path}/s.db"], "digitz", "digits")


@pytest.mark.parametrize("flag,value,expect", [
    ("--objectives", "accuracy,size", "unknown objective 'size'"),
    ("--objectives", "ram,flash", "must include accuracy"),
    ("--sampler", "grid", "unknown sampler 'grid'"),
    ("--trials", "0", "--trials must be at least 1"),
])
def test_bad_search_flags(capsys, tmp_path, flag, value, expect) -> None:
    argv = ["search", "--board", "nucleo_l432kc", "--space", "ds_cnn", "--dataset", "digits",
            "--trials", "1", "--storage", f"sqlite:///{tmp_path}/s.db"]
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    _one_line_error(capsys, argv, expect)


def test_missing_required_flag(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["search", "--board", "nucleo_l432kc"])
    assert exc.value.code == 2
    assert "required" in capsys.readouterr().err


def test_pareto_on_missing_study(capsys, tmp_path) -> None:
    _one_line_error(capsys, ["pareto", "--storage", f"sqlite:///{tmp_path}/none.db",
                             "--study", "nope"], "no study 'nope'")


def test_unreachable_database(capsys) -> None:
    _one_line_error(capsys, ["pareto", "--storage",
                             "postgresql+psycopg://nobody@127.0.0.1:1/none", "--study", "x"],
                    "cannot open the database")


def test_malformed_storage_url(capsys) -> None:
    _one_line_error(capsys, ["pareto", "--storage", "studies.db", "--study", "x"],
                    "expected a database URL")


def test_board_file_error_through_cli(capsys, write_file) -> None:
    path = write_file("b.toml", "[board]\nname='x'\n")
    _one_line_error(capsys, ["estimate", "--board", str(path), "--space", "ds_cnn", "--params",
                             "{}"], str(path), "is required")


def test_estimate_bad_json(capsys) -> None:
    _one_line_error(capsys, ["estimate", "--board", "nucleo_l432kc", "--space", "ds_cnn",
                             "--params", "{not json"], "--params: not valid JSON")


def test_boards_and_spaces_listing(capsys) -> None:
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert "nucleo_l432kc" in out and "cortex-m4" in out
    assert main(["spaces"]) == 0
    out = capsys.readouterr().out
    for name in ("ds_cnn", "cnn1d", "gru", "cnn"):
        assert name in out


@pytest.mark.parametrize("command", ["boards", "spaces", "pareto --help", "estimate --help"])
def test_light_commands_do_not_import_tensorflow(command: str) -> None:
    code = (f"import sys, runpy; sys.argv = ['tinynas'] + {command!r}.split()\n"
            "from tinynas.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
