"""Child processes the service starts (`serve --workers N`, `actors.own_process`)."""

from __future__ import annotations

import contextlib
import ctypes
import signal


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> None:
    """In a child (before exec, or first thing after): send it `sig` when the parent dies, even by
    SIGKILL (Linux). The kernel sends it when the *thread* that started the child ends, so start
    children from a thread that lives as long as the process (the main thread)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig))  # PR_SET_PDEATHSIG


def ended(code: int) -> str:
    """How a child ended, from its return code, for the log."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:  # a real-time signal has no name
        return f"was killed by signal {-code}"
