"""Demo data for `serve --demo-data`: stores, customers and riders around Gangnam station,
registered through the API itself, with their tokens printed for curl. Stores and riders are
approved through the admin API as an operator would (the service knows its admin token)."""

from __future__ import annotations

import aiohttp

STORES = [
    ("Gangnam Fried Chicken", (37.4990, 127.0300), [("Fried chicken", 18000), ("Yangnyeom chicken", 19000), ("Cola", 2000)]),
    ("Yeoksam Tteokbokki", (37.5005, 127.0365), [("Tteokbokki", 5000), ("Sundae", 4500), ("Twigim set", 6000)]),
    ("Seocho Bibimbap", (37.4935, 127.0250), [("Bibimbap", 9000), ("Kimchi jjigae", 8500)]),
]
CUSTOMERS = [("Kim Minji", "010-1000-0001", (37.4979, 127.0276)),
             ("Park Jisoo", "010-1000-0002", (37.5020, 127.0290))]
RIDERS = [("Lee Junho", "010-2000-0001", (37.4985, 127.0285)),
          ("Choi Yuna", "010-2000-0002", (37.5010, 127.0330))]


async def seed(base_url: str, admin_token: str) -> None:
    async with aiohttp.ClientSession(base_url) as http:
        async def approve(kind: str, registered: dict) -> None:
            if registered["status"] != "approved":
                async with http.post(f"/admin/api/{kind}/{registered['id']}/approve", headers={
                        "Authorization": f"Bearer {admin_token}"}) as r:
                    r.raise_for_status()

        print("demo data:")
        for name, (lat, lon), menu in STORES:
            r = await (await http.post("/stores", json={
                "name": name, "owner_phone": "010-3000-0000", "location": {"lat": lat, "lon": lon},
                "menu": [{"name": n, "price": p} for n, p in menu]})).json()
            await approve("stores", r)
            print(f"  store    {r['id']}  token {r['token']}  {name}: "
                  + ", ".join(f"{m['id']}={m['name']}" for m in r["menu"]))
        for path, people in (("/customers", CUSTOMERS), ("/riders", RIDERS)):
            for name, phone, (lat, lon) in people:
                r = await (await http.post(path, json={"name": name, "phone": phone,
                                                       "location": {"lat": lat, "lon": lon}})).json()
                if path == "/riders":
                    await approve("riders", r)
                print(f"  {path[1:-1]:<8} {r['id']}  token {r['token']}  {name}")
