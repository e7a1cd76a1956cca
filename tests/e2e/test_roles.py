"""Every route that takes a token: another role's token is 403, no or an unknown token is 401."""

from __future__ import annotations

import re

import pytest

from delivery.http.routes import ROUTES, document

from .conftest import ADMIN

# Route.auth -> the roles whose tokens it takes
ACCEPTS = {"customer": {"customer"}, "store": {"store"}, "rider": {"rider"}, "admin": {"admin"},
           "any": {"customer", "store", "rider"}}
ROLES = ("customer", "store", "rider", "admin")
TOKENLESS = {"none", "loopback"}
MALFORMED = b'{"reason": '  # a body parsed before the token was checked would make this a 400


async def _callers(api) -> tuple[dict[str, str], dict[str, str]]:
    """A token of every role, and real ids for the path parameters (so 404 cannot stand in)."""
    cid, ctoken = await api.customer()
    sid, stoken = await api.store()
    rid, rtoken = await api.rider()
    _, order = await api.place(ctoken, sid, status=201)
    tokens = {"customer": ctoken, "store": stoken, "rider": rtoken, "admin": ADMIN}
    return tokens, {"store_id": sid, "order_id": order["id"], "rider_id": rid}


def _url(route, ids: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], route.path)


async def _send(api, route, ids, headers):
    body = MALFORMED if route.method in ("POST", "PUT") else None
    r = await api.http.request(route.method, _url(route, ids), data=body,
                               headers={**headers, "Content-Type": "application/json"})
    return r.status, await r.json(content_type=None)


def test_every_route_declares_who_may_call_it():
    assert {route.auth for route in ROUTES} <= set(ACCEPTS) | TOKENLESS


WRONG = [(route, role) for route in ROUTES if route.auth in ACCEPTS
         for role in ROLES if role not in ACCEPTS[route.auth]]


@pytest.mark.parametrize("route,role", WRONG,
                         ids=[f"{r.method} {r.path} as {role}" for r, role in WRONG])
async def test_a_valid_token_of_another_role_is_forbidden(api, route, role):
    tokens, ids = await _callers(api)
    status, data = await _send(api, route, ids, {"Authorization": f"Bearer {tokens[role]}"})
    assert (status, data["code"]) == (403, "wrong_role"), data
    assert role in data["detail"]
    # nothing a refused caller sent reached the order
    _, order = await api.json("GET", f"/orders/{ids['order_id']}", tokens["customer"], status=200)
    assert order["status"] == "placed" and order["version"] == 1


async def test_no_token_or_an_unknown_one_is_unauthorized_on_every_route(api):
    _, ids = await _callers(api)
    wrong = []
    for route in (r for r in ROUTES if r.auth in ACCEPTS):
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
            status, data = await _send(api, route, ids, headers)
            if status != 401 or data.get("code") != "unauthorized":
                wrong.append((route.method, route.path, headers, status, data))
    assert wrong == []


def test_the_openapi_document_lists_401_and_403_wrong_role_for_every_route_taking_a_token():
    paths = document()["paths"]
    for route in ROUTES:
        responses = paths[route.path][route.method.lower()]["responses"]
        if route.auth in ACCEPTS:
            assert "401" in responses, route.path
            assert "`wrong_role`" in responses["403"]["description"], route.path
        else:
            assert "401" not in responses, route.path
