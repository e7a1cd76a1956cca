"""A synchronous client of the actor layer: the commands of a whole order, for demo, benchmark
and tests (the HTTP front door sends the same messages asynchronously)."""

from __future__ import annotations

from typing import Any

from .. import clock
from ..domain import commands as c
from ..domain.commands import MoveRider, PickUp, RegisterRider, RegisterStore
from ..domain.geo import Location
from ..domain.menu import MenuItem
from ..domain.refusal import Refusal
from ..ids import new_id
from ..persistence.db import Database
from ..persistence.directory import Directory, new_token
from .messages import Reply
from .system import ActorRuntime


class Rejected(Exception):
    """The actor layer refused a command; carries the refusal."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"{refusal.code}: {refusal.detail}")
        self.refusal = refusal


class OrderClient:
    """Registers parties and drives orders through the actors, waiting for each reply."""

    def __init__(self, runtime: ActorRuntime) -> None:
        self.runtime = runtime
        self.directory = Directory(Database.shared(runtime.db_path))

    def _call(self, target: str, body: Any) -> Any:
        reply: Reply = self.runtime.call(target, body)
        if reply.refusal is not None:
            raise Rejected(reply.refusal)
        return reply.result

    # -- registrations -----------------------------------------------------------------------
    def register_customer(self, name: str, phone: str, loc: Location) -> tuple[str, str]:
        cid, token = new_id("cus"), new_token()
        self.directory.add_customer(cid, name, phone, loc, token, clock.now())
        return cid, token

    def register_store(self, name: str, phone: str, loc: Location,
                       menu: list[tuple[str, int]]) -> tuple[str, str, tuple[MenuItem, ...]]:
        sid, token = new_id("sto"), new_token()
        items = tuple(MenuItem(f"m{i + 1}", n, p) for i, (n, p) in enumerate(menu))
        self._call("stores", RegisterStore(sid, name, phone, loc, items, token))
        return sid, token, items

    def register_rider(self, name: str, phone: str, loc: Location | None) -> tuple[str, str]:
        rid, token = new_id("rid"), new_token()
        self._call("riders", RegisterRider(rid, name, phone, loc, token))
        return rid, token

    # -- an order's life ------------------------------------------------------------------------
    def place(self, customer_id: str, store_id: str, items: list[tuple[str, int]],
              address: c.Address, order_id: str | None = None) -> dict:
        return self._call("orders", c.PlaceOrder(order_id or new_id("ord"), customer_id, store_id,
                                                 tuple(items), address))

    def pay(self, order_id: str, customer_id: str, card_token: str = "tok_visa") -> dict:
        return self._call("orders", c.PayOrder(order_id, customer_id, "card", card_token))

    def accept(self, order_id: str, store_id: str) -> dict:
        return self._call("orders", c.AcceptOrder(order_id, store_id))

    def reject(self, order_id: str, store_id: str, reason: str = "sold out") -> dict:
        return self._call("orders", c.RejectOrder(order_id, store_id, reason))

    def start_cooking(self, order_id: str, store_id: str) -> dict:
        return self._call("orders", c.StartCooking(order_id, store_id))

    def finish_cooking(self, order_id: str, store_id: str) -> dict:
        return self._call("orders", c.FinishCooking(order_id, store_id))

    def cancel(self, order_id: str, customer_id: str, reason: str = "changed my mind") -> dict:
        return self._call("orders", c.CancelOrder(order_id, customer_id, reason))

    def move_rider(self, rider_id: str, loc: Location) -> dict:
        return self._call("riders", MoveRider(rider_id, loc))

    def pick(self, order_id: str, rider_id: str) -> dict:
        return self._call("riders", PickUp(rider_id, order_id))

    def confirm(self, order_id: str, customer_id: str) -> dict:
        return self._call("orders", c.ConfirmDelivery(order_id, customer_id))
