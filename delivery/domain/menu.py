"""Menus and order pricing: known items, quantities 1..99, integer won."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .refusal import Refusal

MIN_QUANTITY, MAX_QUANTITY = 1, 99
MAX_PRICE = 10_000_000
MAX_LINES = 50
MAX_MENU_ITEMS = 200


@dataclass(frozen=True)
class MenuItem:
    """One dish a store sells."""

    id: str
    """Menu item id, unique within its store."""
    name: str
    """What the customer sees."""
    price: int
    """Price in won."""


@dataclass(frozen=True)
class OrderLine:
    """One priced line of an order, with the price fixed at ordering time."""

    menu_item_id: str
    """The menu item ordered."""
    name: str
    """Its name when ordered."""
    price: int
    """Its unit price in won when ordered."""
    quantity: int
    """How many, 1..99."""


def check_price(price: object, field: str) -> int | Refusal:
    """A menu price: an integer number of won, 0..10,000,000 (18000.0 is one: JSON says so)."""
    if isinstance(price, float) and price.is_integer():
        price = int(price)
    if isinstance(price, bool) or not isinstance(price, int):
        return Refusal("invalid_field", f"{field} must be an integer number of won", field)
    if not 0 <= price <= MAX_PRICE:
        return Refusal("invalid_field", f"{field} must be 0..{MAX_PRICE}, got {price}", field)
    return price


def price_order(menu: Mapping[str, MenuItem],
                items: Sequence[tuple[str, int]]) -> tuple[tuple[OrderLine, ...], int] | Refusal:
    """The priced lines and total of an order, or a refusal naming the offending item."""
    if not items:
        return Refusal("invalid_field", "an order needs at least one item", "items")
    if len(items) > MAX_LINES:
        return Refusal("invalid_field", f"an order has at most {MAX_LINES} lines", "items")
    lines = []
    for i, (item_id, quantity) in enumerate(items):
        item = menu.get(item_id)
        if item is None:
            return Refusal("unknown_menu_item", f"menu item {item_id!r} is not on this store's menu",
                           f"items[{i}].menu_item_id")
        if isinstance(quantity, bool) or not isinstance(quantity, int) \
                or not MIN_QUANTITY <= quantity <= MAX_QUANTITY:
            return Refusal("invalid_field",
                           f"quantity must be an integer {MIN_QUANTITY}..{MAX_QUANTITY}, got {quantity!r}",
                           f"items[{i}].quantity")
        lines.append(OrderLine(item.id, item.name, item.price, quantity))
    return tuple(lines), sum(line.price * line.quantity for line in lines)
