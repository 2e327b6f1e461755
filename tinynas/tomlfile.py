"""Reading and validating TOML files: every error names the file, the key and the rule broken."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinynas.errors import TinyNASError
from tinynas.userfiles import read_user_file


class Section:
    """A TOML table with typed, range-checked getters.

    Every getter raises ``error_cls`` with a message of the form
    ``FILE: [section] key: rule (got VALUE)``.
    """

    def __init__(self, path: Path, name: str, data: dict[str, Any], error_cls: type[TinyNASError]):
        self.path = path
        self.name = name
        self.data = data
        self.error_cls = error_cls
        self._seen: set[str] = set()

    def fail(self, key: str, rule: str, value: Any = ...) -> TinyNASError:
        """Build an error about ``key`` stating ``rule`` (and echoing ``value`` if given)."""
        got = "" if value is ... else f" (got {value!r})"
        where = f"[{self.name}] {key}" if self.name else key
        return self.error_cls(f"{self.path}: {where}: {rule}{got}")

    def has(self, key: str) -> bool:
        """Whether ``key`` is present."""
        return key in self.data

    def _get(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "is required")
            return default
        return self.data[key]

    def string(self, key: str, default: Any = ..., choices: Sequence[str] | None = None) -> str:
        """A string, optionally one of ``choices``."""
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self.fail(key, "must be a string", value)
        if choices is not None and value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}", value)
        return value

    def integer(self, key: str, default: Any = ..., low: int | None = None,
                high: int | None = None) -> int:
        """An integer within ``[low, high]``."""
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "must be an integer", value)
        self._check_range(key, value, low, high)
        return value

    def number(self, key: str, default: Any = ..., low: float | None = None,
               high: float | None = None, high_open: bool = False) -> float:
        """A finite number within ``[low, high]`` (or ``[low, high)`` with ``high_open``)."""
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise self.fail(key, "must be a number", value)
        if value in (float("inf"), float("-inf")):
            raise self.fail(key, "must be finite", value)
        self._check_range(key, float(value), low, high, high_open)
        return float(value)

    def boolean(self, key: str, default: Any = ...) -> bool:
        """A boolean."""
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false", value)
        return value

    def int_list(self, key: str, default: Any = ..., low: int | None = None,
                 high: int | None = None) -> tuple[int, ...]:
        """A non-empty list of integers, each within ``[low, high]``."""
        value = self._get(key, default)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty list of integers", value)
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int):
                raise self.fail(key, "must be a non-empty list of integers", value)
            self._check_range(key, item, low, high)
        return tuple(value)

    def str_list(self, key: str, default: Any = ...,
                 choices: Sequence[str] | None = None) -> tuple[str, ...]:
        """A non-empty list of strings, each one of ``choices`` if given."""
        value = self._get(key, default)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a non-empty list of strings", value)
        if choices is not None:
            for item in value:
                if item not in choices:
                    raise self.fail(key, f"each entry must be one of {', '.join(choices)}", item)
        return tuple(value)

    def num_range(self, key: str, default: Any = ..., low: float | None = None,
                  high: float | None = None, high_open: bool = False) -> tuple[float, float]:
        """A ``[min, max]`` pair of numbers with ``min <= max``, both within ``[low, high]``."""
        value = self._get(key, default)
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
            raise self.fail(key, "must be a [min, max] pair of numbers", value)
        lo, hi = float(value[0]), float(value[1])
        if lo > hi:
            raise self.fail(key, "min must not exceed max", value)
        for v in (lo, hi):
            self._check_range(key, v, low, high, high_open)
        return lo, hi

    def section(self, key: str, required: bool = True) -> Section:
        """A nested table."""
        value = self._get(key, ... if required else {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table", value)
        name = f"{self.name}.{key}" if self.name else key
        return Section(self.path, name, value, self.error_cls)

    def check_unknown(self) -> None:
        """Refuse keys that no getter asked for (catches typos)."""
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            known = ", ".join(sorted(self._seen)) or "none"
            where = f"[{self.name}]" if self.name else "top level"
            raise self.error_cls(
                f"{self.path}: {where}: unknown key {unknown[0]!r}; allowed keys: {known}")

    def _check_range(self, key: str, value: float, low: float | None, high: float | None,
                     high_open: bool = False) -> None:
        if low is not None and value < low:
            raise self.fail(key, f"must be >= {low}", value)
        if high is not None and (value >= high if high_open else value > high):
            raise self.fail(key, f"must be {'<' if high_open else '<='} {high}", value)


def load_toml(path: Path, error_cls: type[TinyNASError]) -> Section:
    """Parse a TOML file into a top-level :class:`Section`.

    Args:
        path: The file to read.
        error_cls: The error raised for a missing or malformed file.

    Returns:
        The top-level table.
    """
    raw = read_user_file(path, error_cls, "a .toml file")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise error_cls(f"{path}: not UTF-8 text, expected a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise error_cls(f"{path}: malformed TOML: {exc}") from None
    return Section(path, "", data, error_cls)


def shipped_names(folder: Path) -> list[str]:
    """Names (file stems) of the ``.toml`` files shipped in ``folder``."""
    return sorted(p.stem for p in folder.glob("*.toml"))


def resolve(name_or_path: str, folder: Path, kind: str) -> Path:
    """The file a ``--board``/``--space`` argument means: a path as given, or a shipped name.

    Args:
        name_or_path: A shipped name, or a path (anything with ``/`` or ending in ``.toml``).
        folder: Where the shipped files live.
        kind: What is looked up, for the error message (e.g. ``"board"``).

    Raises:
        UnknownNameError: Not a path, and no shipped file has that name.
    """
    from tinynas.errors import unknown_name

    if name_or_path.endswith(".toml") or "/" in name_or_path:
        return Path(name_or_path)
    path = folder / f"{name_or_path}.toml"
    if not path.is_file():
        raise unknown_name(kind, name_or_path, shipped_names(folder))
    return path
