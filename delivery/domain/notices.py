"""What the customer and the store owner are told about an order event (KakaoTalk-style)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import events as e
from .order import OrderState
from .unpaid import NOT_PAID_IN_TIME

CUSTOMER, STORE = "customer", "store"


@dataclass(frozen=True)
class Notice:
    """A message to one person about one event."""

    id: str
    """Unique per event and recipient: "<event_id>:<recipient kind>"; receivers deduplicate by it."""
    recipient_kind: str
    """"customer" or "store" (the store's owner)."""
    recipient_id: str
    """Customer id or store id."""
    order_id: str
    """The order it is about."""
    kind: str
    """Template code: order_placed, order_paid, ..., new_order, refund_completed."""
    text: str
    """The sentence, Korean then English."""
    at: str
    """Time of the event."""
    variables: tuple[tuple[str, str], ...] = ()
    """The AlimTalk template's #{variables} and their values (orderId, amount, items, reason)."""


def render(template: str, variables: dict[str, str]) -> str:
    """A template's text with its #{name} variables filled in (AlimTalk's substitution)."""
    return re.sub(r"#\{(\w+)\}", lambda m: variables.get(m.group(1), m.group(0)), template)


_CUSTOMER_TEXT = {
    e.OrderPlaced: ("order_placed", "주문이 접수되었습니다. 결제를 진행해 주세요.",
                    "Your order has been placed. Please complete the payment."),
    e.OrderPaid: ("order_paid", "결제가 완료되었습니다. 가게에 주문이 전달되었습니다.",
                  "Payment received. The store has your order."),
    e.OrderAccepted: ("order_accepted", "가게에서 주문을 수락했습니다.",
                      "The store accepted your order."),
    e.OrderRejected: ("order_rejected", "가게 사정으로 주문이 거절되었습니다. 결제는 환불됩니다.",
                      "The store could not take your order. Your payment will be refunded."),
    e.CookingStarted: ("cooking_started", "조리를 시작했습니다.", "The store started cooking."),
    e.CookingFinished: ("cooking_finished", "조리가 끝났습니다. 배달 기사님을 찾고 있습니다.",
                        "Your food is ready; a rider is on the way to pick it up."),
    e.OrderPickedUp: ("order_picked_up", "배달 기사님이 음식을 픽업했습니다.",
                      "A rider picked up your food and is heading to you."),
    e.OrderUnassigned: ("rider_unassigned", "배달 기사님 배정이 취소되었습니다. 새 기사님을 찾고 있습니다.",
                        "Your rider was taken off this order; we are finding another rider."),
    e.DeliveryConfirmed: ("delivery_confirmed", "배달이 완료되었습니다. 맛있게 드세요!",
                          "Delivered. Enjoy your meal!"),
    e.OrderCancelled: ("order_cancelled", "주문이 취소되었습니다.", "Your order has been cancelled."),
    e.PaymentAfterCancel: ("payment_after_cancel", "취소된 주문의 결제가 확인되어 환불해 드립니다.",
                           "A payment arrived for your cancelled order; it is being refunded."),
    e.RefundCompleted: ("refund_completed", "#{amount}원이 환불되었습니다.",
                        "{amount} won has been refunded."),
}


_EXPIRED_TEXT = ("order_expired", "결제 시간이 지나 주문이 자동으로 취소되었습니다.",
                 "Your order was cancelled because it was not paid in time.")


def notices_for(event: e.Event, state: OrderState) -> list[Notice]:
    """Every notice an event causes; `state` is the order after the event. The Korean line is
    the AlimTalk template's text (config/alimtalk-templates.toml) with its variables filled in."""
    values = {"orderId": state.id, "amount": f"{getattr(event, 'amount', state.total):,}",
              "items": ", ".join(f"{line.name} x{line.quantity}" for line in state.lines),
              "reason": getattr(event, "reason", None) or state.reason or ""}
    kind, ko, en = _customer_text(event)
    notices = [_notice(event, CUSTOMER, state.customer_id, kind, ko, en, values)]
    owner = _owner_text(event, state)
    if owner:
        notices.append(_notice(event, STORE, state.store_id, *owner, values))
    return notices


def customer_templates() -> dict[str, str]:
    """The Korean template text of every customer notice kind."""
    texts = {kind: ko for kind, ko, _ in _CUSTOMER_TEXT.values()}
    texts[_EXPIRED_TEXT[0]] = _EXPIRED_TEXT[1]
    return texts


def owner_templates() -> dict[str, str]:
    """The Korean template text of every store owner notice kind."""
    return {kind: ko for kind, ko, _ in _OWNER_TEXT.values()}


def _customer_text(event: e.Event) -> tuple[str, str, str]:
    if isinstance(event, e.OrderCancelled) and event.reason == NOT_PAID_IN_TIME:
        return _EXPIRED_TEXT
    return _CUSTOMER_TEXT[type(event)]


_OWNER_TEXT = {
    e.OrderPaid: ("new_order", "새 주문이 들어왔습니다 (#{amount}원): #{items}",
                  "New paid order ({amount} won): {items}"),
    e.RefundCompleted: ("refund_completed", "주문 #{orderId}이(가) #{amount}원 환불되었습니다.",
                        "Order {orderId} was refunded {amount} won."),
    e.OrderCancelled: ("order_cancelled", "고객이 주문 #{orderId}을(를) 취소했습니다: #{reason}",
                       "The customer cancelled order {orderId}: {reason}"),
}


def _owner_text(event: e.Event, state: OrderState) -> tuple[str, str, str] | None:
    if isinstance(event, e.OrderCancelled) and state.payment_id is None:
        return None  # the store never saw an order that was not paid
    return _OWNER_TEXT.get(type(event))


def _notice(event: e.Event, recipient_kind: str, recipient_id: str, kind: str, ko: str, en: str,
            values: dict[str, str]) -> Notice:
    used = dict.fromkeys(re.findall(r"#\{(\w+)\}", ko))
    return Notice(f"{event.event_id}:{recipient_kind}", recipient_kind, recipient_id,
                  event.order_id, kind, f"{render(ko, values)}\n{en.format(**values)}", event.at,
                  tuple((name, values[name]) for name in used))
