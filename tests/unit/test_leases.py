"""Lease balancing: each lease held by one node, fair shares, surplus given back, takeover."""

from __future__ import annotations

from collections import Counter

from delivery.cluster.leases import (
    LeaseKeeper,
    NodeRow,
    all_leases,
    fair_share,
    initial,
    lock_key,
    store_lease,
)

LEASES = all_leases(8)
TIMEOUT_S = 10.0


class FakeCluster:
    """Advisory locks and the table of nodes, on a clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0
        self.locks: dict[str, str] = {}
        self.rows: dict[str, dict] = {}

    def join(self, name: str) -> LeaseKeeper:
        self.rows[name] = {"seen": self.now, "held": frozenset(), "session": True}
        return LeaseKeeper(name, FakeSession(self, name), LEASES, TIMEOUT_S)

    def kill(self, name: str) -> None:
        """The node's session ends: the server frees its locks at once."""
        self.rows[name]["session"] = False
        self.locks = {lease: n for lease, n in self.locks.items() if n != name}

    def holders(self) -> Counter:
        return Counter(self.locks.values())


class FakeSession:
    def __init__(self, cluster: FakeCluster, name: str) -> None:
        self.cluster, self.name = cluster, name

    def nodes(self) -> list[NodeRow]:
        c = self.cluster
        return [NodeRow(n, "", r["seen"], c.now - r["seen"], tuple(r["held"]), r["session"])
                for n, r in c.rows.items()]

    def heartbeat(self, held: frozenset[str]) -> None:
        self.cluster.rows[self.name].update(seen=self.cluster.now, held=held)

    def try_lock(self, lease: str) -> bool:
        return self.cluster.locks.setdefault(lease, self.name) == self.name

    def unlock(self, lease: str) -> None:
        if self.cluster.locks.get(lease) == self.name:
            del self.cluster.locks[lease]


def run(cluster: FakeCluster, keepers: list[LeaseKeeper], seconds: int) -> None:
    for _ in range(seconds):
        cluster.now += 1.0
        for keeper in keepers:
            keeper.tick()


def test_a_node_alone_holds_every_lease_at_its_first_tick():
    cluster = FakeCluster()
    a = cluster.join("a:1")
    assert a.tick()
    assert a.held == frozenset(LEASES) and cluster.holders() == {"a:1": len(LEASES)}


def test_a_second_node_gets_half_and_the_first_gives_its_surplus_back():
    cluster = FakeCluster()
    a = cluster.join("a:1")
    run(cluster, [a], 1)
    b = cluster.join("b:2")
    run(cluster, [a, b], 2)
    assert len(a.held) == len(b.held) == len(LEASES) // 2
    assert a.held | b.held == frozenset(LEASES) and not a.held & b.held
    assert set(cluster.locks) == set(LEASES)


def test_three_nodes_never_hold_more_than_their_fair_share_and_hold_everything():
    cluster = FakeCluster()
    keepers = [cluster.join(f"n:{i}") for i in range(3)]
    run(cluster, keepers, 3)
    share = fair_share(len(LEASES), 3)
    assert all(len(k.held) <= share for k in keepers)
    assert sum(len(k.held) for k in keepers) == len(LEASES)


def test_a_dead_nodes_leases_are_taken_over_at_the_next_tick():
    cluster = FakeCluster()
    a, b = cluster.join("a:1"), cluster.join("b:2")
    run(cluster, [a, b], 3)
    cluster.kill("a:1")
    run(cluster, [b], 1)  # its session is gone: no need to wait for node_timeout_s
    assert b.held == frozenset(LEASES)


def test_a_paused_node_keeps_its_leases_and_the_other_takes_only_free_ones():
    cluster = FakeCluster()
    a, b = cluster.join("a:1"), cluster.join("b:2")
    run(cluster, [a, b], 3)
    a_held = a.held
    run(cluster, [b], int(TIMEOUT_S) + 5)  # a is stopped: no heartbeat, its session stays
    assert b.share == len(LEASES)  # a no longer counts for a share...
    assert not b.held & a_held and cluster.holders()["a:1"] == len(a_held)  # ...nor loses its locks
    run(cluster, [a, b], 2)  # a resumes: it still holds its share, nothing moved twice
    assert a.held == a_held and a.held | b.held == frozenset(LEASES)


def test_a_node_that_lost_its_session_holds_nothing():
    cluster = FakeCluster()
    a = cluster.join("a:1")
    run(cluster, [a], 1)
    assert a.lost() and a.held == frozenset() and not a.lost()


def test_store_partitions_are_stable_and_lock_keys_distinct():
    assert store_lease("store-42", 8) == store_lease("store-42", 8)
    assert {store_lease(f"s{i}", 8) for i in range(200)} == {f"stores/{p}" for p in range(8)}
    assert len({lock_key(lease) for lease in all_leases(1024)}) == 4 + 1024


def test_a_sqlite_node_holds_every_lease_and_a_postgresql_one_nothing_before_it_looks():
    assert initial(False, 8) == frozenset(LEASES)
    assert initial(True, 8) == frozenset()
