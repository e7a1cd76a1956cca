"""GET /stores: cursor pages of store summaries, nearest first around a point, no menus read."""

from __future__ import annotations

import pytest

from delivery import codec
from delivery.domain.geo import Location
from delivery.domain.menu import MenuItem
from delivery.domain.onboarding import APPROVED
from delivery.http.keys import DIRECTORY
from delivery.persistence.directory import Store

from .conftest import ADMIN, make_api

CENTER = Location(37.5, 127.03)


def seed(api, n: int, menu_items: int = 2, at: Location = CENTER, step: float = 0.001,
         prefix: str = "sto_t") -> list[str]:
    """Stores written straight to the directory: listing is under test, not registration."""
    menu = tuple(MenuItem(f"m{i}", f"Dish {i}", 1000 + i) for i in range(menu_items))
    ids = []
    for i in range(n):
        store_id = f"{prefix}{i:04d}"
        # Stores pair up on one spot: equal distances must still page exactly, by id.
        offset = (i // 2) * step
        api.http.app[DIRECTORY].add_store(
            Store(store_id, f"Store {i}", "010-0", Location(at.lat + offset, at.lon), menu),
            f"token-{store_id}", "2026-01-01T00:00:00Z", status=APPROVED)
        ids.append(store_id)
    return ids


async def walk(api, query: str) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        _, page = await api.json("GET", f"/stores?{query}{suffix}", status=200)
        pages.append(page["stores"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor does not advance"


async def test_the_cursor_walks_every_store_exactly_once_in_id_order(api):
    ids = seed(api, 23)
    pages = await walk(api, "limit=5")
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [s["id"] for p in pages for s in p] == sorted(ids)
    assert all(s["distance_km"] is None for p in pages for s in p)


async def test_nearest_first_pages_every_store_in_the_radius_once_even_at_equal_distances(api):
    ids = seed(api, 20, step=0.002)
    seed(api, 3, at=Location(35.1, 129.0), prefix="sto_far")  # Busan: outside the radius
    pages = await walk(api, f"lat={CENTER.lat}&lon={CENTER.lon}&radius_km=10&limit=3")
    listed = [s for p in pages for s in p]
    assert sorted(s["id"] for s in listed) == sorted(ids)
    keys = [(s["distance_km"], s["id"]) for s in listed]
    assert keys == sorted(keys)


async def test_a_store_registered_between_pages_does_not_shift_the_next_page(api):
    seed(api, 6)
    _, first = await api.json("GET", "/stores?limit=3", status=200)
    seed(api, 1, prefix="sto_a")  # sorts before every store already given
    _, second = await api.json("GET", f"/stores?limit=3&cursor={first['next_cursor']}", status=200)
    assert [s["id"] for s in second["stores"]] == ["sto_t0003", "sto_t0004", "sto_t0005"]


async def test_limit_defaults_to_fifty(api):
    seed(api, 51)
    _, page = await api.json("GET", "/stores", status=200)
    assert len(page["stores"]) == 50 and page["next_cursor"]


@pytest.mark.parametrize("query, status, code, field", [
    ("limit=201", 422, "limit_too_large", "limit"),
    ("limit=0", 400, "invalid_query", "limit"),
    ("limit=ten", 400, "invalid_query", "limit"),
    ("cursor=not-a-cursor", 400, "invalid_query", "cursor"),
    ("lat=37.5&lon=127&cursor=WyJpZCIsInN0b190MDAwMSJd", 400, "invalid_query", "cursor"),
])
async def test_a_bad_limit_or_cursor_is_a_problem_naming_it(api, query, status, code, field):
    _, problem = await api.json("GET", f"/stores?{query}", status=status)
    assert (problem["code"], problem["field"]) == (code, field)


async def test_listing_stores_never_decodes_a_menu(api, monkeypatch):
    seed(api, 300, menu_items=200)
    decoded_menus = []
    real_decode = codec.decode

    def spy(data):
        value = real_decode(data)
        if isinstance(value, tuple | list) and value and isinstance(value[0], MenuItem):
            decoded_menus.append(len(value))
        return value

    monkeypatch.setattr(codec, "decode", spy)
    _, plain = await api.json("GET", "/stores?limit=200", status=200)
    _, near = await api.json("GET", f"/stores?lat={CENTER.lat}&lon={CENTER.lon}&radius_km=50&limit=200",
                             status=200)
    assert len(plain["stores"]) == 200 and len(near["stores"]) == 200
    assert decoded_menus == []
    await api.json("GET", "/stores/sto_t0000/menu", status=200)  # the spy does see menus
    assert decoded_menus == [200]


async def test_a_suspended_store_leaves_and_a_new_one_joins_the_next_list(aiohttp_client, tmp_path):
    """The catalogue the front door keeps in memory (SQLite) follows every store's change at
    the next request: a suspension by the admin, a registration."""
    api = await make_api(aiohttp_client, tmp_path)
    (_, ct), (sid, _) = await api.customer(), await api.store("Chicken")
    near = "/stores?lat=37.5004&lon=127.03"
    for _ in range(4):  # warm
        _, page = await api.json("GET", near, ct, status=200)
        assert [s["id"] for s in page["stores"]] == [sid]
    await api.json("POST", f"/admin/api/stores/{sid}/suspend", ADMIN, status=200)
    _, page = await api.json("GET", near, ct, status=200)
    assert page["stores"] == []
    other, _ = await api.store("Pizza")
    _, page = await api.json("GET", near, ct, status=200)
    assert [s["id"] for s in page["stores"]] == [other]
