"""The terminal console approves and suspends stores and riders of a live `run.py serve`."""

from __future__ import annotations

import pytest

from .test_terminal_console import _post, console, served


@pytest.fixture
def manual_service(tmp_path):
    """A service whose stores and riders wait for the admin, as deployed."""
    with served(tmp_path / "data", DELIVERY_ONBOARDING_AUTO_APPROVE="false") as url:
        yield url


def test_the_console_lists_pending_ones_and_approves_and_suspends_them(manual_service):
    url = manual_service
    _, store = _post(f"{url}/stores", {"name": "Console Chicken", "owner_phone": "010",
                                       "location": {"lat": 37.5, "lon": 127.0},
                                       "menu": [{"name": "Rice", "price": 1000}]})
    _, rider = _post(f"{url}/riders", {"name": "Console Rider", "phone": "010",
                                       "location": {"lat": 37.5, "lon": 127.0}})
    code, out = console(url, "-c", "pending")
    assert code == 0 and store["id"] in out and rider["id"] in out and "pending" in out
    code, out = console(url, "-c", f"approve store {store['id']}", "-c", f"approve rider {rider['id']}")
    assert code == 0
    assert f"store {store['id']} (Console Chicken) is approved" in out
    assert f"rider {rider['id']} (Console Rider) is approved" in out
    status, _ = _post(f"{url}/deliveries/o_none/pick", {}, rider["token"])
    assert status == 404  # approved: the pick reaches the order, which does not exist
    code, out = console(url, "-c", f"suspend rider {rider['id']}")
    assert code == 0 and "is suspended" in out
    status, problem = _post(f"{url}/deliveries/o_none/pick", {}, rider["token"])
    assert (status, problem["code"]) == (403, "not_approved")
    code, out = console(url, "-c", "approve shop x")
    assert code == 1 and "usage: approve store|rider ID" in out
