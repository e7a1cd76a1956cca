"""Actor-system fixtures: every system a test starts is stopped, also when the test fails."""

from __future__ import annotations

import pytest

from delivery.actors.client import OrderClient
from delivery.actors.system import ActorRuntime, session_pids
from delivery.domain.commands import Address
from delivery.domain.geo import Location
from tests.conftest import make_settings

HOME = Address(37.4979, 127.0276, "Gangnam-daero 396")
STORE_AT = Location(37.5004, 127.0300)
RIDER_NEAR = Location(37.4990, 127.0290)


class World:
    """A running actor system with a customer, a store and riders registered."""

    def __init__(self, runtime: ActorRuntime) -> None:
        self.runtime = runtime
        self.client = OrderClient(runtime)
        self.customer, _ = self.client.register_customer("Kim Minji", "010-1111-2222", HOME.location)
        self.store, _, self.menu = self.client.register_store(
            "Gangnam Chicken", "010-3333-4444", STORE_AT, [("Fried chicken", 18000), ("Cola", 2000)])
        self.riders = [self.client.register_rider(f"Rider {i}", f"010-5555-000{i}", RIDER_NEAR)[0]
                       for i in range(4)]

    def place(self, **kw) -> str:
        return self.client.place(kw.get("customer", self.customer), self.store,
                                 [("m1", 1), ("m2", 2)], HOME)["id"]

    def cooked(self) -> str:
        oid = self.place()
        c, s = self.client, self.store
        c.pay(oid, self.customer)
        c.accept(oid, s)
        c.start_cooking(oid, s)
        c.finish_cooking(oid, s)
        return oid


def start_runtime(tmp_path, base="simpleSystemBase", data_dir=None, **overrides) -> ActorRuntime:
    settings = make_settings(data_dir or tmp_path / "data", base, **overrides)
    return ActorRuntime(settings).start()


@pytest.fixture
def runtime(tmp_path):
    rt = start_runtime(tmp_path)
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture
def world(runtime):
    return World(runtime)


@pytest.fixture
def multiproc_runtime(tmp_path):
    rt = start_runtime(tmp_path, "multiprocTCPBase")
    sid = rt.admin_sid
    try:
        yield rt
    finally:
        rt.stop()
        assert session_pids(sid) == [], "actor processes outlived the system"


@pytest.fixture
def here(tmp_path, storage):
    """A Directory on the test's database counting the statements it runs (`_lookups`)."""
    from delivery.persistence.db import Database, database_path
    from delivery.persistence.directory import Directory

    from .test_principals import _counting

    db = Database(storage or database_path(tmp_path / "data"))
    try:
        yield _counting(Directory(db))
    finally:
        db.close()
