"""Nodes on one PostgreSQL database share the leases: each held by exactly one node, the surplus
given back when a node joins, a dead node's leases taken over within seconds, and a journal
commit on one node wakes the others."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import psycopg
import pytest

from delivery.actors.messages import Leases, Nudge
from delivery.cluster.leases import all_leases, lock_key
from delivery.cluster.node import ClusterNode
from delivery.cluster.session import LEASE_LOCKS, holders
from delivery.persistence.db import Database
from delivery.persistence.journal import EVENTS_CHANNEL
from tests.conftest import make_settings

pytestmark = pytest.mark.postgres_only

LEASES = all_leases(4)
BY_KEY = {lock_key(lease): lease for lease in LEASES}
TAKEOVER_S = 10.0  # the bar


class Node:
    """A ClusterNode whose messages to the actor system are recorded instead."""

    def __init__(self, tmp_path, storage: str, name: str) -> None:
        settings = make_settings(tmp_path / name, **{
            "cluster.node_name": name, "cluster.store_partitions": 4,
            "cluster.lease_check_interval_s": 0.1, "cluster.node_timeout_s": 2.0})
        self.told: list[tuple[str, object]] = []
        self.lock = threading.Lock()
        self.cluster = ClusterNode(settings, storage, self.tell)

    def tell(self, target: str, message: object) -> None:
        with self.lock:
            self.told.append((target, message))

    def held(self) -> frozenset[str]:
        """What the actors were last told this node holds."""
        with self.lock:
            told = [m.held for t, m in self.told if isinstance(m, Leases)]
        return frozenset(told[-1]) if told else frozenset()

    def nudges(self) -> int:
        with self.lock:
            return sum(1 for t, m in self.told if t == "projector" and isinstance(m, Nudge))


@pytest.fixture
def nodes(tmp_path, storage):
    started: list[Node] = []

    def start(name: str) -> Node:
        node = Node(tmp_path, storage, name)
        started.append(node)
        node.cluster.start()
        return node

    try:
        yield start
    finally:
        for node in started:
            node.cluster.stop()


def locks(url: str) -> Counter:
    """How many sessions hold each lease, by the database's lock table."""
    with psycopg.connect(url, autocommit=True) as conn:
        return Counter(BY_KEY[key] for key in holders(conn))


def eventually(condition, within: float = TAKEOVER_S) -> float:
    """Seconds until `condition()` held (polled); fails after `within`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < within, "condition not reached in time"
        time.sleep(0.05)
    return time.monotonic() - start


def test_one_node_holds_everything_and_a_second_one_takes_half(nodes, storage):
    a = nodes("a")
    eventually(lambda: a.held() == frozenset(LEASES))
    b = nodes("b")
    eventually(lambda: len(a.held()) == len(b.held()) == len(LEASES) // 2)
    assert a.held() | b.held() == frozenset(LEASES)
    assert locks(storage) == Counter({lease: 1 for lease in LEASES})
    with psycopg.connect(storage, autocommit=True) as conn:
        rows = dict(conn.execute("SELECT name, leases FROM cluster_nodes").fetchall())
    assert set(rows) == {"a", "b"} and len(rows["a"].split(",")) == len(LEASES) // 2


def test_a_killed_session_s_leases_are_taken_over_within_seconds(nodes, storage):
    a, b = nodes("a"), nodes("b")
    eventually(lambda: len(a.held()) == len(b.held()) == len(LEASES) // 2)
    with psycopg.connect(storage, autocommit=True) as conn:
        pid = conn.execute(f"SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND"
                           f" classid = {LEASE_LOCKS} AND objid = %s",
                           (lock_key(sorted(a.held())[0]),)).fetchone()[0]
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    took = eventually(lambda: b.held() == frozenset(LEASES))
    assert took < TAKEOVER_S
    eventually(lambda: a.held() == frozenset() or len(a.held()) + len(b.held()) == len(LEASES))
    # a's process is alive: it reconnects and gets its share back from b.
    eventually(lambda: len(a.held()) == len(b.held()) == len(LEASES) // 2)
    assert locks(storage) == Counter({lease: 1 for lease in LEASES})


def test_a_name_held_by_a_live_node_gets_the_pid_added(nodes):
    a, again = nodes("a"), nodes("a")
    eventually(lambda: len(a.held()) + len(again.held()) == len(LEASES))
    # Whichever thread came first has the name; the other has it with its pid.
    assert sorted(n.cluster.name for n in (a, again)) == ["a", f"a/{os.getpid()}"]


def test_a_journal_commit_elsewhere_wakes_the_projector(nodes, storage):
    a = nodes("a")
    eventually(lambda: a.held() == frozenset(LEASES))
    before = a.nudges()
    with psycopg.connect(storage, autocommit=True) as other:
        other.execute(f"NOTIFY {EVENTS_CHANNEL}, 'another-node'")
    eventually(lambda: a.nudges() > before, within=2.0)


def test_a_commit_of_this_process_is_no_news_to_it(nodes, storage):
    from delivery.persistence.db import PROCESS_TAG

    a = nodes("a")
    eventually(lambda: a.held() == frozenset(LEASES))
    before = a.nudges()
    db = Database(storage)
    try:
        with db.transaction() as conn:
            conn.execute(f"NOTIFY {EVENTS_CHANNEL}, '{PROCESS_TAG}'")
    finally:
        db.conn.close()
    time.sleep(0.3)  # nothing is to come: give it the time it would take
    assert a.nudges() == before
