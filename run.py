"""Command line of the food-delivery service: serve (default), console, loadtest, demo, bench,
httpbench, paybench, restartbench."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv and not argv[0].startswith("-") else ("serve", argv)
    if command == "demo":
        from delivery.demo import main as demo
        return demo(rest)
    if command == "bench":
        from delivery.bench import main as bench
        return bench(rest)
    if command == "httpbench":
        from delivery.httpbench import main as httpbench
        return httpbench(rest)
    if command == "paybench":
        from delivery.paybench import main as paybench
        return paybench(rest)
    if command == "restartbench":
        from delivery.restartbench import main as restartbench
        return restartbench(rest)
    if command == "console":
        from delivery.console import main as console
        return console(rest)
    if command == "loadtest":
        from delivery.loadtest.runner import main as loadtest
        return loadtest(rest)
    if command == "serve":
        from delivery.http.serve import main as serve
        return serve(rest)
    print(f"unknown command {command!r}; use serve, console, loadtest, demo, bench, httpbench, paybench or restartbench", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
