"""`python run.py audit`: reconcile a data directory (or a running service through its admin
API) and exit 1 on any violation, printing each on one line and then a summary."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .. import cli
from .run import audit_data_dir, summary


def parse(argv: list[str]) -> argparse.Namespace:
    p = cli.parser("run.py audit", __doc__.split("\n\n")[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--data-dir", help="the data directory of a stopped service (no "
                        "default: --data-dir, --storage-url or --url is required)")
    target.add_argument("--storage-url", help="the PostgreSQL database of a cluster "
                        "(postgresql://user@host:port/db), e.g. $DELIVERY_STORAGE_URL (no "
                        "default: --data-dir, --storage-url or --url is required)")
    target.add_argument("--url", help="a running service, e.g. http://127.0.0.1:8080 (no "
                        "default: --data-dir, --storage-url or --url is required)")
    p.add_argument("--token", default=os.environ.get("DELIVERY_ADMIN_TOKEN", ""),
                   help="admin token for --url (default DELIVERY_ADMIN_TOKEN)")
    p.add_argument("--grace", type=float, help="seconds an order must have been quiet to be "
                   "audited (default 0 for --data-dir; the service's choice for --url)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p.parse_args(argv)


def remote(url: str, token: str, grace: float | None) -> dict[str, Any]:
    """GET /admin/api/audit of a running service."""
    query = f"?grace_s={grace:g}" if grace is not None else ""
    request = urllib.request.Request(f"{url.rstrip('/')}/admin/api/audit{query}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=600) as r:
        return json.loads(r.read())


def main(argv: list[str]) -> int:
    args = parse(argv)
    try:
        if args.url:
            result = remote(args.url, args.token, args.grace)
            line = result["summary"]
        else:
            audited = audit_data_dir(args.storage_url or args.data_dir, args.grace or 0.0)
            result, line = audited.as_dict(), summary(audited)
    except (OSError, urllib.error.URLError) as exc:
        print(f"audit could not run: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for violation in result["violations"]:
            print(violation)
        print(line)
    return 0 if result["ok"] else 1
