"""Schemathesis hooks for tests/e2e/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import re
import uuid

import schemathesis

from delivery.http.idempotency import KEY_PATTERN


@schemathesis.hook
def before_call(ctx, case, **kwargs) -> None:
    """A fresh Idempotency-Key for every request that carries a valid one.

    Generated keys repeat ("0", "00"...) across different bodies, and a reused key with another
    body is rightly 422 `idempotency_key_reused`; replay is tested in test_errors_and_access.
    Invalid keys are left as generated, so that their refusal is still checked.
    """
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key):
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
