"""Who holds a bearer token is remembered (persistence/directory.py `holder`), yet a revoked
token and a suspension count at the very next lookup, also when another node, on its own
connection, revoked or suspended: on both storage adapters."""

from __future__ import annotations

import pytest

from delivery.domain.geo import Location
from delivery.domain.menu import MenuItem
from delivery.persistence.db import Database, database_path
from delivery.persistence.directory import Directory, Holder, Store

T = "2026-11-26T12:00:00.000000Z"
HERE = Location(37.5, 127.0)


@pytest.fixture
def nodes(tmp_path, storage):
    """Two directories on two connections to one database, as two nodes (or workers) have."""
    url = storage or database_path(tmp_path / "data")
    dbs = [Database(url), Database(url)]
    try:
        yield [Directory(db) for db in dbs]
    finally:
        for db in dbs:
            db.close()


def _register(d: Directory) -> dict[str, str]:
    d.add_customer("cus_1", "Kim", "010", HERE, "tok-customer", T)
    d.add_store(Store("sto_1", "Chicken", "010", HERE, (MenuItem("m1", "Rice", 1000),)),
                "tok-store", T, status="approved")
    d.add_rider("rid_1", "Lee", "010", HERE, "tok-rider", T, status="approved")
    return {"customers": "tok-customer", "stores": "tok-store", "riders": "tok-rider"}


def _lookups(d: Directory) -> int:
    """Statements this directory's connection ran so far (wrapped in by `_counting`)."""
    return d.db.lookups


def _counting(d: Directory) -> Directory:
    execute, d.db.lookups = d.db.execute, 0

    def counted(sql, params=()):
        d.db.lookups += 1
        return execute(sql, params)

    d.db.execute = counted
    return d


def test_a_known_token_is_one_lookup_by_id_and_names_its_holder_and_status(nodes):
    here = _counting(nodes[0])
    tokens = _register(here)
    assert here.holder("tok-rider") == Holder("riders", "rid_1", "approved", HERE)
    before = _lookups(here)
    assert here.holder("tok-rider") == Holder("riders", "rid_1", "approved", HERE)
    assert here.holder("tok-customer") == Holder("customers", "cus_1", None)
    assert here.holder("tok-customer") == Holder("customers", "cus_1", None)
    assert _lookups(here) - before == 3  # the rider's again, the customer's twice
    assert here.identify("stores", tokens["stores"]) == "sto_1"
    assert here.identify("customers", tokens["stores"]) is None  # another role's token
    assert here.identify_any("no-such-token") is None


@pytest.mark.parametrize("kind", ["customers", "stores", "riders"])
def test_a_token_revoked_on_another_node_is_refused_at_the_next_lookup(nodes, kind):
    here, there = nodes
    tokens = _register(there)
    for _ in range(3):  # warm: remembered by this node
        assert here.identify(kind, tokens[kind]) is not None
    assert there.revoke_token(kind, here.identify(kind, tokens[kind]))
    assert here.identify(kind, tokens[kind]) is None
    assert here.holder(tokens[kind]) is None
    assert not there.revoke_token(kind, "nobody")


@pytest.mark.parametrize("kind", ["stores", "riders"])
def test_a_suspension_on_another_node_shows_at_the_next_lookup(nodes, kind):
    here, there = nodes
    tokens = _register(there)
    id = here.identify(kind, tokens[kind])
    assert here.holder(tokens[kind]).status == "approved"
    there.set_status(kind, id, "suspended")
    assert here.holder(tokens[kind])[:3] == (kind, id, "suspended")
    there.set_status(kind, id, "approved")
    assert here.holder(tokens[kind]).status == "approved"


def test_the_remembered_holders_are_bounded(nodes, monkeypatch):
    from delivery.persistence import directory

    monkeypatch.setattr(directory, "HOLDERS_KEPT", 2)
    here = nodes[0]
    for i in range(5):
        here.add_customer(f"cus_{i}", "Kim", "010", HERE, f"tok-{i}", T)
        assert here.identify("customers", f"tok-{i}") == f"cus_{i}"
    assert len(here._holders) == 2
    assert [here.identify("customers", f"tok-{i}") for i in range(5)] == [
        f"cus_{i}" for i in range(5)]  # forgotten ones are found again


def test_a_rider_s_location_comes_with_its_token_as_last_reported_also_by_another_node(nodes):
    """The list of deliveries nearby takes the location from the token's lookup (no second
    one): it must be the last reported, wherever it was reported."""
    here, there = nodes
    _register(there)
    assert here.holder("tok-rider").location == HERE  # found, then remembered
    there.move_rider("rid_1", Location(37.6, 127.1), T)
    assert here.holder("tok-rider").location == Location(37.6, 127.1)
    there.add_rider("rid_2", "Park", "010", None, "tok-rider-2", T, status="approved")
    assert here.holder("tok-rider-2") == Holder("riders", "rid_2", "approved", None)
    assert here.holder("tok-store").location is None  # a store's place is not asked here
