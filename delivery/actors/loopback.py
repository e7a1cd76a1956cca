"""Make Thespian's TCP transport listen on one chosen interface instead of all of them.

Thespian binds every actor socket to 0.0.0.0 and unpickles whatever reaches it, so by default
nothing may listen beyond loopback. Its address class takes THESPIAN_BASE_IPADDR for the address
it advertises but still binds to every interface; this narrows the bind to that same address.
Actor processes are forked, so they inherit the change.
"""

from __future__ import annotations

import os

_bound: str | None = None


def bind_to(address: str) -> None:
    """Advertise and bind every Thespian TCP socket of this process tree on `address`."""
    global _bound
    from thespian.system.transport import IPBase

    os.environ["THESPIAN_BASE_IPADDR"] = address
    if _bound is None:
        original = IPBase.IPActorAddress.__init__

        def narrowed(self, *args, **kwargs):
            original(self, *args, **kwargs)
            if self.bindname[0] in ("", "0.0.0.0"):
                self.bindname = (_bound, self.bindname[1])

        IPBase.IPActorAddress.__init__ = narrowed
    _bound = address
