"""The read model's query of available deliveries is the domain's rider-visibility rule in SQL:
for orders in every status, near and far, both pick the same ones."""

import random

import pytest

from delivery.domain import commands as c
from delivery.domain import order
from delivery.domain.geo import Location
from delivery.domain.menu import MenuItem
from delivery.domain.refusal import Refusal
from delivery.persistence.db import Database, database_path
from delivery.persistence.journal import Journal
from delivery.persistence.readmodel import ReadModel

T = "2026-11-23T10:00:00.000000Z"
MENU = {"m1": MenuItem("m1", "Fried chicken", 18000)}
RIDER = Location(37.4979, 127.0276)
RADIUS_KM = 3.0


def _walk(order_id: str, address: c.Address, steps: int, picked: bool) -> list:
    """The events of an order walked `steps` commands along the happy path."""
    place = c.PlaceOrder(order_id, "c1", "s1", (("m1", 1),), address)
    events = list(order.place(place, MENU, T))
    state = order.replay(events)
    path = [c.RecordPayment(order_id, "pay", "card", state.total), c.AcceptOrder(order_id, "s1"),
            c.StartCooking(order_id, "s1"), c.FinishCooking(order_id, "s1")]
    if picked:
        path.append(c.PickUpOrder(order_id, "r9", address.location, RADIUS_KM))
    for cmd in path[:steps]:
        decision = order.decide(state, cmd, T)
        assert not isinstance(decision, Refusal), decision
        for event in decision:
            state = order.evolve(state, event)
        events.extend(decision)
    return events


@pytest.fixture
def model(tmp_path):
    db = Database(database_path(tmp_path))
    yield db
    db.close()


def test_available_deliveries_are_exactly_the_orders_visible_to_the_rider(model):
    rng = random.Random(7)
    journal, reads = Journal(model), ReadModel(model)
    states = {}
    for i in range(300):
        # Addresses from next door to ~6 km away, so the radius cuts through them.
        address = c.Address(RIDER.lat + rng.uniform(-0.05, 0.05),
                            RIDER.lon + rng.uniform(-0.06, 0.06), f"door {i}")
        steps = rng.choice([0, 1, 2, 3, 4, 4, 4, 5])
        events = _walk(f"o{i}", address, min(steps, 5), picked=steps == 5)
        journal.append(events, "c1", "s1")
        states[f"o{i}"] = order.replay(events)
    reads.catch_up(journal)

    found = {row[1] for row in reads.available_deliveries(RIDER, RADIUS_KM)}  # (distance, id, ...)
    expected = {oid for oid, s in states.items() if order.visible_to_rider(s, RIDER, RADIUS_KM)}

    assert found == expected
    assert 10 < len(expected) < 150  # the sample really has orders on both sides of the rule
