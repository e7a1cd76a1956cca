"""This node in the cluster: a thread that keeps its leases and relays other nodes' wake-ups.

The thread never touches the actor system: it hands messages to the runtime's pump (the one
thread that owns the system), which tells them to the guardian (leases) and the projector
(new events elsewhere). Only on PostgreSQL; on SQLite the one node holds every lease.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from ..actors.messages import Leases, Nudge
from ..config import Settings
from ..persistence.db import PROCESS_TAG
from .leases import LeaseKeeper, all_leases
from .session import PgLeaseSession

log = logging.getLogger("delivery.cluster")

Tell = Callable[[str, Any], None]
"""Hands a message to a well-known actor of this node ("guardian", "projector") from any thread."""


def node_name(settings: Settings) -> str:
    """cluster.node_name, else the front door's host:port (its pid too when the port is chosen
    at start)."""
    if settings.cluster.node_name:
        return settings.cluster.node_name
    server = settings.server
    return f"{server.host}:{server.port}" + ("" if server.port else f"/{os.getpid()}")


class ClusterNode:
    """Holds this node's leases on a session of its own; reconnects when the session is lost."""

    def __init__(self, settings: Settings, url: str, tell: Tell,
                 session: Callable[[str, str], Any] = PgLeaseSession) -> None:
        c = settings.cluster
        self.url, self.tell, self.open_session = url, tell, session
        self.wanted = node_name(settings)
        self.name = self.wanted
        self.leases = all_leases(c.store_partitions)
        self.interval_s, self.timeout_s = c.lease_check_interval_s, c.node_timeout_s
        self.keeper: LeaseKeeper | None = None
        self.on_commit: list[Callable[[], None]] = []  # told, from this thread, of others' commits
        self.session: Any = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="cluster-node", daemon=True)

    @property
    def held(self) -> frozenset[str]:
        return self.keeper.held if self.keeper else frozenset()

    def start(self) -> ClusterNode:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """End the session (its leases are free at once for the other nodes)."""
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _run(self) -> None:
        due = 0.0
        while not self._stop.is_set():
            try:
                if self.session is None:
                    self._connect()
                    due = 0.0
                if time.monotonic() >= due:
                    if self.keeper.tick():
                        self.tell("guardian", Leases(tuple(sorted(self.keeper.held))))
                    due = time.monotonic() + self.interval_s
                payloads = self.session.wait(due - time.monotonic(), self._wake_r)
                if any(p != PROCESS_TAG for p in payloads):
                    self.tell("projector", Nudge(0))  # one, however many commits came together
                    for wake in self.on_commit:  # the front door's event streams
                        wake()
            except Exception as exc:  # the session is lost (server restart, network, killed)
                if self._stop.is_set():
                    break
                self._lost(exc)
        self._close()

    def _connect(self) -> None:
        self.session = self.open_session(self.url, self.wanted)
        self.name = self.session.name
        self.keeper = LeaseKeeper(self.name, self.session, self.leases, self.timeout_s)
        self.tell("projector", Nudge(0))  # whatever was committed while we were not listening

    def _lost(self, exc: Exception) -> None:
        log.warning("cluster session of node %s lost (%s); its leases are given up, reconnecting",
                    self.name, str(exc).strip() or type(exc).__name__)
        if self.keeper is not None and self.keeper.lost():
            self.tell("guardian", Leases(()))
        self._close()
        self._stop.wait(self.interval_s)

    def _close(self) -> None:
        if self.session is not None:
            with contextlib.suppress(Exception):
                self.session.close()
        self.session = None
