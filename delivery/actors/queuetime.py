"""How long requests wait in the pump thread's queue before it hands them to the actors."""

from __future__ import annotations

import threading


class QueueTime:
    """Totals of queueing delays, written by the pump thread and taken by the front door."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count, self._total_s = 0, 0.0

    def record(self, waited_s: float) -> None:
        with self._lock:
            self._count += 1
            self._total_s += waited_s

    def add(self, count: int, total_s: float) -> None:
        """Totals taken elsewhere (the actors' own process, actors/host.py)."""
        with self._lock:
            self._count += count
            self._total_s += total_s

    def take(self) -> tuple[int, float]:
        """Requests taken since the last call and their total wait in seconds; starts afresh."""
        with self._lock:
            taken, self._count, self._total_s = (self._count, self._total_s), 0, 0.0
        return taken
