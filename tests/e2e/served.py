"""The app served as `run.py serve` serves it: its runner on a real loopback port.

aiohttp's test server cancels a handler when its client leaves; the service's runner does not,
so tests of what happens when clients leave or dawdle run here."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from delivery.http.serve import listen, make_runner


class Served:
    """A running app and a client session to it (`request`, `get` take paths, like the test
    client's)."""

    def __init__(self, app: web.Application) -> None:
        self.app, self.host, self.port = app, "127.0.0.1", 0
        self.runner = make_runner(app)
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> Served:
        await self.runner.setup()
        try:
            self.port = await listen(self.runner, self.host, 0)
        except BaseException:
            await self.runner.cleanup()
            raise
        self.session = aiohttp.ClientSession(f"http://{self.host}:{self.port}")
        return self

    def request(self, method: str, path: str, **kw):
        return self.session.request(method, path, **kw)

    def get(self, path: str, **kw):
        return self.session.get(path, **kw)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        await self.runner.cleanup()
