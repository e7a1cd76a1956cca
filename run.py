"""Command line of the food-delivery service: serve (default), console, loadtest, audit, demo,
bench, httpbench, paybench, restartbench, fake-provider."""

from __future__ import annotations

import importlib
import sys

# command -> (module whose main(argv) runs it, what it does in one line)
COMMANDS = {
    "serve": ("delivery.http.serve", "the HTTP service over the actor system (the default)"),
    "console": ("delivery.console", "the admin console in the terminal (the same as /admin)"),
    "loadtest": ("delivery.loadtest.runner",
                 "load test: real order lifecycles at a rate, faults, chaos, overload ramps"),
    "audit": ("delivery.audit.cli",
              "reconcile journal, provider ledger, inboxes, notices and read model"),
    "demo": ("delivery.tools.demo",
             "two orders through the actors, event by event, on a temporary data directory"),
    "bench": ("delivery.tools.bench", "the actor layer alone: order lifecycles per second"),
    "httpbench": ("delivery.tools.httpbench",
                  "the HTTP front door: requests/s and latency beside an aiohttp hello-world"),
    "paybench": ("delivery.tools.paybench",
                 "payments through HTTP with the circuit closed, open, and recovering"),
    "restartbench": ("delivery.tools.restartbench",
                     "time from start to ready against the journal's size; memory"),
    "fake-provider": ("delivery.fakes",
                      "a local fake of Toss Payments or NHN Cloud AlimTalk, for demos and tests"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: run.py [COMMAND] [OPTIONS]   (no command: serve)", "", "commands:"]
    lines += [f"  {name:<{width}}  {line}" for name, (_, line) in COMMANDS.items()]
    lines += ["", "run.py COMMAND --help shows a command's options and their defaults."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = (argv[0], argv[1:]) if argv and not argv[0].startswith("-") else ("serve", argv)
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[command][0]).main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
