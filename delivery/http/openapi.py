"""The OpenAPI 3.1 document, built from the route table so that the two cannot drift apart."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..domain import menu, onboarding, order
from ..domain.catalogue import DEFAULT_RADIUS_KM
from ..persistence import inboxes
from .admission import criticality
from .idempotency import KEY_PATTERN, MAX_KEY
from .paging import DEFAULT_LIMIT, INBOX_PAGE, MAX_LIMIT
from .problems import CODES
from .ratelimit import EXEMPT as RATE_EXEMPT
from .wire import UNSAFE_CHARS

STR, INT, NUM = {"type": "string"}, {"type": "integer"}, {"type": "number"}
NULLABLE_STR = {"type": ["string", "null"]}


def _text(max_len: int, required: bool = True) -> dict[str, Any]:
    """A text field as `wire.Body.str` checks it: at most max_len characters as sent, no
    control or bidi character, and (when required) something besides white space."""
    if not required:
        return {**STR, "maxLength": max_len, "pattern": f"^[^{UNSAFE_CHARS}]*$"}
    return {**STR, "minLength": 1, "maxLength": max_len,
            "pattern": f"^[^{UNSAFE_CHARS}]*[^\\s{UNSAFE_CHARS}][^{UNSAFE_CHARS}]*$"}


NAME, PHONE, ID, ADDRESS_TEXT, REASON = _text(200), _text(32), _text(64), _text(300), _text(500, False)


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(key: str, item: str) -> dict[str, Any]:
    return _obj([key], **{key: {"type": "array", "items": _ref(item)}})


def _fault(target: str, kind: str, **needs: Any) -> dict[str, Any]:
    """One combination of a fault that exists, with the fields it needs."""
    return _obj(["target", "kind", *needs], target={"const": target}, kind={"const": kind}, **needs)


LOCATION = _obj(["lat", "lon"], lat={**NUM, "minimum": -90, "maximum": 90},
                lon={**NUM, "minimum": -180, "maximum": 180})

SCHEMAS: dict[str, Any] = {
    "Location": LOCATION,
    "CustomerIn": _obj(["name", "phone", "location"], name=NAME, phone=PHONE,
                       location=_ref("Location")),
    "RiderIn": _obj(["name", "phone", "location"], name=NAME, phone=PHONE, location=_ref("Location")),
    "StoreIn": _obj(["name", "owner_phone", "location", "menu"], name=NAME, owner_phone=PHONE,
                    location=_ref("Location"),
                    menu={"type": "array", "minItems": 1, "maxItems": menu.MAX_MENU_ITEMS,
                          "items": _obj(["name", "price"], name=NAME,
                                        price={**INT, "minimum": 0, "maximum": menu.MAX_PRICE})}),
    "Registered": _obj(["id", "token"], id=STR, token=STR),
    "MenuItem": _obj(["id", "name", "price"], id=STR, name=STR, price=INT),
    "StoreRegistered": _obj(["id", "token", "status", "menu"], id=STR, token=STR,
                            status=_ref("OnboardingStatus"),
                            menu={"type": "array", "items": _ref("MenuItem")}),
    "RiderRegistered": _obj(["id", "token", "status"], id=STR, token=STR,
                            status=_ref("OnboardingStatus")),
    "OnboardingStatus": {"enum": list(onboarding.STATUSES),
                         "description": "pending until the admin approves (unless "
                                        "onboarding.auto_approve); pending and suspended ones get "
                                        "403 not_approved on everything but reading themselves"},
    "Onboarded": _obj(["id", "name", "status", "location", "created_at"], id=STR, name=STR,
                      status=_ref("OnboardingStatus"),
                      location={"oneOf": [_ref("Location"), {"type": "null"}]},
                      created_at={**STR, "format": "date-time"}),
    "Onboarding": _obj(["stores", "riders"],
                       stores={"type": "array", "items": _ref("Onboarded")},
                       riders={"type": "array", "items": _ref("Onboarded")}),
    "Menu": _obj(["store_id", "items"], store_id=STR,
                 items={"type": "array", "items": _ref("MenuItem")}),
    "StoreList": _obj(["stores", "next_cursor"], stores={"type": "array", "items": _obj(
        ["id", "name", "location", "distance_km"], id=STR, name=STR, location=_ref("Location"),
        distance_km={"type": ["number", "null"]})}, next_cursor={
            "type": ["string", "null"],
            "description": "Pass as `cursor` for the next page; null on the last page."}),
    "OrderIn": _obj(["store_id", "items", "delivery_address"], store_id=ID,
                    items={"type": "array", "minItems": 1, "maxItems": menu.MAX_LINES,
                           "items": _obj(["menu_item_id", "quantity"], menu_item_id=ID,
                                         quantity={**INT, "minimum": menu.MIN_QUANTITY,
                                                   "maximum": menu.MAX_QUANTITY})},
                    delivery_address={**LOCATION, "required": ["lat", "lon", "text"],
                                      "properties": {**LOCATION["properties"],
                                                     "text": ADDRESS_TEXT}}),
    "PaymentIn": _obj(["method", "card_token"], method={"enum": list(order.PAYMENT_METHODS)},
                      card_token=NAME),
    "ReasonIn": _obj([], reason=REASON),
    "Order": _obj(
        ["id", "customer_id", "store_id", "status", "items", "total", "payment", "rider_id",
         "delivery_address", "history", "created_at", "updated_at", "version"],
        id=STR, customer_id=STR, store_id=STR, status={"enum": list(order.STATUSES)},
        items={"type": "array", "items": _obj(["menu_item_id", "name", "price", "quantity"],
                                               menu_item_id=STR, name=STR, price=INT,
                                               quantity=INT)},
        total=INT,
        payment=_obj(["status", "method"],
                     status={"enum": list(order.PAYMENT_STATUSES)},
                     method=NULLABLE_STR),
        rider_id=NULLABLE_STR, reason=NULLABLE_STR,
        delivery_address=_obj(["lat", "lon", "text"], lat=NUM, lon=NUM, text=STR),
        history={"type": "array", "items": _obj(["status", "at"], status=STR,
                                                 at={**STR, "format": "date-time"})},
        created_at={**STR, "format": "date-time"}, updated_at={**STR, "format": "date-time"},
        version=INT),
    "OrderList": _list("orders", "Order"),
    "Notification": _obj(["id", "order_id", "kind", "text", "at", "channel", "delivered"],
                         id=STR, order_id=STR, kind=STR, text=STR, at=STR, channel=STR,
                         delivered={"type": "boolean"},
                         delivery={"enum": ["pending", "accepted", "delivered", "failed"]},
                         delivery_detail=NULLABLE_STR),
    "NotificationList": _list("notifications", "Notification"),
    "TossEventIn": _obj([], eventType={**STR, "maxLength": 64}, createdAt=STR,
                        data=_obj([], paymentKey={**STR, "maxLength": 200},
                                  orderId={**STR, "maxLength": 64}, status=STR),
                        orderId={**STR, "maxLength": 64}),
    "WebhookResult": _obj(["result", "detail"], result={"enum": ["recorded", "unchanged", "ignored"]},
                          detail=STR, order_id=NULLABLE_STR, payment_status=NULLABLE_STR),
    "AlimtalkHooksIn": _obj(["hooks"], event=STR, hooks={"type": "array", "minItems": 1,
                                                         "maxItems": 1000, "items": _obj(
        ["requestId", "recipientSeq", "resultCode"], requestId={**STR, "maxLength": 100},
        recipientSeq={**INT, "minimum": 0}, resultCode={**STR, "maxLength": 16})}),
    "WebhookRecorded": _obj(["result", "updated"], result=STR, updated=INT),
    "RiderLocation": _obj(["id", "location"], id=STR, location=_ref("Location")),
    "DeliveryList": _obj(["deliveries"], deliveries={"type": "array", "items": _obj(
        ["order_id", "store", "delivery_address", "distance_km"], order_id=STR,
        store=_obj(["id", "name", "location"], id=STR, name=STR, location=_ref("Location")),
        delivery_address={**_obj(["lat", "lon", "text", "approximate"], lat=NUM, lon=NUM,
                                 text=STR, approximate={"const": True}),
                          "description": "the centre of a ~300 m cell around the address and "
                                         "its district; the exact address is in the order once "
                                         "picked (GET /orders/{id})"},
        distance_km={**NUM, "description": "to the approximate area, 0.1 km steps"})}),
    "Status": _obj(["status"], status=STR),
    "Inbox": _obj(["received", "next_cursor"], received={"type": "array", "items": _obj(
        ["order_id", "kind", "seq", "received_at"], order_id=STR,
        kind={"enum": list(inboxes.ENTRY_KINDS.values())}, seq=INT, received_at=STR)},
        next_cursor={"type": ["string", "null"],
                     "description": "Pass as `cursor` for the next page; null on the last page."}),
    "ActorTree": _obj(["actors"], actors={"type": "array", "items": _obj(
        ["address", "kind", "key", "parent", "pid", "started_at", "restarts", "messages_in",
         "state"], address=STR, kind=STR, key=STR, parent=STR, pid=INT, started_at=STR,
        restarts=INT, messages_in=INT, state=STR, rss_kib=INT)}),
    "Stats": _obj(["orders_by_status", "live_order_actors", "journal", "notifications"],
                  orders_by_status={"type": "object", "additionalProperties": INT},
                  live_order_actors=INT, actor_messages=INT,
                  events_by_kind={"type": "object", "additionalProperties": INT},
                  journal=_obj(["events", "bytes"], events=INT, bytes=INT),
                  notifications=_obj(["sent", "pending", "failed"], sent=INT, pending=INT,
                                     failed=INT),
                  outbox=_obj(["projector_pending", "notifier_pending", "store_inbox_pending",
                               "refunds_pending", "webhook_pending", "webhook_failed"],
                              projector_pending=INT, notifier_pending=INT,
                              store_inbox_pending=INT, refunds_pending=INT,
                              webhook_pending=INT, webhook_failed=INT),
                  admission=_ref("Admission")),
    "Cluster": _obj(
        ["storage", "node", "store_partitions", "node_timeout_s", "nodes", "leases"],
        storage={"enum": ["sqlite", "postgresql"]}, node={**STR, "description": "this node"},
        store_partitions=INT, node_timeout_s=NUM,
        nodes={"type": "array", "items": _obj(
            ["name", "pid", "started_at", "last_seen", "seen_s_ago", "alive", "session",
             "this_node", "leases"], name=STR, pid=INT, started_at=STR, last_seen=STR,
            seen_s_ago=NUM, alive={"type": "boolean", "description": "session open and seen "
                                   "within node_timeout_s (a paused node: session, not seen)"},
            session={"type": "boolean"}, this_node={"type": "boolean"},
            leases={"type": "array", "items": STR})},
        leases={"type": "array", "items": _obj(
            ["name", "holder", "lag", "lag_of"], name=STR, holder=NULLABLE_STR,
            lag={"type": ["integer", "null"]}, lag_of=STR)}),
    "Admission": _obj(
        ["enabled", "limit", "in_flight", "queue_delay_ms", "queue_target_ms", "classes"],
        enabled={"type": "boolean"}, limit=INT, in_flight=INT, queue_delay_ms=NUM,
        queue_target_ms=NUM,
        classes={"type": "object", "additionalProperties": _obj(
            ["threshold", "admitted", "refused"], threshold=INT, admitted=INT, refused=INT)}),
    "PaymentStatus": _obj(
        ["circuit", "gateway", "transitions"],
        circuit=_obj(["state", "failures", "opened_at", "retry_after_s"],
                     state={"enum": ["closed", "open", "half_open"]}, failures=INT,
                     opened_at=NULLABLE_STR, retry_after_s=NUM, reset_timeout_s=NUM),
        gateway=_obj(["restarts", "last_restart_at", "backoff_s"], state={"enum": ["up", "restarting"]},
                     restarts=INT, last_restart_at=NULLABLE_STR, backoff_s=NUM, in_flight=INT),
        transitions={"type": "array", "items": _obj(["at", "from", "to", "reason"], at=STR,
                                                     **{"from": STR, "to": STR}, reason=STR)},
        faults={"type": "array", "items": {"type": "object"}}),
    "FaultIn": {"oneOf": [
        _fault("payment", "crash"), _fault("payment", "clear"), _fault("all", "clear"),
        _fault("payment", "slow", delay_ms={**INT, "minimum": 0, "maximum": 60000}),
        _fault("payment", "fail", rate={**NUM, "minimum": 0, "maximum": 1}),
        *(_fault("store", kind, store_id=ID) for kind in ("down", "up", "crash"))]},
    "OrderJournal": _obj(["order_id", "events", "view"], order_id=STR, view=_ref("Order"),
                         events={"type": "array", "items": _obj(
                             ["seq", "version", "at", "kind", "event_id", "data"], seq=INT,
                             version=INT, at=STR, kind=STR, event_id=STR,
                             data={"type": "object"})}),
    "Audit": _obj(["ok", "violations", "violations_by_check", "counts", "skipped", "summary"],
                  ok={"type": "boolean"}, violations={"type": "array", "items": STR},
                  violations_by_check={"type": "object", "additionalProperties": INT},
                  counts={"type": "object", "additionalProperties": INT},
                  skipped={"type": "array", "items": STR}, grace_s=NUM, summary=STR),
    "Faults": _obj(["faults"], faults={"type": "array", "items": {"type": "object"}}),
    "Problem": _obj(["type", "title", "status", "detail", "code"], type=STR, title=STR,
                    status=INT, detail=STR, code={"enum": sorted(CODES)}, field=STR,
                    request_id=STR, retry_after_s=NUM),
}

INBOX_QUERY = (
    {"name": "limit", "in": "query",
     "schema": {**INT, "minimum": 1, "maximum": INBOX_PAGE, "default": INBOX_PAGE},
     "description": f"Entries per page; above {INBOX_PAGE} is 422 `limit_too_large`."},
    {"name": "cursor", "in": "query", "schema": STR,
     "description": "`next_cursor` of the previous page: the journal position of the last entry "
                    "given, so pages neither repeat nor skip one while orders arrive."},
)

STORE_LIST_QUERY = (
    {"name": "lat", "in": "query", "schema": {**NUM, "minimum": -90, "maximum": 90},
     "description": "With lon: only stores within radius_km, nearest first."},
    {"name": "lon", "in": "query", "schema": {**NUM, "minimum": -180, "maximum": 180}},
    {"name": "radius_km", "in": "query", "schema": {**NUM, "minimum": 0, "maximum": 100},
     "description": f"Default {DEFAULT_RADIUS_KM:g}."},
    {"name": "limit", "in": "query",
     "schema": {**INT, "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
     "description": f"Stores per page; above {MAX_LIMIT} is 422 `limit_too_large`."},
    {"name": "cursor", "in": "query", "schema": STR,
     "description": "`next_cursor` of the previous page. It holds the position of the last store "
                    "given: its id, or with lat/lon its (distance, id), so pages neither repeat nor "
                    "skip a store while others register; each page of a nearest-first list "
                    "considers only the stores in the circle's bounding box."},
)

SSE_EVENT = {"description": "One event of the stream: the order view on every change (comment "
                            "lines keep an idle stream open; they are no events)",
             "oneOf": [_obj(["event", "data"], event={"const": "status"},
                            data={**STR, "contentMediaType": "application/json",
                                  "contentSchema": _ref("Order")})]}

_SECURITY = {"customer": "customerToken", "store": "storeToken", "rider": "riderToken",
             "admin": "adminToken"}
TOKEN_AUTH = {*_SECURITY, "any"}


def _operation(route) -> dict[str, Any]:
    slug = re.sub(r"\W+", "_", route.path).strip("_")
    op: dict[str, Any] = {"summary": route.summary, "tags": [route.tag],
                          "operationId": f"{route.method.lower()}_{slug}"}
    params = [{"name": name, "in": "path", "required": True, "schema": STR}
              for name in re.findall(r"{(\w+)}", route.path)]
    params += list(route.query)
    if route.idempotent:
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "schema": {**STR, "minLength": 1, "maxLength": MAX_KEY,
                                  "pattern": KEY_PATTERN},
                       "description": "Same key and body replay the first answer; another body is 422."})
    if params:
        op["parameters"] = params
    if route.auth in _SECURITY:
        op["security"] = [{_SECURITY[route.auth]: []}]
    elif route.auth == "any":
        op["security"] = [{"customerToken": []}, {"storeToken": []}, {"riderToken": []}]
    if route.request:
        op["requestBody"] = {"required": route.request != "ReasonIn", "content": {
            "application/json": {"schema": _ref(route.request)},
            "application/msgpack": {"schema": _ref(route.request)}}}
    ok: dict[str, Any] = {"description": "OK"}
    if route.path == "/orders/{order_id}/events":
        ok["content"] = {"text/event-stream": {"schema": SSE_EVENT}}
    elif route.path == "/metrics":
        ok["content"] = {"text/plain": {"schema": STR}}
    elif route.path == "/admin":
        ok["content"] = {"text/html": {"schema": STR}}
    elif route.response:
        ok["content"] = {"application/json": {"schema": _ref(route.response)},
                         "application/msgpack": {"schema": _ref(route.response)}}
    responses: dict[str, Any] = {str(route.status): ok}
    by_status: dict[int, list[str]] = {}
    for code in _errors(route):
        by_status.setdefault(CODES[code][0], []).append(code)
    for status, codes in sorted(by_status.items()):
        responses[str(status)] = {
            "description": "; ".join(f"`{c}`: {CODES[c][1]}" for c in codes),
            "content": {"application/problem+json": {"schema": _ref("Problem")}}}
    op["responses"] = responses
    return op


def _errors(route) -> list[str]:
    """The route's codes; any token-taking route also answers 401 and, to another role, 403."""
    implied = ["unauthorized", "wrong_role"] if route.auth in TOKEN_AUTH else []
    if route.auth == "rider" or (route.auth == "store" and route.method != "GET"):
        implied.append("not_approved")  # auth.approved_rider, auth.approved_store
    if criticality(route.method, route.path):
        implied.append("overloaded")  # admission control may refuse it
        implied.append("storage_unavailable")  # the disk may refuse its write
    if not route.path.startswith(RATE_EXEMPT):
        implied.append("rate_limited")
    return list(dict.fromkeys(route.errors + implied + ["internal_error"]))


def build(routes: Sequence[Any]) -> dict[str, Any]:
    """The document of a route table (`routes.ROUTES`)."""
    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    bearer = {"type": "http", "scheme": "bearer"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Food delivery order platform", "version": "0.1.0",
                 "description": "REST contract of the front door. Errors are RFC 9457 problem "
                                "documents whose `code` is one of: "
                                + ", ".join(f"`{c}` ({s})" for c, (s, _) in sorted(CODES.items()))},
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {name: bearer for name in _SECURITY.values()}},
    }
