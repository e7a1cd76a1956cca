"""`run.py bench --rider-lists`: a rider's list timed against the orders waiting across a city,
on both adapters; it lists exactly the waiting orders within the radius."""

from __future__ import annotations

import random

import pytest

from delivery.domain.geo import haversine_km
from delivery.tools import bench


def _within(n: int, seed: int) -> int:
    """How many of the `n` waiting orders `rider_lists` spreads with `seed` lie within the
    rider's radius, worked out here independently."""
    rng = random.Random(seed)
    lat0, lon0, dlat, dlon = bench.CITY
    places = [(lat0 + rng.uniform(-dlat, dlat), lon0 + rng.uniform(-dlon, dlon)) for _ in range(n)]
    return sum(haversine_km(lat0, lon0, lat, lon) <= bench.RIDER_RADIUS_KM for lat, lon in places)


def test_each_count_lists_the_waiting_orders_within_the_radius(storage):
    results = bench.rider_lists(storage, [400], seed=7)
    assert [r["waiting"] for r in results] == [400]
    assert results[0]["listed"] == _within(400, 7) > 0
    assert results[0]["us_per_list"] > 0


def test_it_writes_only_to_a_database_of_its_own(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--rider-lists", "10", "--storage-url", "postgresql://somebody/prod"])
    assert "--storage-url auto or none" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--rider-lists", "ten"])
    assert "whole numbers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--rider-lists", "3,-2"])
    assert "whole numbers" in capsys.readouterr().err
