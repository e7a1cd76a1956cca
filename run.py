"""Command line of the food-delivery service: serve (default), console, loadtest, audit, demo,
bench, httpbench, paybench, restartbench, fake-provider."""

from __future__ import annotations

import importlib
import sys

# command -> module whose main(argv) runs it
COMMANDS = {
    "serve": "delivery.http.serve",
    "console": "delivery.console",
    "loadtest": "delivery.loadtest.runner",
    "audit": "delivery.audit.cli",
    "demo": "delivery.tools.demo",
    "bench": "delivery.tools.bench",
    "httpbench": "delivery.tools.httpbench",
    "paybench": "delivery.tools.paybench",
    "restartbench": "delivery.tools.restartbench",
    "fake-provider": "delivery.fakes",
}


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv and not argv[0].startswith("-") else ("serve", argv)
    if command not in COMMANDS:
        print(f"unknown command {command!r}; use one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[command]).main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
