"""Rate limits per token and per address through the real app (issue 12, item 7)."""

from __future__ import annotations

import pytest

from delivery.config import ConfigError
from tests.conftest import make_settings

from .conftest import ADMIN, make_api

TIGHT = {"rate_limit.token_rate": 0.5, "rate_limit.token_burst": 2.0,
         "rate_limit.read_token_rate": 0.5, "rate_limit.read_token_burst": 3.0}


async def test_a_token_over_its_write_limit_gets_429_with_retry_after(aiohttp_client, tmp_path):
    api = await make_api(aiohttp_client, tmp_path, **TIGHT)
    (_, ct), (sid, _) = await api.customer(), await api.store()
    await api.place(ct, sid, status=201)
    await api.place(ct, sid, status=201)
    r, data = await api.place(ct, sid, status=429)
    assert data["code"] == "rate_limited" and r.headers["Retry-After"] == "2"
    assert 0 < data["retry_after_s"] <= 2
    # the limit is the token's: another customer still places orders
    _, other = await api.customer("Park")
    await api.place(other, sid, status=201)


async def test_reads_have_their_own_bucket(aiohttp_client, tmp_path):
    api = await make_api(aiohttp_client, tmp_path, **TIGHT)
    (_, ct), (sid, _) = await api.customer(), await api.store()
    await api.place(ct, sid, status=201)
    await api.place(ct, sid, status=201)
    await api.place(ct, sid, status=429)
    for _ in range(3):
        await api.json("GET", "/customers/me/orders", ct, status=200)
    _, data = await api.json("GET", "/customers/me/orders", ct, status=429)
    assert data["code"] == "rate_limited"


async def test_operations_and_the_admin_api_are_never_rate_limited(aiohttp_client, tmp_path):
    api = await make_api(aiohttp_client, tmp_path, **TIGHT, **{
        "rate_limit.exempt_loopback": False, "rate_limit.address_burst": 1.0,
        "rate_limit.address_rate": 0.01})
    for _ in range(5):
        await api.json("GET", "/health", status=200)
        await api.json("GET", "/ready", status=200)
        await api.json("GET", "/admin/api/stats", ADMIN, status=200)


async def test_an_address_over_its_limit_gets_429_unless_loopback_is_exempt(aiohttp_client, tmp_path):
    per_address = {"rate_limit.address_rate": 0.5, "rate_limit.address_burst": 3.0}
    api = await make_api(aiohttp_client, tmp_path, **per_address,
                            **{"rate_limit.exempt_loopback": False})
    for _ in range(3):
        await api.json("GET", "/stores", status=200)
    r, data = await api.json("GET", "/stores", status=429)
    assert data["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    exempt = await make_api(aiohttp_client, tmp_path / "b", **per_address)
    for _ in range(6):
        await exempt.json("GET", "/stores", status=200)


@pytest.mark.parametrize("key", ["token_rate", "address_burst"])
def test_a_rate_limit_that_is_not_positive_is_an_error_naming_the_key(tmp_path, key):
    with pytest.raises(ConfigError, match=f"rate_limit.{key}"):
        make_settings(tmp_path, **{f"rate_limit.{key}": 0})
