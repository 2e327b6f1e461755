"""Board constraint files: the one place that parses and validates them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tinynas.errors import BoardFileError
from tinynas.tomlfile import load_toml, resolve, shipped_names

#: Core families the latency model knows.
CORES = ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "xtensa-lx6",
         "xtensa-lx7")

BOARDS_DIR = Path(__file__).resolve().parent.parent / "constraints"


@dataclass(frozen=True)
class Board:
    """A target board and the share of its resources a model may use.

    Attributes:
        name: Short name, e.g. ``nucleo_l432kc``.
        description: The board and its MCU.
        core: Core family, one of :data:`CORES`.
        clock_mhz: Core clock.
        ram_bytes: Total SRAM.
        flash_bytes: Total flash.
        ram_reserve_bytes: SRAM kept for the application, stack and heap.
        flash_reserve_bytes: Flash kept for the application and the RTOS.
        latency_ms: Latency budget for one inference.
        source: Where the figures come from.
    """

    name: str
    description: str
    core: str
    clock_mhz: float
    ram_bytes: int
    flash_bytes: int
    ram_reserve_bytes: int
    flash_reserve_bytes: int
    latency_ms: float
    source: str = ""

    @property
    def ram_limit(self) -> int:
        """Bytes of RAM a model's tensor arena may take."""
        return self.ram_bytes - self.ram_reserve_bytes

    @property
    def flash_limit(self) -> int:
        """Bytes of flash the model and its runtime may take."""
        return self.flash_bytes - self.flash_reserve_bytes

    def to_dict(self) -> dict[str, Any]:
        """The board as a plain dict (what a study stores)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Board:
        """Rebuild a board stored with :meth:`to_dict`."""
        return cls(**data)


def load_board_file(path: Path) -> Board:
    """Parse and validate one board constraint file.

    Args:
        path: A TOML file with ``[board]`` and ``[budget]`` tables.

    Returns:
        The validated board.

    Raises:
        BoardFileError: The file is missing, malformed, or a value is out of range.
    """
    top = load_toml(path, BoardFileError)
    board = top.section("board")
    budget = top.section("budget")
    top.check_unknown()
    name = board.string("name")
    if not name or not name.replace("_", "").isalnum():
        raise board.fail("name", "must be letters, digits and underscores", name)
    ram = board.integer("ram_bytes", low=1024, high=1 << 32)
    flash = board.integer("flash_bytes", low=1024, high=1 << 34)
    result = Board(
        name=name,
        description=board.string("description", ""),
        core=board.string("core", choices=CORES),
        clock_mhz=board.number("clock_mhz", low=1, high=2000),
        ram_bytes=ram,
        flash_bytes=flash,
        ram_reserve_bytes=budget.integer("ram_reserve_bytes", 0, low=0, high=ram - 1),
        flash_reserve_bytes=budget.integer("flash_reserve_bytes", 0, low=0, high=flash - 1),
        latency_ms=budget.number("latency_ms", low=0.001, high=1e7),
        source=board.string("source", ""),
    )
    board.check_unknown()
    budget.check_unknown()
    return result


def board_names() -> list[str]:
    """Names of the boards shipped in ``constraints/``."""
    return shipped_names(BOARDS_DIR)


def load_board(name_or_path: str) -> Board:
    """Load a shipped board by name, or any board file by path.

    Args:
        name_or_path: A name from :func:`board_names` or a path to a ``.toml`` file.

    Raises:
        BoardFileError: The file is invalid.
        UnknownNameError: No such board name.
    """
    return load_board_file(resolve(name_or_path, BOARDS_DIR, "board"))
