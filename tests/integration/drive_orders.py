"""Helper process for crash tests: starts the actor system, drives orders, prints each ack.

Usage: python -m tests.integration.drive_orders DATA_DIR ADMIN_PORT N
Prints one JSON line per acknowledged command, then "READY" and waits to be killed.
"""

from __future__ import annotations

import json
import sys
import time

from delivery.actors.system import ActorRuntime
from tests.conftest import make_settings
from tests.integration.conftest import World


def main() -> None:
    data_dir, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    settings = make_settings(data_dir, "multiprocTCPBase", **{"actors.admin_port": port})
    rt = ActorRuntime(settings).start()
    w = World(rt)
    print(json.dumps({"customer": w.customer, "store": w.store, "riders": w.riders,
                      "sid": rt.admin_sid}), flush=True)
    steps = [lambda o: w.client.pay(o, w.customer), lambda o: w.client.accept(o, w.store),
             lambda o: w.client.start_cooking(o, w.store)]
    for i in range(n):
        oid = w.place()
        print(json.dumps({"order": oid, "status": "placed"}), flush=True)
        for step in steps[: i % (len(steps) + 1)]:
            print(json.dumps({"order": oid, "status": step(oid)["status"]}), flush=True)
    print("READY", flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    main()
