"""The app's backend in the loop, end to end (issue #14, docs/backend.md): the real server, the
FastAPI backend of app.py in its own uvicorn process over https (a certificate made here, trusted
through [proxy] ca_file and [webhooks] ca_file), and clients: the Python client where an app would
use it, raw WebSockets where a test needs the exact frames.

The backend decides who connects (its session cookie, no token: anonymous access is off), who
may subscribe (its permission table), what a publish becomes (stored in its own list, cleaned,
numbered), answers rpc, and receives signed webhooks that it checks before believing them.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import ssl
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))
sys.path.insert(0, str(ROOT / "clients" / "python" / "tests"))

import websockets  # noqa: E402
from conftest import Server, run_async, wait_until  # noqa: E402  (the Python client's harness)

from switchboard_client import Client, Message, SwitchboardError  # noqa: E402

WEBHOOK_SECRET = "backend-test-webhook-secret-0123456789"


class Backend:
    """app.py under uvicorn, as its own process, over https on a free loopback port."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sb-backend-"))
        self.cert, self.key = self.dir / "cert.pem", self.dir / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(self.key), "-out", str(self.cert)],
            check=True, capture_output=True)
        # The socket is bound here and handed over (--fd): the port is known before uvicorn starts.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        env = dict(os.environ, WEBHOOK_SECRET=WEBHOOK_SECRET)
        self.log = open(self.dir / "backend.log", "wb")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "uvicorn", "app:app", "--fd", str(self.sock.fileno()), "--log-level", "warning",
             "--ssl-keyfile", str(self.key), "--ssl-certfile", str(self.cert)],
            cwd=HERE, env=env, pass_fds=[self.sock.fileno()], stdout=self.log, stderr=subprocess.STDOUT)
        self.tls = ssl.create_default_context(cafile=str(self.cert))
        deadline = time.monotonic() + 20
        while True:
            try:
                self.state()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the backend did not start:\n" + (self.dir / "backend.log").read_text())
                time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def state(self) -> Dict[str, Any]:
        with urllib.request.urlopen(self.url("/test/state"), timeout=5, context=self.tls) as res:
            return json.loads(res.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.sock.close()
        self.log.close()


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    b = Backend()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def server(backend: Backend) -> Iterator[Server]:
    config = f"""
threads = 2
[auth]
anonymous = "never"          # no token and no backend session: nobody gets in

[proxy]
connect_url = "{backend.url('/sb/connect')}"
rpc_url = "{backend.url('/sb/rpc')}"
subscribe_url = "{backend.url('/sb/subscribe')}"
publish_url = "{backend.url('/sb/publish')}"
headers = ["Cookie"]
ca_file = "{backend.cert}"

[webhooks]
url = "{backend.url('/hooks')}"
secret = "{WEBHOOK_SECRET}"
ca_file = "{backend.cert}"
batch_interval_ms = 20

[namespaces.chat]
subscribe_proxy = true
publish_proxy = true
presence = true
join_leave = true
history_size = 100
"""
    s = Server(config)
    s.start()
    yield s
    s.stop()


def cookie(session: str) -> Dict[str, str]:
    return {"Cookie": f"theme=dark; session={session}"}


async def frames_until(ws: Any, wanted: str, limit: int = 20) -> List[Dict[str, Any]]:
    """The frames received up to and including the first of type `wanted`."""
    seen: List[Dict[str, Any]] = []
    for _ in range(limit):
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        seen.append(frame)
        if frame.get("type") == wanted:
            return seen
    raise AssertionError(f"no {wanted} frame in {seen}")


@run_async()
async def test_a_session_cookie_is_the_whole_login(server: Server) -> None:
    async with websockets.connect(server.ws_url, extra_headers=cookie("s-alice")) as ws:
        frames = await frames_until(ws, "subscribed")
        connected, subscribed = frames[0], frames[-1]
        assert connected["type"] == "connected" and connected["user"] == "alice"
        # The connect answer's channels: subscribed at once, without the client asking.
        assert subscribed["channel"] == "chat:general" and "id" not in subscribed


@run_async()
async def test_without_a_session_the_backend_closes_the_connection_with_its_code(server: Server) -> None:
    for headers in ({}, cookie("s-nobody")):
        async with websockets.connect(server.ws_url, extra_headers=headers) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await frames_until(ws, "connected")
            assert closed.value.code == 4403 and closed.value.reason == "no session"


@run_async()
async def test_the_permission_table_decides_each_subscribe(server: Server) -> None:
    async with Client(server.ws_url, headers=cookie("s-alice")) as alice, \
            Client(server.ws_url, headers=cookie("s-bob")) as bob:
        await alice.subscribe("chat:staff")
        with pytest.raises(SwitchboardError) as refused:
            await bob.subscribe("chat:staff")
        assert refused.value.code == "NOT_A_MEMBER"
        assert refused.value.message == "bob is not in chat:staff"


@run_async()
async def test_a_publish_is_stored_and_cleaned_by_the_backend_then_broadcast_as_it_answered(
        server: Server, backend: Backend) -> None:
    async with Client(server.ws_url, headers=cookie("s-alice")) as alice, \
            Client(server.ws_url, headers=cookie("s-bob")) as bob:
        received: List[Message] = []
        await bob.subscribe("chat:general", on_message=received.append)
        sent = await alice.publish("chat:general", {"text": "darn it, the build is red"})
        await wait_until(lambda: len(received) == 1, what="bob's message")
        message = received[0]
        stored = [m for m in backend.state()["messages"] if m["text"] == "**** it, the build is red"]
        assert len(stored) == 1 and stored[0]["user"] == "alice"
        assert message.data == {"id": stored[0]["id"], "text": "**** it, the build is red", "by": "alice"}
        assert message.offset == sent.offset
        assert message.sender is not None and message.sender.user == "alice"
        assert message.sender.info == {"name": "Alice"}
        # The backend said no: nothing is broadcast, the client gets the backend's code.
        with pytest.raises(SwitchboardError) as refused:
            await alice.publish("chat:general", {"text": "   "})
        assert refused.value.code == "EMPTY_MESSAGE"
        history = await bob.history("chat:general")
        assert [m.data["text"] for m in history.messages][-1] == "**** it, the build is red"


@run_async()
async def test_rpc_is_answered_by_the_backend(server: Server) -> None:
    async with Client(server.ws_url, headers=cookie("s-bob")) as bob:
        assert await bob.rpc("whoami") == {"user": "bob"}
        await bob.publish("chat:general", {"text": "one"})
        count = await bob.rpc("count", {"channel": "chat:general"})
        assert isinstance(count["count"], int) and count["count"] >= 1
        with pytest.raises(SwitchboardError) as refused:
            await bob.rpc("drop_tables")
        assert refused.value.code == "UNKNOWN_METHOD"


@run_async()
async def test_webhooks_arrive_signed_and_tell_what_happened(server: Server, backend: Backend) -> None:
    async with Client(server.ws_url, headers=cookie("s-alice")) as alice:
        sub = await alice.subscribe("chat:staff", presence=True)
        client_id = alice.client_id
        await sub.unsubscribe()
    events: List[Dict[str, Any]] = []

    def closed_seen() -> bool:
        events[:] = backend.state()["webhooks"]
        return any(e["type"] == "connection_closed" and e["client"] == client_id for e in events)

    await wait_until(closed_seen, timeout=10, what="the connection_closed webhook")
    staff = [(e["type"], e.get("member", {}).get("user")) for e in events if e.get("channel") == "chat:staff"]
    assert ("channel_occupied", None) in staff and ("presence_join", "alice") in staff
    assert ("presence_leave", "alice") in staff and ("channel_vacated", None) in staff
    assert staff.index(("channel_occupied", None)) < staff.index(("channel_vacated", None))
    assert len({e["id"] for e in events}) == len(events)
    # Every request checked out: a wrong signature would have been counted, not believed.
    assert backend.state()["rejected_webhooks"] == 0
