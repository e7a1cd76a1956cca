"""Every route of the front door in one table; the app and the OpenAPI document both read it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aiohttp import web

from . import auth, openapi
from .keys import OPENAPI
from .views import (
    audit,
    cluster,
    docs,
    onboarding,
    ops,
    orders,
    provider_hooks,
    registration,
    riders,
    store_owner,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ORDER_ERRORS = ["unauthorized", "not_found", "invalid_transition"]
BODY_ERRORS = ["malformed_body", "missing_field", "invalid_field", "unsupported_media_type",
               "body_too_large", "body_incomplete", "request_timeout"]
REGISTRATION_KEY_ERRORS = ["idempotency_key_reused", "already_registered"]


@dataclass(frozen=True)
class Route:
    """One endpoint: how it is reached, who may call it, what it takes and answers."""

    method: str
    path: str
    handler: Handler
    summary: str
    auth: str = "none"                     # none, customer, store (its own), rider, any, admin,
                                           # loopback: checked by the router (auth.guard); a
                                           # store or rider must also be approved to act
    status: int = 200
    request: str | None = None             # schema name of the body
    response: str | None = None            # schema name of the answer
    errors: list[str] = field(default_factory=list)
    tag: str = "orders"
    idempotent: bool = False               # accepts Idempotency-Key
    query: tuple[dict[str, Any], ...] = ()  # OpenAPI query parameters


ROUTES = [
    Route("POST", "/customers", registration.register_customer, "Register a customer", status=201,
          request="CustomerIn", response="Registered", errors=BODY_ERRORS + REGISTRATION_KEY_ERRORS,
          tag="registration", idempotent=True),
    Route("POST", "/stores", registration.register_store, "Register a store with its menu",
          status=201, request="StoreIn", response="StoreRegistered",
          errors=BODY_ERRORS + REGISTRATION_KEY_ERRORS, tag="registration", idempotent=True),
    Route("POST", "/riders", registration.register_rider, "Register a rider", status=201,
          request="RiderIn", response="RiderRegistered", errors=BODY_ERRORS + REGISTRATION_KEY_ERRORS,
          tag="registration", idempotent=True),
    Route("GET", "/stores", registration.list_stores,
          "Stores near a point, nearest first (lat, lon, radius_km default 5), else by id; "
          "one page of summaries (no menus)",
          response="StoreList", errors=["invalid_query", "limit_too_large"], tag="catalogue",
          query=openapi.STORE_LIST_QUERY),
    Route("GET", "/stores/{store_id}/menu", registration.store_menu, "A store's menu",
          response="Menu", errors=["not_found"], tag="catalogue"),
    Route("POST", "/orders", orders.place_order, "Place an order", "customer", 201, "OrderIn",
          "Order", BODY_ERRORS + ["unauthorized", "not_found", "unknown_menu_item",
                                  "idempotency_key_reused", "too_many_unpaid_orders"],
          idempotent=True),
    Route("POST", "/orders/{order_id}/payment", orders.pay_order, "Pay an order by card",
          "customer", 200, "PaymentIn", "Order",
          BODY_ERRORS + ORDER_ERRORS + ["payment_declined", "payment_unavailable", "already_paid",
                                        "payment_in_progress", "service_unavailable"]),
    Route("POST", "/orders/{order_id}/cancel", orders.cancel_order,
          "Cancel an order before cooking starts (a paid one is refunded)", "customer", 200,
          "ReasonIn", "Order", BODY_ERRORS + ORDER_ERRORS + ["order_not_cancellable"]),
    Route("POST", "/orders/{order_id}/confirm-delivery", orders.confirm_delivery,
          "Confirm the food arrived", "customer", 200, None, "Order", ORDER_ERRORS),
    Route("GET", "/orders/{order_id}", orders.get_order,
          "An order (its customer, its store or its rider; 404 for anyone else)", "any",
          response="Order", errors=["unauthorized", "not_found"]),
    Route("GET", "/orders/{order_id}/events", orders.order_events,
          "Server-Sent Events: the current view, then one `status` event per change (its `id` "
          "the order's version); the stream ends once the order is final", "any",
          response="Order", errors=["unauthorized", "not_found", "too_many_streams"]),
    Route("GET", "/customers/me/orders", orders.my_orders, "My page: my orders, newest first",
          "customer", response="OrderList", errors=["unauthorized"]),
    Route("GET", "/customers/me/notifications", orders.my_notifications, "My notifications",
          "customer", response="NotificationList", errors=["unauthorized"]),
    Route("GET", "/stores/{store_id}/orders", store_owner.store_orders,
          "The store's orders: paid ones waiting for an answer first, then accepted, cooking, cooked, "
          "picked up, finished ones last (each oldest first); never-paid orders only with "
          "?status=placed or ?status=cancelled", "store", response="OrderList",
          errors=["unauthorized", "forbidden", "invalid_query"], tag="store"),
    Route("POST", "/stores/{store_id}/orders/{order_id}/accept", store_owner.accept,
          "Accept a paid order", "store", response="Order", errors=ORDER_ERRORS + ["forbidden"],
          tag="store"),
    Route("POST", "/stores/{store_id}/orders/{order_id}/reject", store_owner.reject,
          "Reject a paid order (it is refunded)", "store", request="ReasonIn", response="Order",
          errors=BODY_ERRORS + ORDER_ERRORS + ["forbidden"], tag="store"),
    Route("POST", "/stores/{store_id}/orders/{order_id}/start-cooking", store_owner.start_cooking,
          "Start cooking an accepted order", "store", response="Order",
          errors=ORDER_ERRORS + ["forbidden"], tag="store"),
    Route("POST", "/stores/{store_id}/orders/{order_id}/finish-cooking",
          store_owner.finish_cooking, "Finish cooking; riders nearby now see it", "store",
          response="Order", errors=ORDER_ERRORS + ["forbidden"], tag="store"),
    Route("GET", "/stores/{store_id}/notifications", store_owner.store_notifications,
          "The store owner's notifications", "store", response="NotificationList",
          errors=["unauthorized", "forbidden"], tag="store"),
    Route("GET", "/stores/{store_id}/inbox", store_owner.store_inbox,
          "What store management received (paid orders, cancellations, refunds), in order; "
          "while the store is down nothing arrives, and all of it arrives once when it is up",
          "store", response="Inbox", errors=["unauthorized", "forbidden", "invalid_query",
                                             "limit_too_large"], tag="store",
          query=openapi.INBOX_QUERY),
    Route("PUT", "/riders/me/location", riders.move,
          "Report where the rider is; a move faster than dispatch.max_speed_kmh is refused",
          "rider", request="Location", response="RiderLocation",
          errors=BODY_ERRORS + ["unauthorized", "implausible_location"], tag="rider"),
    Route("GET", "/riders/me/deliveries/available", riders.available,
          "Cooked, unpicked orders within dispatch.radius_km of the rider, each with its store "
          "and the approximate area of its address (exact once picked: GET /orders/{id})",
          "rider", response="DeliveryList", errors=["unauthorized", "conflict"], tag="rider"),
    Route("POST", "/deliveries/{order_id}/pick", riders.pick, "Pick an order up; the first wins",
          "rider", response="Order",
          errors=ORDER_ERRORS + ["already_picked", "out_of_range"], tag="rider"),
    Route("POST", "/webhooks/toss", provider_hooks.toss_webhook,
          "Toss Payments webhook (PAYMENT_STATUS_CHANGED, cancel events): the payment it names is "
          "looked up at Toss and the order reconciled (a payment cancelled at Toss becomes a "
          "refund, once); 404 unless payment.provider is toss", request="TossEventIn",
          response="WebhookResult",
          errors=BODY_ERRORS + ["not_found", "service_unavailable"], tag="webhooks"),
    Route("POST", "/webhooks/alimtalk", provider_hooks.alimtalk_webhook,
          "NHN Cloud AlimTalk result webhook (MESSAGE_RESULT_UPDATE), checked by its "
          "X-Toast-Webhook-Signature (403 when wrong): delivery results of the AlimTalk channel's messages; "
          "404 unless the alimtalk channel is on", request="AlimtalkHooksIn",
          response="WebhookRecorded",
          errors=BODY_ERRORS + ["not_found", "forbidden"], tag="webhooks"),
    Route("GET", "/health", ops.health, "Liveness", response="Status", tag="operations"),
    Route("GET", "/ready", ops.ready, "Readiness: actor system up, journal readable and writable",
          response="Status", errors=["service_unavailable", "storage_unavailable"],
          tag="operations"),
    Route("GET", "/metrics", ops.metrics, "Prometheus metrics (loopback clients only)", "loopback",
          errors=["forbidden"], tag="operations"),
    Route("GET", "/openapi.json", ops.openapi, "This document", tag="operations"),
    Route("GET", "/docs", docs.page,
          "The API explorer of this document (Swagger UI, HTML): read it and try requests",
          tag="operations"),
    Route("GET", "/docs/explorer.js", docs.explorer_js, "The explorer's start script",
          tag="operations"),
    Route("GET", "/docs/assets/{name}", docs.asset,
          "Swagger UI's files, from the installed openapi-ui-bundles package", errors=["not_found"],
          tag="operations"),
    Route("GET", "/admin/api/actors", ops.admin_actors, "The actor tree", "admin",
          response="ActorTree", errors=["unauthorized", "service_unavailable"], tag="admin"),
    Route("GET", "/admin/api/payment", ops.admin_payment,
          "Payment circuit (state, failures, retry-after, transitions) and gateway restarts",
          "admin", response="PaymentStatus", errors=["unauthorized", "service_unavailable"],
          tag="admin"),
    Route("POST", "/admin/api/faults", ops.admin_faults,
          "Inject or clear a fault: payment crash/slow/fail, all clear", "admin",
          request="FaultIn", response="Faults",
          errors=BODY_ERRORS + ["unauthorized", "not_found", "service_unavailable"], tag="admin"),
    Route("GET", "/admin/api/orders/{order_id}/events", ops.admin_order_events,
          "An order's journal, event by event, and its current view", "admin",
          response="OrderJournal", errors=["unauthorized", "not_found"], tag="admin"),
    *[Route("POST", f"/admin/api/{kind}/{{{kind[:-1]}_id}}/{action}",
            onboarding.set_status(kind, action),
            f"{action.capitalize()} a {kind[:-1]}: it answers with its new status", "admin",
            response="Onboarded", errors=["unauthorized", "not_found"], tag="admin")
      for kind in ("stores", "riders") for action in ("approve", "suspend")],
    Route("GET", "/admin/api/onboarding", onboarding.waiting,
          "Stores and riders waiting for approval or suspended", "admin", response="Onboarding",
          errors=["unauthorized"], tag="admin"),
    Route("POST", "/admin/api/orders/{order_id}/unassign", onboarding.unassign,
          "Take a picked order from its rider: cooked again, riders nearby see it, the customer "
          "is told", "admin", request="ReasonIn", response="Order",
          errors=BODY_ERRORS + ["unauthorized", "not_found", "invalid_transition"], tag="admin"),
    Route("GET", "/admin/api/history", ops.admin_history,
          "The last ten minutes, one sample a second: orders placed and completed, requests and "
          "their p99, actor messages, admission refusals, the payment circuit's state", "admin",
          errors=["unauthorized"], tag="admin"),
    Route("GET", "/admin/assets/plotly.min.js", ops.plotly_js,
          "plotly.js from the installed plotly package (the console's charts)", tag="operations"),
    Route("GET", "/favicon.svg", ops.favicon, "The service's icon", tag="operations"),
    Route("GET", "/admin", ops.admin_page,
          "The admin console (HTML; it asks for the admin token)", tag="admin"),
    Route("GET", "/admin/api/stats", ops.admin_stats, "Orders, actors, journal, notifications, admission control",
          "admin", response="Stats", errors=["unauthorized", "service_unavailable"], tag="admin"),
    Route("GET", "/admin/api/cluster", cluster.admin_cluster,
          "The cluster: its nodes (alive, last seen), which leases each holds, how far behind "
          "each lease's consumer is (one node holding every lease on SQLite)", "admin",
          response="Cluster", errors=["unauthorized"], tag="admin"),
    Route("GET", "/admin/api/audit", audit.admin_audit,
          "Reconcile journal, provider ledger, store inboxes, notices and read model "
          "(orders quiet for grace_s seconds, default two sweep intervals)", "admin",
          response="Audit", errors=["unauthorized", "invalid_query"], tag="admin"),
]


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document of this table."""
    return openapi.build(ROUTES)


def public_routes() -> frozenset[tuple[str, str]]:
    """(method, path) of the answers that hold nothing personal and may be cached: the
    catalogue and the operations pages anyone may read (not the admin page)."""
    return frozenset((r.method, r.path) for r in ROUTES
                     if r.auth == "none" and r.method == "GET" and r.tag != "admin")


def add_routes(app: web.Application) -> None:
    """Every route, behind the check of its `auth` (applied here, not in the views).

    Reads are registered before the rest: aiohttp tries the routes under one path prefix
    ("/orders" for "/orders/ord_1") in the order they were added, a regular expression each,
    and a read costs a few dozen microseconds where a command costs milliseconds. No path
    matches two routes, so the order changes which is tried first, never which answers."""
    for route in sorted(ROUTES, key=lambda r: r.method != "GET"):  # stable: table order within
        app.router.add_route(route.method, route.path, auth.guard(route.auth, route.handler))
    app[OPENAPI] = document()
