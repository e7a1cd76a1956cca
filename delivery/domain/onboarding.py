"""Onboarding of stores and riders: registered pending, approved or suspended by the admin."""

from __future__ import annotations

PENDING, APPROVED, SUSPENDED = "pending", "approved", "suspended"
STATUSES = (PENDING, APPROVED, SUSPENDED)
ACTIONS = {"approve": APPROVED, "suspend": SUSPENDED}
"""Admin action (the last segment of its path) -> the status it sets."""


def initial_status(auto_approve: bool) -> str:
    """The status of a new registration: pending until the admin approves it, unless
    onboarding.auto_approve (demos, tests) approves everyone at once."""
    return APPROVED if auto_approve else PENDING
