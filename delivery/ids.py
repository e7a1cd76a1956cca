"""Identifiers of orders, customers, stores and riders: a kind prefix and 80 random bits."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    """A fresh id such as `ord_3f9c…` (the front door derives keyed ones in `idempotency`)."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"
