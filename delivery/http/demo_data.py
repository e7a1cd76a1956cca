"""Demo data for `serve --demo-data`: stores, customers and riders around Gangnam station,
registered through the API itself, approved through the admin API as an operator would (the
service knows its admin token), and handed over as shell lines: printed, and kept in
DATA_DIR/demo.env (mode 0600) for `. data/demo.env`.

The set is registered once per data directory: demo.env records it, and a later start with
--demo-data prints the same lines again (tokens are stored only as hashes, so the file is the
only place they can come from)."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from ..secretkey import write_atomically

FILE_NAME = "demo.env"
STORES = [
    ("Gangnam Fried Chicken", (37.4990, 127.0300), [("Fried chicken", 18000), ("Yangnyeom chicken", 19000), ("Cola", 2000)]),
    ("Yeoksam Tteokbokki", (37.5005, 127.0365), [("Tteokbokki", 5000), ("Sundae", 4500), ("Twigim set", 6000)]),
    ("Seocho Bibimbap", (37.4935, 127.0250), [("Bibimbap", 9000), ("Kimchi jjigae", 8500)]),
]
CUSTOMERS = [("Kim Minji", "010-1000-0001", (37.4979, 127.0276)),
             ("Park Jisoo", "010-1000-0002", (37.5020, 127.0290))]
RIDERS = [("Lee Junho", "010-2000-0001", (37.4985, 127.0285)),
          ("Choi Yuna", "010-2000-0002", (37.5010, 127.0330))]


class DemoDataError(RuntimeError):
    """The demo set cannot be registered; the message says why."""


def _suffix(i: int) -> str:
    return "" if i == 0 else str(i + 1)  # C, C2; S, S2, S3: the first needs no number


def read_env(path: Path) -> dict[str, str]:
    """The variables of a demo.env (`export NAME=value` lines)."""
    pairs: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            pairs.update(re.findall(r"(\w+)=(\S+)", line))
    return pairs


async def seed(base_url: str, admin_token: str, data_dir: str | Path) -> None:
    """Register the demo set unless this data directory has it; print its shell lines."""
    path = Path(data_dir) / FILE_NAME
    async with aiohttp.ClientSession(base_url) as http:
        if path.exists() and await _still_there(http, read_env(path)):
            # the same set; the address and the admin token are those of this start
            text = re.sub(r"^export BASE=.*$", f"export BASE={base_url}", path.read_text(), flags=re.M)
            text = re.sub(r"^export A=.*$", f"export A={admin_token}", text, flags=re.M)
            write_atomically(path, text.encode())
            print(f"demo data: registered before in this data directory; `. {path}` sets:")
            print(text, end="", flush=True)
            return
        if not path.exists() and await _names_taken(http):
            print(f"demo data: the demo stores are registered already but {path} is gone, and "
                  f"their tokens cannot be shown again (only hashes are kept); not registering "
                  f"them twice. Start on an empty --data-dir for a fresh set.", flush=True)
            return
        text = await _register(http, base_url, admin_token, path)
    write_atomically(path, text.encode())
    print(f"demo data: registered; `. {path}` sets:")
    print(text, end="", flush=True)


async def _still_there(http: aiohttp.ClientSession, env: dict[str, str]) -> bool:
    """Whether the stores of a demo.env exist in this service (not a demo.env of another DB)."""
    sids = [env.get(f"SID{_suffix(i)}", "") for i in range(len(STORES))]
    for sid in sids:
        async with http.get(f"/stores/{sid}/menu") as r:
            if not sid or r.status != 200:
                return False
    return True


async def _names_taken(http: aiohttp.ClientSession) -> bool:
    async with http.get("/stores", params={"limit": "200"}) as r:
        listed = {s["name"] for s in (await r.json())["stores"]}
    return STORES[0][0] in listed


async def _post(http: aiohttp.ClientSession, path: str, body: dict | None = None,
                token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post(path, json=body, headers=headers) as r:
        data = await r.json(content_type=None)
        if r.status >= 300:
            raise DemoDataError(f"POST {path} answered {r.status}: {data}")
        return data


async def _register(http: aiohttp.ClientSession, base_url: str, admin_token: str,
                    path: Path) -> str:
    lines = [f"# demo data of {base_url}; `. {path}` sets these variables",
             f"export BASE={base_url}", f"export A={admin_token}"]
    for i, (name, (lat, lon), menu) in enumerate(STORES):
        r = await _post(http, "/stores", {
            "name": name, "owner_phone": "010-3000-0000", "location": {"lat": lat, "lon": lon},
            "menu": [{"name": n, "price": p} for n, p in menu]})
        if r["status"] != "approved":
            await _post(http, f"/admin/api/stores/{r['id']}/approve", token=admin_token)
        items = ", ".join(f"{m['id']}={m['name']}" for m in r["menu"])
        lines += [f"# store {name}: {items}",
                  f"export SID{_suffix(i)}={r['id']} S{_suffix(i)}={r['token']}"]
    for kind, people, letter in (("customers", CUSTOMERS, "C"), ("riders", RIDERS, "R")):
        for i, (name, phone, (lat, lon)) in enumerate(people):
            r = await _post(http, f"/{kind}", {"name": name, "phone": phone,
                                               "location": {"lat": lat, "lon": lon}})
            if kind == "riders" and r["status"] != "approved":
                await _post(http, f"/admin/api/riders/{r['id']}/approve", token=admin_token)
            lines += [f"# {kind[:-1]} {name}",
                      f"export {letter}ID{_suffix(i)}={r['id']} {letter}{_suffix(i)}={r['token']}"]
    return "\n".join(lines) + "\n"
