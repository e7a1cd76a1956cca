"""Blocking work off the actor thread on simpleSystemBase.

On simpleSystemBase every actor runs in the one thread that owns the ActorSystem, so an actor that
waits for a slow payment provider would stall every order. There, the gateway hands the call to a
small thread pool and the result comes back as a message told through the runtime's pump. On the
multi-process bases the gateway is a process of its own and simply waits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_lock = threading.Lock()
_deliverers: dict[str, Callable[[Any, Any], None]] = {}
_pools: dict[str, ThreadPoolExecutor] = {}


def install(runtime_id: str, deliver: Callable[[Any, Any], None], workers: int = 8) -> None:
    """Register how to tell a message to an actor from another thread (the pump's queue)."""
    with _lock:
        _deliverers[runtime_id] = deliver
        _pools[runtime_id] = ThreadPoolExecutor(workers, thread_name_prefix=f"offload-{runtime_id}")


def uninstall(runtime_id: str) -> None:
    with _lock:
        _deliverers.pop(runtime_id, None)
        pool = _pools.pop(runtime_id, None)
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def available(runtime_id: str) -> bool:
    """Whether this process can offload for that runtime (simpleSystemBase, same process)."""
    return runtime_id in _deliverers


def run(runtime_id: str, work: Callable[[], Any], to: Any) -> None:
    """Run `work` in the pool; tell its result to the actor at address `to` when done."""
    deliver, pool = _deliverers[runtime_id], _pools[runtime_id]
    pool.submit(lambda: deliver(to, work()))


def run_or_inline(actor: Any, runtime_id: str, work: Callable[[], Any],
                  handle: Callable[[Any, Any], None]) -> None:
    """Run blocking `work` for an actor: in the pool where the actor shares the pump's thread (its
    result then comes back to the actor as a message), else right here, handing it to `handle`."""
    if available(runtime_id):
        run(runtime_id, work, actor.myAddress)
    else:
        handle(work(), None)
