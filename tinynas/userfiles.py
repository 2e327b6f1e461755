"""Reading a file the user named: a missing, unreadable or wrong kind of path is one clear line."""

from __future__ import annotations

from pathlib import Path

from tinynas.errors import TinyNASError


def read_user_file(path: str | Path, error_cls: type[TinyNASError], expected: str) -> bytes:
    """The bytes of ``path``.

    Args:
        path: The file.
        error_cls: The error raised when it cannot be read.
        expected: What the file should be, for the message (e.g. ``"a .toml file"``).

    Raises:
        error_cls: The file is missing, a directory, or unreadable (the message names the path).
    """
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise error_cls(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error_cls(f"{path}: is a directory, expected {expected}") from None
    except OSError as exc:
        raise error_cls(f"{path}: cannot read: {exc.strerror}") from None
