"""Child processes that never outlive the command that started them."""

from __future__ import annotations

import contextlib
import ctypes
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child receive ``sig`` when its parent dies, even by
    SIGKILL (Linux; elsewhere the child may outlive a killed parent).

    Args:
        sig: SIGTERM for a child that stops cleanly, SIGKILL for one that needs no cleanup.
    """

    def arm() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return arm
