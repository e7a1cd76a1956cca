"""The bridge from asyncio to the actor system: await a command's reply without blocking the loop."""

from __future__ import annotations

from typing import Any

from ..actors.host import ActorProcess
from ..actors.messages import Reply
from ..actors.system import ActorRuntime
from .problems import Problem


class Bridge:
    """Sends a message into the actor system and awaits its reply as an asyncio future."""

    def __init__(self, runtime: ActorRuntime | ActorProcess) -> None:
        self.runtime = runtime
        self.in_flight = 0

    async def ask(self, target: str, body: Any) -> Reply:
        """The reply; a timeout or a stopped system raises ActorSystemUnavailable (503)."""
        self.in_flight += 1
        try:
            return await self.runtime.ask(target, body)
        finally:
            self.in_flight -= 1

    async def command(self, target: str, body: Any) -> Any:
        """The result of a command; a refusal becomes its problem document."""
        reply = await self.ask(target, body)
        if reply.refusal is not None:
            raise Problem.from_refusal(reply.refusal)
        return reply.result
