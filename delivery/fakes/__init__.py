"""Local fakes of the outside services the adapters talk to: `python run.py fake-provider
toss|alimtalk --port P` (real aiohttp servers on 127.0.0.1; the tests run the same apps)."""

from __future__ import annotations

import importlib
import sys

FAKES = {"toss": "delivery.fakes.toss", "alimtalk": "delivery.fakes.alimtalk"}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in FAKES:
        print(f"usage: run.py fake-provider {{{'|'.join(FAKES)}}} [--port P]", file=sys.stderr)
        return 2
    return importlib.import_module(FAKES[argv[0]]).main(argv[1:])
