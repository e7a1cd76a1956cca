"""A restricted unpickler for Thespian's TCP transport: only the classes our actors exchange.

Thespian's multiprocTCPBase unpickles every frame that reaches one of its sockets, so any local
process able to connect could run code as the service (a `__reduce__` payload). Following the
"Restricting Globals" recipe of the pickle documentation, a frame may name only classes of the
modules listed here; anything else is refused before it is built, and Thespian answers the
sender with an error, drops the frame and closes the connection. Installed in the service
process before the admin is forked; every actor process is forked from it and inherits it
(tests/integration/test_transport_safety.py proves it on every socket of a running system).
"""

from __future__ import annotations

import functools
import importlib
import io
import logging
import pickle
from typing import Any

log = logging.getLogger("delivery.transport")

# Modules whose own classes travel between our processes: our messages, settings and domain
# values; Thespian's addresses and system messages. Found by running the multi-process tests
# with every global a frame named logged; anything new must be added here deliberately.
MODULES = ("delivery.actors.messages", "delivery.config", "delivery.domain.",
           "thespian.actors", "thespian.system.messages.", "thespian.system.transport.",
           "thespian.system.logdirector")

# Data types only: building one runs no code of the sender's choosing.
STDLIB = frozenset({
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "bytearray"),
    ("builtins", "complex"), ("datetime", "datetime"), ("datetime", "timedelta"),
    ("datetime", "date"), ("datetime", "timezone"), ("collections", "OrderedDict"),
    ("collections", "deque"), ("logging", "LogRecord"),
    ("socket", "AddressFamily"), ("socket", "SocketKind"),  # inside Thespian's TCP addresses
})

# Thespian messages that load actor code sent over the wire (loadActorSource and the source
# authority that validates it): a sender could register itself as the authority and approve
# its own code. The service never loads sources.
REFUSED = frozenset({
    "ValidateSource", "ValidatedSource", "LoadedSource", "UnloadedSource",
    "RegisterSourceAuthority", "NotifyOnSourceAvailability",
    "SourceHashTransferRequest", "SourceHashTransferReply",
})

# createActor by name imports the module and calls the name: only our own actors.
ACTOR_PACKAGE = "delivery."


class RefusedFrame(pickle.UnpicklingError):
    """A frame that no process of ours sends."""


@functools.lru_cache(maxsize=512)
def allowed(module: str, name: str) -> bool:
    """Whether a frame may name the global `module.name`."""
    if (module, name) in STDLIB:
        return True
    if not _listed(module) or "." in name or name.startswith("_") or name in REFUSED:
        return False  # a dotted name could walk from a listed module to `os.system`
    try:
        obj = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return False
    # Classes defined in that very module only: not a function, nor something it imported.
    return isinstance(obj, type) and obj.__module__ == module


def _listed(module: str) -> bool:
    return any(module == m.rstrip(".") or (m.endswith(".") and module.startswith(m))
               for m in MODULES)


class ActorUnpickler(pickle.Unpickler):
    """pickle.Unpickler that builds only allowed globals."""

    def find_class(self, module: str, name: str) -> Any:
        if not allowed(module, name):
            raise RefusedFrame(f"it names {module}.{name}")
        return super().find_class(module, name)


def loads(data: bytes) -> Any:
    """pickle.loads restricted to our messages; a refused frame is logged and raises."""
    try:
        frame = ActorUnpickler(io.BytesIO(data)).load()
        _check_creation(frame)
    except RefusedFrame as exc:
        # Thespian closes the connection after a bad frame, so this is once per connection.
        log.warning("refused a frame on the actor transport: %s", exc)
        raise
    return frame


def _check_creation(frame: Any) -> None:
    from thespian.system.messages.admin import PendingActor
    from thespian.system.transport import ForwardMessage

    message = frame[1] if isinstance(frame, tuple) and len(frame) == 2 else None
    while isinstance(message, ForwardMessage):
        message = message.fwdMessage
    if isinstance(message, PendingActor) and \
            not str(message.actorClassName).startswith(ACTOR_PACKAGE):
        raise RefusedFrame(f"it creates an actor of {message.actorClassName!r}")


class _Serializer:
    """What Thespian's TCP transport calls `serializer`: pickle's dumps, our loads."""

    dumps = staticmethod(pickle.dumps)
    loads = staticmethod(loads)


def install() -> None:
    """Make Thespian's TCP transport in this process, and in every process forked from it
    afterwards, unpickle with the allow-list; idempotent."""
    from thespian.system.transport import TCPTransport

    TCPTransport.serializer = _Serializer
