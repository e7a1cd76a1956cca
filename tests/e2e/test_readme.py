"""The README's commands run as pasted after the Quick start, against a live service: the Quick
start's `run.py serve --demo-data`, the curl walk-through and the admin's steps (sourcing the
demo.env it wrote), and every command of the "Other commands" table.

The Quick start's install steps (`python3 -m venv .venv && .venv/bin/pip install -e .`) are
checked to be what they are, not run: the suite runs in that environment already. The commands
run in a directory that holds the repository's `run.py`, `config/` and this `.venv` (links), so
`data/` is a fresh one; the service's port comes from DELIVERY_SERVER_PORT, which the README's
commands never name (they read $BASE from demo.env, the console reads the config).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port

README = (ROOT / "README.md").read_text()

# About the README's commands and the deploy files, not the storage adapter: SQLite only.
pytestmark = pytest.mark.sqlite_only


def block(name: str) -> str:
    """The shell block after `<!-- readme-test: name -->`."""
    m = re.search(rf"<!-- readme-test: {name} -->\n```sh\n(.*?)```", README, flags=re.S)
    assert m, f"README has no block marked {name}"
    return m.group(1)


def table_commands() -> list[str]:
    section = README[README.index("### Other commands"):README.index("## Architecture")]
    return re.findall(r"^\| `(\.venv/bin/python run\.py [^`]+)` \|", section, flags=re.M)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The Quick start's service in a fresh directory; (directory, environment, base URL)."""
    work = tmp_path_factory.mktemp("readme")
    for name in ("run.py", "config"):
        (work / name).symlink_to(ROOT / name)
    (work / ".venv").symlink_to(Path(sys.prefix))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELIVERY_")}
    env.update(DELIVERY_SERVER_PORT=str(port), DELIVERY_ACTORS_ADMIN_PORT=str(free_port()))
    install, *_, serve = block("quick-start").strip().split(" && ")
    assert install == "python3 -m venv .venv" and "pip install -e ." in block("quick-start")
    with open(work / "serve.log", "w") as log:
        proc = subprocess.Popen(["bash", "-c", f"exec {serve}"], cwd=work, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (work / "data" / "demo.env").exists() or "export RID2" not in (
                work / "serve.log").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, (work / "serve.log").read_text()
            time.sleep(0.2)
        yield work, env, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def bash(live, script: str, timeout: float = 120) -> subprocess.CompletedProcess:
    work, env, _ = live
    return subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_the_quick_start_prints_the_generated_token_and_sourceable_demo_lines(live):
    work, _, base = live
    out = (work / "serve.log").read_text()
    token = (work / "data" / "admin.token").read_text().strip()
    assert f"admin token (generated, kept in data/admin.token): {token}" in out
    assert (work / "data" / "admin.token").stat().st_mode & 0o777 == 0o600
    assert f"export BASE={base}" in out and f"export A={token}" in out


def test_the_walk_through_and_the_admin_steps_run_as_pasted(live):
    # `wait`: the event stream started in the background ends by itself with the order
    result = bash(live, block("walkthrough") + "wait\necho ---\n" + block("admin"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Error" not in result.stderr, result.stderr
    order = json.loads(result.stderr.strip().splitlines()[0])  # the creation, echoed by tee
    assert order["status"] == "placed"
    walk, admin = result.stdout.split("---\n")
    assert f'"id":"{order["id"]}"' in walk and '"status":"completed"' in walk
    assert "event: status" in walk  # the stream printed the changes live, then ended
    # each answer ends its line (the stream's lines may come between them)
    notices = json.loads(next(ln for ln in walk.splitlines() if ln.startswith('{"notifications"')))
    assert len(notices["notifications"]) >= 6
    onboarding, approved, suspended, unassigned = map(json.loads, admin.strip().splitlines())
    assert onboarding == {"stores": [], "riders": []}
    assert approved["status"] == "approved" and suspended["status"] == "suspended"
    assert unassigned["status"] == 409 and unassigned["code"] == "invalid_transition"


def test_a_failed_step_shows_the_problem_document(live):
    script = block("walkthrough").replace(". data/demo.env", ". data/demo.env; C=not-a-token", 1)
    result = bash(live, script + "wait\n")
    assert "Traceback" not in result.stderr and "KeyError" not in result.stderr
    problem = json.loads(result.stderr.strip().splitlines()[0])
    assert problem["status"] == 401 and problem["code"] == "unauthorized"


def test_the_table_lists_every_command():
    import run

    listed = {c.split()[2] for c in table_commands()}
    assert listed == set(run.COMMANDS) - {"serve"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("command", table_commands(), ids=lambda c: c.split()[2])
def test_a_table_command_runs_as_pasted(live, command):
    result = bash(live, f". data/demo.env && {command}", timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip()
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
