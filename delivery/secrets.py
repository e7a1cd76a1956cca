"""Secrets of the outside services (the Toss secret key, the NHN Cloud secret key): read from the
environment only, never from a configuration file, never kept in the settings (which the admin
API and the actor messages carry), never logged. `Secret` hides its value from repr and str."""

from __future__ import annotations

import os
from collections.abc import Mapping

TOSS_SECRET_KEY = "DELIVERY_PAYMENT_TOSS_SECRET_KEY"
ALIMTALK_SECRET_KEY = "DELIVERY_NOTIFICATIONS_ALIMTALK_SECRET_KEY"
ALIMTALK_WEBHOOK_SIGNATURE = "DELIVERY_NOTIFICATIONS_ALIMTALK_WEBHOOK_SIGNATURE"


class Secret:
    """A secret value that does not show itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self):  # never pickled into an actor message or a log
        raise TypeError("a Secret is not to be serialised")


def secret(name: str, env: Mapping[str, str] | None = None) -> Secret:
    """The secret held by environment variable `name` ('' when unset)."""
    return Secret((os.environ if env is None else env).get(name, "").strip())


def missing(settings, env: Mapping[str, str] | None = None) -> list[str]:
    """The environment variables the configured providers need and that are not set."""
    need = []
    if settings.payment.provider == "toss":
        need.append(TOSS_SECRET_KEY)
    if "alimtalk" in settings.notifications.channels:
        need.append(ALIMTALK_SECRET_KEY)
    return [name for name in need if not secret(name, env)]
