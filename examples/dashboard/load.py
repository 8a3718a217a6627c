"""The document's "load testing with 100+ concurrent clients": N dashboards on the Python client
(clients/python), each its own connection to /ws/dashboard?client_id=load-<i>, logged in as one
user of the backend (its session cookie on the upgrade, as a browser sends it), subscribed to one
circle. Prints one JSON line when all are subscribed ({"ready": N}), then, once every client has
--events distinct events (or after --timeout seconds), one line with how many clients got each
event id and how many deliveries it had in all (more than the clients: someone got it twice).

    PYTHONPATH=clients/python python3 examples/dashboard/load.py --clients 120 --circle lab \\
        --events 1 --backend http://127.0.0.1:3000 --ws ws://127.0.0.1:8080/ws/dashboard
"""
import argparse
import asyncio
import json
import sys
import urllib.request
from collections import Counter
from typing import List

from switchboard_client import Client, Message


def login(backend: str, user: str) -> str:
    req = urllib.request.Request(f"{backend}/api/login", method="POST", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"user": user, "password": user}).encode())
    with urllib.request.urlopen(req, timeout=5) as res:
        return res.headers["Set-Cookie"].split(";")[0]


async def main(args: argparse.Namespace) -> None:
    cookie = login(args.backend, args.user)
    got: List[Counter] = [Counter() for _ in range(args.clients)]
    done = asyncio.Event()

    def on_message(i: int):
        def handle(m: Message) -> None:
            got[i][m.data["event_id"]] += 1
            if all(len(c) >= args.events for c in got):
                done.set()
        return handle

    clients = [Client(f"{args.ws}?client_id=load-{i}", headers={"Cookie": cookie}) for i in range(args.clients)]
    await asyncio.gather(*(c.connect() for c in clients))
    await asyncio.gather(*(c.subscribe(f"circle:{args.circle}", on_message=on_message(i)) for i, c in enumerate(clients)))
    print(json.dumps({"ready": len(clients), "connected": sum(c.is_connected for c in clients)}), flush=True)
    try:
        await asyncio.wait_for(done.wait(), args.timeout)
    except asyncio.TimeoutError:
        pass
    ids = sorted(set().union(*got))
    per_event = {e: sum(1 for c in got if c[e] > 0) for e in ids}
    total = {e: sum(c[e] for c in got) for e in ids}
    print(json.dumps({"clients_with": per_event, "deliveries": total}), flush=True)
    await asyncio.gather(*(c.close() for c in clients))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=120)
    p.add_argument("--user", default="carol")
    p.add_argument("--circle", default="lab")
    p.add_argument("--events", type=int, default=1)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--backend", default="http://127.0.0.1:3000")
    p.add_argument("--ws", default="ws://127.0.0.1:8080/ws/dashboard")
    asyncio.run(main(p.parse_args()))
    sys.exit(0)
