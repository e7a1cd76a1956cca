"""What the customer and the store owner are told, event by event."""

from delivery.domain import commands as c
from delivery.domain import events as e
from delivery.domain import order
from delivery.domain.menu import MenuItem
from delivery.domain.notices import notices_for

T = "2026-11-23T10:00:00.000000Z"
MENU = {"m1": MenuItem("m1", "Tteokbokki", 8000)}


def run(*cmds):
    (placed,) = order.place(c.PlaceOrder("o1", "c1", "s1", (("m1", 2),),
                                         c.Address(37.5, 127.0, "here")), MENU, T)
    state, out = order.evolve(None, placed), [(placed, None)]
    for cmd in cmds:
        for ev in order.decide(state, cmd, T):
            state = order.evolve(state, ev)
            out.append((ev, None))
    return [(ev, state) for ev, _ in out]


def test_the_customer_gets_one_bilingual_message_per_event():
    history = run(c.RecordPayment("o1", "p", "card", 16000), c.AcceptOrder("o1", "s1"))
    for ev, state in history:
        customer = [n for n in notices_for(ev, state) if n.recipient_kind == "customer"]
        assert len(customer) == 1 and customer[0].recipient_id == "c1"
        ko, en = customer[0].text.split("\n")
        assert any("\uac00" <= ch <= "\ud7a3" for ch in ko) and en.isascii()
        assert customer[0].id == f"{ev.event_id}:customer"


def test_the_owner_hears_of_each_paid_order_and_each_refund_only():
    history = run(c.RecordPayment("o1", "p", "card", 16000), c.RejectOrder("o1", "s1", "closed"),
                  c.RecordRefund("o1", "r", 16000))
    owner = [(type(ev).__name__, n.kind) for ev, state in history
             for n in notices_for(ev, state) if n.recipient_kind == "store"]
    assert owner == [("OrderPaid", "new_order"), ("RefundCompleted", "refund_completed")]
    paid = [n for ev, s in history for n in notices_for(ev, s) if isinstance(ev, e.OrderPaid)
            and n.recipient_kind == "store"][0]
    assert "Tteokbokki x2" in paid.text and "16,000" in paid.text


def test_the_owner_is_told_when_a_paid_order_is_cancelled_but_not_an_unpaid_one():
    paid_then_cancelled = run(c.RecordPayment("o1", "p", "card", 16000),
                              c.CancelOrder("o1", "c1", "late"))
    kinds = [n.kind for ev, s in paid_then_cancelled for n in notices_for(ev, s)
             if n.recipient_kind == "store"]
    assert kinds == ["new_order", "order_cancelled"]
    unpaid = run(c.CancelOrder("o1", "c1", "oops"))
    assert [n for ev, s in unpaid for n in notices_for(ev, s) if n.recipient_kind == "store"] == []
