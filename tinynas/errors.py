"""Exception hierarchy. The command line turns every :class:`TinyNASError` into one line and
exit status 2."""

from __future__ import annotations


class TinyNASError(Exception):
    """Root of every error caused by user input or the user's environment."""


class BoardFileError(TinyNASError):
    """A board constraint file is missing, malformed or out of range."""


class SearchSpaceError(TinyNASError):
    """A search-space file is malformed, or a space does not fit a dataset or board."""


class DatasetError(TinyNASError):
    """A dataset cannot be found, read, or is not fit for training."""


class UnknownNameError(TinyNASError):
    """A name (board, space, dataset, sampler, ...) is not registered."""


class StudyError(TinyNASError):
    """A study or trial does not exist, or the storage cannot be reached."""


class ModelFileError(TinyNASError):
    """A model file is not a usable full-int8 TFLite flatbuffer."""


class UnsupportedOperatorError(TinyNASError):
    """An operator that a tool does not implement."""


class ExportError(TinyNASError):
    """Export cannot write what was asked."""


class DeviceError(TinyNASError):
    """A device or emulator does not answer, or answers garbage."""


class MissingDependencyError(TinyNASError):
    """A system package or optional library is not installed."""


def unknown_name(kind: str, name: str, available: list[str]) -> UnknownNameError:
    """Build the standard error for an unknown registered name.

    Args:
        kind: What was looked up, e.g. ``"board"``.
        name: The name the user gave.
        available: The names that exist.

    Returns:
        An error whose message lists the available names.
    """
    return UnknownNameError(f"unknown {kind} {name!r}; available: {', '.join(sorted(available))}")


class TrainingError(TinyNASError):
    """Training or conversion of a candidate failed (NaN loss, converter error, bad teacher)."""


class ServerError(TinyNASError):
    """A local server (the dashboard) cannot listen on the address asked for."""
