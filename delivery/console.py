"""`python run.py console`: the admin console in a terminal.

Shows the actor tree, the payment circuit and gateway, orders by status with transition rates,
the outbox and notifications, the cluster's nodes and leases, refreshing; takes commands to inject and clear faults, inspect an
order's events and an actor's status. `--once` prints one picture; `-c CMD` runs commands;
commands may also come on standard input, one a line.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from . import cli, config
from .admintoken import stored_token

HELP = """commands:
  (empty) | refresh              show the picture again
  watch [SECONDS]                refresh every second (Ctrl-C stops; default until stopped)
  fault payment crash            the payment gateway dies at its next message
  fault payment slow MS          the provider answers MS milliseconds late
  fault payment fail RATE        the provider fails with probability RATE (0..1)
  fault store STORE_ID down|up|crash
  clear                          clear every fault
  pending                        stores and riders waiting for approval, and suspended ones
  approve store|rider ID         let a store or rider act (onboarding)
  suspend store|rider ID         stop a store or rider acting; it may still read its own data
  unassign ORDER_ID              take a picked order from its rider (cooked again)
  order ORDER_ID                 an order's events, one by one, and its status
  actor TEXT                     actors whose kind, key, address or state contains TEXT
  cluster                        every lease: the node holding it and how far behind it is
  help | quit"""


class ConsoleError(Exception):
    """The service refused or could not be reached; the message says why."""


class AdminClient:
    """The admin API over HTTP, with the admin token."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url.rstrip("/"), token

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            try:
                detail = json.loads(e.read()).get("detail", e.reason)
            except ValueError:
                detail = e.reason
            raise ConsoleError(f"{e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise ConsoleError(f"cannot reach {self.url}: {e}") from None

    def snapshot(self) -> dict[str, Any]:
        return {"at": time.monotonic(), "actors": self.call("GET", "/admin/api/actors"),
                "payment": self.call("GET", "/admin/api/payment"),
                "stats": self.call("GET", "/admin/api/stats"),
                "cluster": self.call("GET", "/admin/api/cluster")}


STATUS_EVENTS = {"placed": "OrderPlaced", "paid": "OrderPaid", "accepted": "OrderAccepted",
                 "cooking": "CookingStarted", "cooked": "CookingFinished",
                 "picked_up": "OrderPickedUp", "completed": "DeliveryConfirmed",
                 "rejected": "OrderRejected", "cancelled": "OrderCancelled"}


def picture(now: dict[str, Any], before: dict[str, Any] | None) -> Group:
    """Everything the console shows, as rich renderables."""
    dt = (now["at"] - before["at"]) if before else 0.0
    return Group(_payment(now["payment"]), _orders(now["stats"], before and before["stats"], dt),
                 _outbox(now["stats"]), _admission(now["stats"].get("admission")),
                 _cluster(now["cluster"]),
                 _actors(now["actors"], before and before["actors"], dt))


def _payment(p: dict[str, Any]) -> Panel:
    c, g = p["circuit"], p["gateway"]
    colour = {"closed": "green", "open": "red", "half_open": "yellow"}[c["state"]]
    lines = [f"circuit [bold {colour}]{c['state']}[/]  failures {c['failures']}  "
             f"retry after {c['retry_after_s']} s  reset timeout {c['reset_timeout_s']} s",
             f"gateway [bold]{g['state']}[/]  restarts {g['restarts']}  last restart "
             f"{g['last_restart_at'] or '-'}  backoff {g['backoff_s']} s  in flight {g['in_flight']}"]
    for t in p.get("timeline", [])[-5:]:
        lines.append(f"  {t['at'][11:23]}  {t['kind']:<7} {t['from']} -> {t['to']}  {t['reason']}")
    if p.get("faults"):
        lines.append("faults: " + ", ".join(json.dumps(f) for f in p["faults"]))
    return Panel("\n".join(lines), title="payment")


def _orders(s: dict[str, Any], before: dict[str, Any] | None, dt: float) -> Panel:
    table = Table(box=None, pad_edge=False)
    for col in ("status", "orders", "events/s"):
        table.add_column(col, justify="left" if col == "status" else "right")
    for status, n in s["orders_by_status"].items():
        kind = STATUS_EVENTS[status]
        rate = ((s["events_by_kind"].get(kind, 0) - before["events_by_kind"].get(kind, 0)) / dt
                if before and dt else 0.0)
        table.add_row(status, str(n), f"{rate:.1f}")
    rate = (s["actor_messages"] - before["actor_messages"]) / dt if before and dt else 0.0
    footer = (f"live order actors {s['live_order_actors']}  actor messages {s['actor_messages']}"
              f" ({rate:.0f}/s)  journal {s['journal']['events']} events")
    return Panel(Group(table, footer), title="orders")


def _outbox(s: dict[str, Any]) -> Panel:
    n, o = s["notifications"], s["outbox"]
    return Panel(f"notifications sent {n['sent']} pending {n['pending']} failed {n['failed']}\n"
                 f"projector behind {o['projector_pending']}  notifier behind {o['notifier_pending']}"
                 f"  store inbox pending {o['store_inbox_pending']}  refunds pending "
                 f"{o['refunds_pending']}  webhook pending/failed {o['webhook_pending']}/"
                 f"{o['webhook_failed']}" + _alimtalk(n.get("alimtalk")), title="outbox")


def _alimtalk(a: dict[str, int] | None) -> str:
    """AlimTalk messages by delivery state (nothing when the service reports none)."""
    if not a or not any(a.values()):
        return ""
    return (f"\nalimtalk pending {a['pending']}  accepted {a['accepted']}  delivered "
            f"{a['delivered']}  failed {a['failed']}")


def _cluster(c: dict[str, Any]) -> Panel:
    """The nodes, their leases, and the leases nobody holds or that lag."""
    table = Table(box=None, pad_edge=False)
    for col in ("node", "state", "last seen", "pid", "leases"):
        table.add_column(col, justify="right" if col == "pid" else "left", overflow="fold")
    for n in c["nodes"]:
        state = "[green]alive[/]" if n["alive"] else \
            "[yellow]not responding[/]" if n["session"] else "[red]gone[/]"
        name = f"[bold]{n['name']}[/]" if n["this_node"] else n["name"]
        table.add_row(name, state, f"{n['seen_s_ago']:.1f} s ago", str(n["pid"]),
                      ", ".join(n["leases"]) or "-")
    unheld = [lease["name"] for lease in c["leases"] if not lease["holder"]]
    lagging = [f"{lease['name']} {lease['lag']}" for lease in c["leases"] if lease["lag"]]
    footer = (f"storage {c['storage']}  store partitions {c['store_partitions']}  unheld "
              f"{', '.join(unheld) or 'none'}  lagging {', '.join(lagging) or 'none'}")
    return Panel(Group(table, footer), title=f"cluster ({len(c['nodes'])} nodes)")


def _leases(c: dict[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False)
    for col in ("lease", "held by", "lag", "counted in"):
        table.add_column(col, justify="right" if col == "lag" else "left", overflow="fold")
    for lease in c["leases"]:
        lag = "-" if lease["lag"] is None else str(lease["lag"])
        table.add_row(lease["name"], lease["holder"] or "[red]nobody[/]", lag, lease["lag_of"])
    return table


def _admission(a: dict[str, Any] | None) -> Panel:
    if a is None:
        return Panel("not reported by this service", title="admission")
    classes = "  ".join(f"{kind.replace('_', ' ')} {c['refused']} refused (at {c['threshold']})"
                        for kind, c in a["classes"].items())
    state = "on" if a["enabled"] else "[yellow]off[/]"
    return Panel(f"{state}  limit {a['limit']}  in flight {a['in_flight']}  queue delay "
                 f"{a['queue_delay_ms']} ms (target {a['queue_target_ms']:g})\n{classes}",
                 title="admission")


def _actors(a: dict[str, Any], before: dict[str, Any] | None, dt: float) -> Panel:
    previous = {x["address"]: x["messages_in"] for x in before["actors"]} if before else {}
    table = Table(box=None, pad_edge=False)
    for col in ("kind", "key", "pid", "restarts", "messages", "msg/s", "RSS MiB", "state"):
        table.add_column(col, justify="left" if col in ("kind", "key", "state") else "right",
                         overflow="fold")
    for x in a["actors"]:
        rate = (x["messages_in"] - previous[x["address"]]) / dt if dt and x["address"] in previous else 0
        table.add_row(x["kind"], x["key"], str(x["pid"]), str(x["restarts"]),
                      str(x["messages_in"]), f"{rate:.1f}", f"{x.get('rss_kib', 0) / 1024:.1f}",
                      x["state"])
    return Panel(table, title=f"actors ({len(a['actors'])})")


class Session:
    """One console: the client, the last picture (for rates) and the output."""

    def __init__(self, client: AdminClient, out: Console) -> None:
        self.client, self.out, self.last = client, out, None

    def show(self) -> None:
        now = self.client.snapshot()
        self.out.print(picture(now, self.last))
        self.last = now

    def watch(self, seconds: float | None) -> None:
        end = time.monotonic() + seconds if seconds else None
        before = self.last or self.client.snapshot()
        try:
            with Live(console=self.out, refresh_per_second=2, transient=False) as live:
                while end is None or time.monotonic() < end:
                    time.sleep(1.0)
                    now = self.client.snapshot()
                    live.update(picture(now, before))
                    before = self.last = now
        except KeyboardInterrupt:
            pass

    def run(self, line: str) -> bool:
        """Execute one command; False when the console should end."""
        words = shlex.split(line)
        if not words or words[0] == "refresh":
            self.show()
        elif words[0] in ("quit", "exit"):
            return False
        elif words[0] == "help":
            self.out.print(HELP, highlight=False)
        elif words[0] == "watch":
            self.watch(float(words[1]) if len(words) > 1 else None)
        elif words[0] == "clear":
            self._fault({"target": "all", "kind": "clear"})
        elif words[0] == "fault":
            self._fault(self._parse_fault(words[1:]))
        elif words[0] in ("approve", "suspend"):
            self._onboard(words[0], words[1:])
        elif words[0] == "pending" and len(words) == 1:
            self._pending()
        elif words[0] == "unassign" and len(words) == 2:
            view = self.client.call("POST", f"/admin/api/orders/{words[1]}/unassign", {})
            self.out.print(f"ok: order {view['id']} is {view['status']}, waiting for a rider")
        elif words[0] == "cluster" and len(words) == 1:
            self.out.print(_leases(self.client.call("GET", "/admin/api/cluster")))
        elif words[0] == "order" and len(words) == 2:
            self._order(words[1])
        elif words[0] == "actor" and len(words) == 2:
            self._actor(words[1])
        else:
            self.out.print(f"unknown command: {line!r}; type help")
        return True

    @staticmethod
    def _parse_fault(args: list[str]) -> dict[str, Any]:
        if args[:2] == ["payment", "crash"]:
            return {"target": "payment", "kind": "crash"}
        if args[:2] == ["payment", "slow"] and len(args) == 3:
            return {"target": "payment", "kind": "slow", "delay_ms": int(args[2])}
        if args[:2] == ["payment", "fail"] and len(args) == 3:
            return {"target": "payment", "kind": "fail", "rate": float(args[2])}
        if len(args) == 3 and args[0] == "store" and args[2] in ("down", "up", "crash"):
            return {"target": "store", "store_id": args[1], "kind": args[2]}
        raise ConsoleError("usage: fault payment crash | fault payment slow MS | "
                           "fault payment fail RATE | fault store STORE_ID down|up|crash")

    def _fault(self, fault: dict[str, Any]) -> None:
        result = self.client.call("POST", "/admin/api/faults", fault)
        self.out.print(f"ok: {json.dumps(fault)}; in force: "
                       + (", ".join(json.dumps(f) for f in result["faults"]) or "none"))

    def _onboard(self, action: str, args: list[str]) -> None:
        if len(args) != 2 or args[0] not in ("store", "rider"):
            raise ConsoleError(f"usage: {action} store|rider ID")
        kind, entity_id = args[0] + "s", args[1]
        entity = self.client.call("POST", f"/admin/api/{kind}/{entity_id}/{action}")
        self.out.print(f"ok: {args[0]} {entity['id']} ({entity['name']}) is {entity['status']}")

    def _pending(self) -> None:
        data = self.client.call("GET", "/admin/api/onboarding")
        table = Table(title="stores and riders not approved")
        for col in ("kind", "id", "name", "status", "registered"):
            table.add_column(col, overflow="fold")
        for kind in ("stores", "riders"):
            for e in data[kind]:
                table.add_row(kind[:-1], e["id"], e["name"], e["status"], e["created_at"])
        self.out.print(table if table.row_count else "nobody waits for approval")

    def _order(self, order_id: str) -> None:
        data = self.client.call("GET", f"/admin/api/orders/{order_id}/events")
        table = Table(title=f"order {order_id}: {data['view']['status'] if data['view'] else '?'}")
        for col in ("seq", "v", "at", "event", "data"):
            table.add_column(col, overflow="fold")
        for e in data["events"]:
            table.add_row(str(e["seq"]), str(e["version"]), e["at"], e["kind"],
                          json.dumps(e["data"], ensure_ascii=False)[:120])
        self.out.print(table)

    def _actor(self, text: str) -> None:
        actors = self.client.call("GET", "/admin/api/actors")["actors"]
        found = [a for a in actors if any(text in str(a[k]) for k in ("kind", "key", "address", "state"))]
        if not found:
            self.out.print(f"no actor matches {text!r}")
        for a in found:
            self.out.print(Panel("\n".join(f"{k}: {v}" for k, v in a.items()),
                                 title=f"{a['kind']} {a['key']}".strip()))


def find_token(data_dir: str | None, env: Mapping[str, str]) -> str:
    """DELIVERY_ADMIN_TOKEN, else the token a service generated and kept in its data directory
    (--data-dir, else the configured server.data_dir); "" when there is neither."""
    if env.get("DELIVERY_ADMIN_TOKEN"):
        return env["DELIVERY_ADMIN_TOKEN"]
    if data_dir is None:
        try:
            data_dir = config.load(env=env).server.data_dir
        except config.ConfigError:
            return ""
    return stored_token(data_dir) or ""


def local_url(env: Mapping[str, str]) -> str:
    """The URL of the service of this machine's configuration (DELIVERY_SERVER_* included)."""
    try:
        server = config.load(env=env).server
    except config.ConfigError:
        return "http://127.0.0.1:8080"
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host
    return f"http://{'[' + host + ']' if ':' in host else host}:{server.port}"


def main(argv: list[str] | None = None) -> int:
    p = cli.parser("run.py console", __doc__.split("\n\n")[0])
    p.add_argument("--url", default=None, help="the service's base URL (default: "
                   "http://server.host:server.port of the config, http://127.0.0.1:8080)")
    p.add_argument("--token", default=None,
                   help="admin token (default: DELIVERY_ADMIN_TOKEN, else the token the service "
                        "generated and kept in DATA_DIR/admin.token on this machine)")
    p.add_argument("--data-dir", default=None,
                   help="where to look for admin.token (default: server.data_dir, ./data)")
    p.add_argument("--once", action="store_true", help="print the picture once and exit")
    p.add_argument("-c", dest="commands", action="append", default=[],
                   help="run a command (repeatable) and exit (default: none, watch interactively)")
    args = p.parse_args(argv)
    out = Console(highlight=False)
    token = args.token or find_token(args.data_dir, os.environ)
    url = args.url or local_url(os.environ)
    if not token:
        out.print("[red]no admin token: pass --token, set DELIVERY_ADMIN_TOKEN, or run on the "
                  "service's machine from the directory it was started in (DATA_DIR/admin.token)[/]")
        return 2
    session = Session(AdminClient(url, token), out)
    try:
        session.client.call("GET", "/admin/api/stats")
    except ConsoleError as e:
        out.print(f"[red]{e}[/]")
        return 2
    if args.once or args.commands:
        for command in args.commands or ["refresh"]:
            try:
                session.run(command)
            except (ConsoleError, ValueError) as e:
                out.print(f"[red]error: {e}[/]")
                return 1
        return 0
    interactive = sys.stdin.isatty()
    if interactive:
        session.show()
        out.print("type help for commands")
    while True:
        try:
            line = input("console> " if interactive else "")
        except (EOFError, KeyboardInterrupt):
            return 0
        try:
            if not session.run(line):
                return 0
        except (ConsoleError, ValueError) as e:
            out.print(f"[red]error: {e}[/]")
