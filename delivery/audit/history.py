"""The journal as the audit reads it: every order's records, and which orders are settled."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from ..domain import events as e
from ..domain import order
from ..domain.order import OrderState
from ..persistence.journal import Journal, Record

BATCH = 5000


@dataclass(frozen=True)
class Violation:
    """One thing the audit found wrong."""

    check: str
    """Which check found it: charges, refunds, inbox, notices, stuck, read_model."""
    order_id: str
    """The order concerned ('' when it concerns no single order)."""
    detail: str
    """What is wrong, in one sentence."""

    def __str__(self) -> str:
        where = f"order {self.order_id}: " if self.order_id else ""
        return f"{self.check}: {where}{self.detail}"


@dataclass
class OrderHistory:
    """One order's records in version order."""

    records: list[Record] = field(default_factory=list)

    @property
    def last_at(self) -> str:
        return self.records[-1].event.at

    @property
    def store_id(self) -> str:
        return self.records[0].store_id

    def of(self, kind: type[e.Event]) -> list[Record]:
        return [r for r in self.records if isinstance(r.event, kind)]

    def states(self) -> Iterator[tuple[Record, OrderState]]:
        """Each record with the order's state right after it."""
        state = None
        for rec in self.records:
            state = order.evolve(state, rec.event)
            yield rec, state

    @cached_property
    def final(self) -> OrderState:
        """The order's state after its last event (replayed once)."""
        return order.replay(r.event for r in self.records)


class History:
    """Every order of the journal; an order is settled when its last event is not after `cutoff`
    (newer ones may still have work in flight, so the checks leave them out)."""

    def __init__(self, orders: dict[str, OrderHistory], cutoff: str) -> None:
        self.orders, self.cutoff = orders, cutoff

    @classmethod
    def read(cls, journal: Journal, cutoff: str) -> History:
        orders: dict[str, OrderHistory] = {}
        seq = 0
        while batch := journal.read_since(seq, BATCH):
            for rec in batch:
                orders.setdefault(rec.event.order_id, OrderHistory()).records.append(rec)
            seq = batch[-1].seq
        for h in orders.values():
            h.records.sort(key=lambda r: r.event.version)
        return cls(orders, cutoff)

    @cached_property
    def settled(self) -> dict[str, OrderHistory]:
        return {oid: h for oid, h in self.orders.items() if h.last_at <= self.cutoff}

    def in_flight(self) -> int:
        return len(self.orders) - len(self.settled)

    def concerns(self, order_id: str, at: str) -> bool:
        """Whether a row about `order_id` written at `at` is the audit's business."""
        h = self.orders.get(order_id)
        return h.last_at <= self.cutoff if h else at <= self.cutoff
