"""The audit's checks: plain functions over the journal's history and the stored rows, each
returning the violations it found (an empty list: the property holds)."""

from __future__ import annotations

import json
from collections import defaultdict

from ..domain import events as e
from ..domain import order
from ..domain.notices import notices_for
from ..persistence import checkpoints as consumer
from ..persistence.inboxes import ENTRY_KINDS, InboxRow
from ..persistence.ledger import LedgerRow
from ..persistence.notices import NoticeRow
from ..persistence.readmodel import ReadModel
from .history import History, OrderHistory, Violation

CONSUMERS = (consumer.PROJECTOR, consumer.NOTIFIER)


def _by_order(rows, history: History, at) -> dict[str, list]:
    grouped: dict[str, list] = defaultdict(list)
    for row in rows:
        if history.concerns(row.order_id, at(row)):
            grouped[row.order_id].append(row)
    return grouped


def charges(history: History, ledger: list[LedgerRow]) -> list[Violation]:
    """Every charge at the provider belongs to exactly one paid order; no paid order lacks one."""
    found = []
    booked = _by_order((r for r in ledger if r.kind == "charge"), history, lambda r: r.at)
    for oid, rows in booked.items():
        h = history.orders.get(oid)
        paid = _payments(h) if h else []
        for row in rows:
            if h is None:
                found.append(Violation("charges", oid, f"charge {row.reference} for an order "
                                                       "the journal does not know"))
            elif not paid:
                found.append(Violation("charges", oid, f"charged ({row.reference}) but never paid"
                                                       f" (status {h.final.status})"))
    for oid, h in history.settled.items():
        found += _paid_matches_charge(oid, _payments(h), booked.get(oid, []))
    by_reference = defaultdict(set)
    for row in ledger:
        by_reference[(row.kind, row.reference)].add(row.order_id)
    found += [Violation("charges", "", f"{kind} {ref} is booked for {len(oids)} orders: "
                                       f"{', '.join(sorted(oids))}")
              for (kind, ref), oids in by_reference.items() if len(oids) > 1]
    return found


def _payments(h: OrderHistory) -> list:
    """The journal's records of money taken for the order: paid, or paid after its cancel."""
    return h.of(e.OrderPaid) + h.of(e.PaymentAfterCancel)


def _paid_matches_charge(oid: str, paid, rows: list[LedgerRow]) -> list[Violation]:
    if not paid:
        return []
    if len(paid) > 1:
        return [Violation("charges", oid, f"paid {len(paid)} times in the journal")]
    event = paid[0].event
    if not rows:
        return [Violation("charges", oid, f"paid ({event.payment_id}) but the provider holds "
                                          "no charge")]
    row = rows[0]
    if (row.reference, row.amount) != (event.payment_id, event.amount):
        return [Violation("charges", oid, f"paid {event.amount} won as {event.payment_id} but "
                                          f"the provider charged {row.amount} as {row.reference}")]
    return []


def refunds(history: History, ledger: list[LedgerRow]) -> list[Violation]:
    """Every refund matches a cancelled or rejected paid order, once, and the journal agrees."""
    found = []
    booked = _by_order((r for r in ledger if r.kind == "refund"), history, lambda r: r.at)
    for oid in sorted(set(booked) | {o for o, h in history.settled.items()
                                     if h.of(e.RefundCompleted)}):
        found += _refund_matches(oid, history.orders.get(oid), booked.get(oid, []))
    return found


def _refund_matches(oid: str, h: OrderHistory | None, rows: list[LedgerRow]) -> list[Violation]:
    if h is None:
        return [Violation("refunds", oid, "refund for an order the journal does not know")]
    state, recorded = h.final, h.of(e.RefundCompleted)
    if state.status not in (order.CANCELLED, order.REJECTED) or not _payments(h):
        return [Violation("refunds", oid, f"refunded but the order is {state.status}, "
                                          f"payment {state.payment_status}")]
    if len(recorded) > 1:
        return [Violation("refunds", oid, f"refunded {len(recorded)} times in the journal")]
    if not rows:
        return [Violation("refunds", oid, "the journal records a refund the provider never made")]
    if not recorded:
        return [Violation("refunds", oid, f"refunded at the provider ({rows[0].reference}) but "
                                          "the journal does not record it")]
    event, row, charged = recorded[0].event, rows[0], _payments(h)[0].event.amount
    if (row.reference, row.amount) != (event.refund_id, charged) or event.amount != charged:
        return [Violation("refunds", oid, f"refund {event.refund_id} of {event.amount} won does "
                                          f"not match the provider's {row.reference} of "
                                          f"{row.amount} won for a charge of {charged}")]
    return []


def inbox(history: History, rows: list[InboxRow]) -> list[Violation]:
    """Every paid order reached its store's inbox exactly once, and in journal order."""
    found = []
    received = _by_order(rows, history, lambda r: r.received_at)
    for oid in sorted(set(received) | set(history.settled)):
        found += _inbox_of(oid, history.orders.get(oid), received.get(oid, []))
    return found + _inbox_order(rows, history)


def _expected_inbox(h: OrderHistory) -> dict[str, int]:
    """kind -> journal seq of what the order's store must receive."""
    if not h.of(e.OrderPaid):
        return {}  # an unpaid order is none of the store's business
    return {ENTRY_KINDS[type(r.event)]: r.seq for r in h.records if type(r.event) in ENTRY_KINDS}


def _inbox_of(oid: str, h: OrderHistory | None, rows: list[InboxRow]) -> list[Violation]:
    if h is None:
        return [Violation("inbox", oid, "in an inbox but the journal does not know the order")]
    found, expected = [], _expected_inbox(h)
    for kind, seq in expected.items():
        got = [r for r in rows if r.kind == kind]
        if not got:
            found.append(Violation("inbox", oid, f"{kind} (seq {seq}) never reached store "
                                                 f"{h.store_id}"))
        elif len(got) > 1:
            stores = ", ".join(r.store_id for r in got)
            found.append(Violation("inbox", oid, f"{kind} reached an inbox {len(got)} times "
                                                 f"(stores {stores})"))
        elif (got[0].store_id, got[0].seq) != (h.store_id, seq):
            found.append(Violation("inbox", oid, f"{kind} reached store {got[0].store_id} as seq "
                                                 f"{got[0].seq}; the journal says store "
                                                 f"{h.store_id}, seq {seq}"))
    found += [Violation("inbox", oid, f"store {r.store_id} received {r.kind}, which the journal "
                                      "does not call for") for r in rows if r.kind not in expected]
    return found


def _inbox_order(rows: list[InboxRow], history: History) -> list[Violation]:
    found, last = [], {}
    for row in rows:
        if row.order_id not in history.settled:
            continue
        before = last.get(row.store_id)
        if before is not None and row.seq <= before:
            found.append(Violation("inbox", row.order_id, f"store {row.store_id} received seq "
                                                          f"{row.seq} after seq {before}"))
        last[row.store_id] = max(row.seq, before or 0)
    return found


def notices(history: History, rows: list[NoticeRow]) -> list[Violation]:
    """One notice per event and recipient (each status change tells the customer), none twice."""
    found = []
    stored = _by_order(rows, history, lambda r: r.at)
    for oid in sorted(set(stored) | set(history.settled)):
        h = history.orders.get(oid)
        if h is None:
            found.append(Violation("notices", oid, "notice about an order the journal does not know"))
            continue
        found += _notices_of(oid, h, stored.get(oid, []))
    return found


def _notices_of(oid: str, h: OrderHistory, rows: list[NoticeRow]) -> list[Violation]:
    expected = {n.id: n for rec, state in h.states() for n in notices_for(rec.event, state)}
    found, seen = [], defaultdict(list)
    for row in rows:
        seen[(row.recipient_kind, row.kind)].append(row.id)
        want = expected.get(row.id)
        if want is None or (want.recipient_id, want.kind) != (row.recipient_id, row.kind):
            found.append(Violation("notices", oid, f"notice {row.id} ({row.kind} to "
                                                   f"{row.recipient_kind} {row.recipient_id}) "
                                                   "matches no event"))
    found += [Violation("notices", oid, f"{kind} told to the {who} {len(ids)} times")
              for (who, kind), ids in seen.items() if len(ids) > 1]
    have = {row.id for row in rows}
    found += [Violation("notices", oid, f"no {n.kind} notice to the {n.recipient_kind} "
                                        f"(expected {n.id})")
              for nid, n in expected.items() if nid not in have]
    return found


def acknowledged(history: History, seen: dict[str, set[str]]) -> list[Violation]:
    """Every order a client was told of is in the journal, with every status it was told."""
    found = []
    for oid, statuses in sorted(seen.items()):
        h = history.orders.get(oid)
        if h is None:
            found.append(Violation("acknowledged", oid, "acknowledged to a client but not in "
                                                        "the journal"))
            continue
        reached = {status for status, _ in h.final.history}
        found += [Violation("acknowledged", oid, f"a client was told {status!r}, the journal "
                                                 f"never had it") for status in sorted(statuses - reached)]
    return found


def stuck(history: History, checkpoints: dict[str, int]) -> list[Violation]:
    """No order waits for a refund, and no consumer lags, once everything had time to settle."""
    found = [Violation("stuck", oid, f"refund pending since {h.last_at}")
             for oid, h in sorted(history.settled.items())
             if h.final.payment_status == order.REFUND_PENDING]
    head = max((h.records[-1].seq for h in history.settled.values()), default=0)
    for name in CONSUMERS:
        behind = checkpoints.get(name, 0)
        if behind < head:
            found.append(Violation("stuck", "", f"the {name} stopped at seq {behind}, "
                                                f"the journal is settled up to {head}"))
    return found


def read_model(history: History,
               views: dict[str, tuple[str, str, str | None, int, str]]) -> list[Violation]:
    """The read model equals a fresh projection of the journal, order by order (each order's
    history replayed in memory, written as the projector writes it)."""
    found = []
    for oid, h in sorted(history.settled.items()):
        want, got = ReadModel.summary(h.final), views.get(oid)
        if got is None:
            found.append(Violation("read_model", oid, "missing from the read model"))
        elif got[:4] != want[:4] or json.loads(got[4]) != json.loads(want[4]):
            found.append(Violation("read_model", oid, _difference(json.loads(want[4]),
                                                                  json.loads(got[4]), want, got)))
    found += [Violation("read_model", oid, "in the read model but not in the journal")
              for oid in sorted(set(views) - set(history.orders))]
    return found


def _difference(want: dict, got: dict, want_row: tuple, got_row: tuple) -> str:
    for key in sorted(set(want) | set(got)):
        if want.get(key) != got.get(key):
            return f"view's {key} is {got.get(key)!r}, a fresh projection gives {want.get(key)!r}"
    return f"columns {got_row[:4]} differ from a fresh projection's {want_row[:4]}"
