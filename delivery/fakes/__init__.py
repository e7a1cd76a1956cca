"""Local fakes of the outside services the adapters talk to: `python run.py fake-provider
toss|alimtalk --port P` (real aiohttp servers on 127.0.0.1; the tests run the same apps)."""

from __future__ import annotations

import importlib

from ..cli import parser

FAKES = {"toss": "delivery.fakes.toss", "alimtalk": "delivery.fakes.alimtalk"}


def main(argv: list[str]) -> int:
    p = parser("run.py fake-provider", __doc__.split("\n\n")[0])
    p.add_argument("provider", choices=sorted(FAKES), help="the service to fake")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, help="TCP port (default: 8091 for toss, 8092 for alimtalk)")
    p.add_argument("--secret-key", action="append",
                   help="the secret key it accepts; toss: repeatable (default: the fake's test key, "
                        "printed at start)")
    p.add_argument("--app-key", help="alimtalk: the app key in the path (default: fake-app-key)")
    p.add_argument("--sender-key", help="alimtalk: the sender key it knows (default: the fake's, "
                   "printed at start)")
    args = p.parse_args(argv)
    rest = ["--host", args.host] + (["--port", str(args.port)] if args.port else [])
    for key in args.secret_key or []:
        rest += ["--secret-key", key]
    if args.provider == "alimtalk":
        rest += (["--app-key", args.app_key] if args.app_key else []) + \
                (["--sender-key", args.sender_key] if args.sender_key else [])
    return importlib.import_module(FAKES[args.provider]).main(rest)
