"""How numbers read in reports: one spelling for bytes, shares, times and accuracies."""

from __future__ import annotations

from typing import Any


def kb(value: Any) -> str:
    """Bytes as ``12.3 KB`` (1 KB = 1024 B); ``-`` when unknown."""
    if value is None or value == "":
        return "-"
    return f"{float(value) / 1024:,.1f} KB"


def ms(value: Any) -> str:
    """Milliseconds, three significant figures."""
    if value is None or value == "":
        return "-"
    return f"{float(value):,.3g} ms" if float(value) < 1000 else f"{float(value):,.0f} ms"


def acc(value: Any) -> str:
    """An accuracy in [0, 1] as a percentage."""
    if value is None or value == "":
        return "-"
    return f"{float(value) * 100:.1f} %"


def share(value: float) -> str:
    """A share of a limit as a percentage."""
    return f"{value * 100:.0f} %"


def count(value: Any) -> str:
    """An integer with thousands separators."""
    if value is None or value == "":
        return "-"
    return f"{int(value):,}"


def headroom(used: float, limit: float, unit: str) -> str:
    """What is left under a limit, e.g. ``61.2 KB (31 %)``."""
    left = limit - used
    text = kb(left) if unit == "B" else ms(left)
    return f"{text} ({left / limit * 100:.0f} %)" if limit > 0 else "-"


def amount(value: float, unit: str) -> str:
    """A resource amount in its unit (``B`` shown as KB)."""
    return kb(value) if unit == "B" else ms(value)
