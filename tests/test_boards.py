"""Board constraint files: every shipped board parses; malformed files name file, key and rule."""

from __future__ import annotations

import pytest

from tinynas.boards import CORES, board_names, load_board, load_board_file
from tinynas.errors import BoardFileError, UnknownNameError

SHIPPED = ["arduino_nano33_ble", "stm32f746g_disco", "stm32h743zi", "nucleo_l432kc",
           "nucleo_l4r5zi", "esp32", "esp32_s3", "rpi_pico", "sparkfun_edge", "nrf5340dk"]

GOOD = """
[board]
name = "my_board"
core = "cortex-m4"
clock_mhz = 80
ram_bytes = 65536
flash_bytes = 262144

[budget]
ram_reserve_bytes = 16384
flash_reserve_bytes = 65536
latency_ms = 100
"""


def test_every_named_board_ships() -> None:
    assert set(SHIPPED) <= set(board_names())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_board_is_consistent(name: str) -> None:
    board = load_board(name)
    assert board.name == name
    assert board.core in CORES
    assert 0 < board.ram_limit < board.ram_bytes or board.ram_reserve_bytes == 0
    assert 0 < board.flash_limit <= board.flash_bytes
    assert board.source, "every shipped board cites its datasheet"
    assert type(board).from_dict(board.to_dict()) == board


def test_known_figures() -> None:
    l432 = load_board("nucleo_l432kc")
    assert (l432.ram_bytes, l432.flash_bytes, l432.clock_mhz) == (65536, 262144, 80)
    nano = load_board("arduino_nano33_ble")
    assert (nano.ram_bytes, nano.core, nano.clock_mhz) == (262144, "cortex-m4", 64)


def test_board_by_path(write_file) -> None:
    board = load_board(str(write_file("b.toml", GOOD)))
    assert board.ram_limit == 65536 - 16384
    assert board.flash_limit == 262144 - 65536


def test_unknown_name_lists_boards() -> None:
    with pytest.raises(UnknownNameError) as err:
        load_board("stm32f4")
    assert "unknown board 'stm32f4'" in str(err.value)
    assert "nucleo_l432kc" in str(err.value)


@pytest.mark.parametrize("replace,expect", [
    (('core = "cortex-m4"', 'core = "avr"'), "[board] core: must be one of"),
    (("ram_bytes = 65536", "ram_bytes = -1"), "[board] ram_bytes: must be >= 1024"),
    (("ram_bytes = 65536", 'ram_bytes = "64K"'), "[board] ram_bytes: must be an integer"),
    (("clock_mhz = 80", "clock_mhz = 0"), "[board] clock_mhz: must be >= 1"),
    (("ram_reserve_bytes = 16384", "ram_reserve_bytes = 70000"),
     "[budget] ram_reserve_bytes: must be <= 65535"),
    (("latency_ms = 100", "latency_ms = nan"), "[budget] latency_ms: must be a number"),
    (("latency_ms = 100", "latency_ms = 100\nlatancy = 3"), "unknown key 'latancy'"),
    (("name = \"my_board\"", ""), "[board] name: is required"),
    (("[budget]", "[budgett]"), "budget: is required"),
    (("flash_bytes = 262144", "flash_bytes = "), "malformed TOML"),
])
def test_malformed_board_names_file_key_rule(write_file, replace, expect) -> None:
    path = write_file("bad.toml", GOOD.replace(*replace))
    with pytest.raises(BoardFileError) as err:
        load_board_file(path)
    message = str(err.value)
    assert message.startswith(str(path)), message
    assert expect in message
    assert "\n" not in message


def test_missing_and_binary_files(tmp_path) -> None:
    with pytest.raises(BoardFileError, match="no such file"):
        load_board(str(tmp_path / "none.toml"))
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(BoardFileError, match="not UTF-8"):
        load_board(str(binary))
