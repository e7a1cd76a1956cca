"""A local process that connects to an actor socket of multiprocTCPBase cannot run code in it."""

from __future__ import annotations

import os
import pickle
import re
import socket
import subprocess

import pytest

from .conftest import World

pytestmark = pytest.mark.multiproc


class CreatesFile:
    """The harmless proof: unpickling it creates a file (a real attack would run a shell)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


def frame(payload: object) -> bytes:
    """A frame as Thespian's TCP transport reads it: the pickle's length, '>', the pickle."""
    data = pickle.dumps(payload)
    return b"%d>" % len(data) + data


def send_frame(port: int, data: bytes) -> bytes:
    """Send one frame to 127.0.0.1:port and read until the receiver closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    return answer


def listening_ports(pid: int) -> set[int]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    return {int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines()
            if f"pid={pid}," in line}


def actor_sockets(rt) -> dict[str, int]:
    """Every socket of the running system: the admin, each actor, and this process's own."""
    ports = {"admin": rt.settings.actors.admin_port}
    for actor in rt.stats().actors:
        ports[f"{actor.kind} (pid {actor.pid})"] = int(re.search(r":(\d+)\)$", actor.address)[1])
    for port in listening_ports(os.getpid()):
        ports[f"front door {port}"] = port
    return ports


def test_a_pickled_payload_runs_on_no_actor_socket_and_orders_still_flow(multiproc_runtime, tmp_path):
    w = World(multiproc_runtime)
    sockets = actor_sockets(multiproc_runtime)
    pids = {a.pid for a in multiproc_runtime.stats().actors}
    assert len(sockets) >= 10, sockets  # admin, guardian, registries, payment, consumers, handle
    ran, answers = [], {}
    for name, port in sockets.items():
        proof = tmp_path / f"pwned-{port}"
        answers[name] = send_frame(port, frame(CreatesFile(str(proof))))
        if proof.exists():
            ran.append(name)
    assert ran == [], f"the payload ran in: {', '.join(ran)}"
    refused = frame("ACK+DATAERR")  # Thespian's answer to a frame it could not read
    assert all(a.endswith(refused) for a in answers.values()), answers
    oid = w.cooked()
    assert w.client.pick(oid, w.riders[0])["status"] == "picked_up"
    assert w.client.confirm(oid, w.customer)["status"] == "completed"
    assert pids <= {a.pid for a in multiproc_runtime.stats().actors}  # no actor died of it
