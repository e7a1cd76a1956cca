"""A refusal: the domain's answer when a command must not happen, carrying the API's code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    """Why a command was refused."""

    code: str
    """Stable machine-readable word of API.md (order_not_cancellable, invalid_transition, ...)."""
    detail: str
    """A sentence for a person, naming the current status or the offending value."""
    field: str | None = None
    """The request field at fault, for validation refusals."""
    retry_after_s: float | None = None
    """When the same request may succeed later (payment unavailable), how long to wait."""
