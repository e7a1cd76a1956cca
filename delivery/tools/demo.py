"""`python run.py demo`: one complete order and one cancelled-and-refunded order through the
actors, on a fresh temporary data directory, printed event by event with the messages they took."""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from .. import cli, config
from ..actors.client import OrderClient
from ..actors.system import ActorRuntime
from ..domain.geo import Location
from ..persistence.db import Database
from ..persistence.journal import Journal
from ..persistence.readmodel import ReadModel
from .bench import HOME, settle


def _story(runtime: ActorRuntime, title: str, steps: list[tuple[str, Callable[[], dict]]]) -> str:
    print(f"\n== {title}")
    journal = Journal(Database.shared(runtime.db_path))
    before, replies_before = settle(runtime), runtime.received
    order_id = ""
    for label, step in steps:
        view = step()
        order_id = view["id"]
        print(f"  {label:<34} -> {view['status']:<10} payment={view['payment']['status']}")
    after = settle(runtime)  # the refund and the notices run after the last reply
    print("  timeline (journal):")
    for event in journal.load(order_id):
        extra = {k: v for k, v in vars(event).items()
                 if k in ("rider_id", "reason", "amount", "total")}
        print(f"    v{event.version}  {event.at}  {type(event).__name__:<18} {extra or ''}")
    replies = runtime.received - replies_before
    print(f"  actor messages: {after - before} received by actors + {replies} replies to the "
          f"caller = {after - before + replies}")
    return order_id


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("run.py demo", __doc__)
    parser.add_argument("--base", default=None, choices=config.BASES,
                        help="Thespian system base (default: actors.base of the config)")
    parser.add_argument("--admin-port", type=int, default=19800,
                        help="multiprocTCPBase: the actor admin's TCP port")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="delivery-demo-") as data_dir:
        settings = config.load(**{"server.data_dir": data_dir, "actors.base": args.base,
                                  "actors.admin_port": args.admin_port,
                                  "onboarding.auto_approve": True})
        print(f"actor system: {settings.actors.base}, data: {data_dir}")
        with ActorRuntime(settings) as rt:
            c = OrderClient(rt)
            customer, _ = c.register_customer("Kim Minji", "010-1234-5678", HOME.location)
            store, _, _ = c.register_store("Gangnam Chicken", "010-2222-3333",
                                           Location(37.5004, 127.0300),
                                           [("Fried chicken", 18000), ("Cola", 2000)])
            rider, _ = c.register_rider("Lee Junho", "010-4444-5555", Location(37.4990, 127.0290))
            ids: list[str] = []

            def place() -> dict:
                view = c.place(customer, store, [("m1", 1), ("m2", 2)], HOME)
                ids.append(view["id"])
                return view

            _story(rt, "A complete order", [
                ("customer places 1 chicken, 2 colas", place),
                ("customer pays by card", lambda: c.pay(ids[-1], customer)),
                ("store accepts", lambda: c.accept(ids[-1], store)),
                ("store starts cooking", lambda: c.start_cooking(ids[-1], store)),
                ("store finishes cooking", lambda: c.finish_cooking(ids[-1], store)),
                ("rider nearby picks it up", lambda: c.pick(ids[-1], rider)),
                ("customer confirms delivery", lambda: c.confirm(ids[-1], customer)),
            ])
            cancelled = _story(rt, "A cancelled and refunded order", [
                ("customer places 1 chicken, 2 colas", place),
                ("customer pays by card", lambda: c.pay(ids[-1], customer)),
                ("customer cancels before cooking", lambda: c.cancel(ids[-1], customer, "ordered twice")),
            ])
            model = ReadModel(Database.shared(rt.db_path))
            print(f"\n  after the refund: payment={model.view(cancelled)['payment']['status']}")
            print("\n== What the customer was told (oldest first)")
            for n in reversed(model.notifications("customer", customer)):
                print(f"  [{n['kind']}] {n['text'].splitlines()[1]}")
            print("\n== What the store owner was told (oldest first)")
            for n in reversed(model.notifications("store", store)):
                print(f"  [{n['kind']}] {n['text'].splitlines()[1]}")
    return 0
