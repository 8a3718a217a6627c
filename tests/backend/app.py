"""The app's backend in the loop: a small FastAPI app that Switchboard calls (docs/backend.md).

It is what a chat app's backend would be, cut to what the tests need:
- sessions by cookie (``session=<id>``): the connect proxy turns one into a user, no token needed;
- a permission table: the subscribe proxy allows a room only to its members;
- messages stored in its own "database" (a list): the publish proxy stores each client message,
  gives it an id and cleans its text before the server broadcasts the replacement;
- RPC methods answered over the socket (``whoami``, ``count``);
- signed webhooks, checked with the shared secret before they are believed.

``GET /test/state`` lets the test see what the backend saw. Run by tests/backend/test_backend.py
as its own process: ``python3 -m uvicorn app:app --fd N``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import Any, Dict, List

from fastapi import FastAPI, Request, Response

WEBHOOK_SECRET = os.environ.get("WEBHOOK_SECRET", "")
REPLAY_WINDOW_SECONDS = 300

SESSIONS: Dict[str, Dict[str, str]] = {
    "s-alice": {"user": "alice", "name": "Alice"},
    "s-bob": {"user": "bob", "name": "Bob"},
}
ROOMS: Dict[str, set[str]] = {
    "chat:general": {"alice", "bob"},
    "chat:staff": {"alice"},
}
BANNED_WORDS = {"darn"}

messages: List[Dict[str, Any]] = []
webhook_events: List[Dict[str, Any]] = []
rejected_webhooks = 0
calls: Dict[str, int] = {}

app = FastAPI()


def count(hook: str) -> None:
    calls[hook] = calls.get(hook, 0) + 1


def session_of(request_headers: Any) -> Dict[str, str] | None:
    cookie = request_headers.get("cookie", "")
    for part in cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "session" and value in SESSIONS:
            return SESSIONS[value]
    return None


@app.post("/sb/connect")
async def connect(request: Request) -> Dict[str, Any]:
    count("connect")
    body = await request.json()
    session = session_of(request.headers)
    if session is None or not body.get("client"):
        return {"disconnect": {"code": 4403, "reason": "no session"}}
    # Every user is in chat:general: the connection is subscribed to it at once.
    return {"result": {"user": session["user"], "info": {"name": session["name"]}, "channels": ["chat:general"]}}


@app.post("/sb/subscribe")
async def subscribe(request: Request) -> Dict[str, Any]:
    count("subscribe")
    body = await request.json()
    members = ROOMS.get(body["channel"])
    if members is None or body.get("user") not in members:
        return {"error": {"code": "NOT_A_MEMBER", "message": f"{body.get('user')} is not in {body['channel']}"}}
    return {"result": {"info": {"members": len(members)}}}


@app.post("/sb/publish")
async def publish(request: Request) -> Dict[str, Any]:
    count("publish")
    body = await request.json()
    data = body.get("data")
    if not isinstance(data, dict) or not str(data.get("text", "")).strip():
        return {"error": {"code": "EMPTY_MESSAGE", "message": "a message needs text"}}
    text = " ".join("****" if word.lower() in BANNED_WORDS else word for word in str(data["text"]).split(" "))
    stored = {"id": len(messages) + 1, "user": body.get("user"), "channel": body["channel"], "text": text}
    messages.append(stored)
    return {"result": {"data": {"id": stored["id"], "text": text, "by": body.get("user")}}}


@app.post("/sb/rpc")
async def rpc(request: Request) -> Dict[str, Any]:
    count("rpc")
    body = await request.json()
    if body.get("method") == "whoami":
        return {"result": {"data": {"user": body.get("user")}}}
    if body.get("method") == "count":
        channel = (body.get("data") or {}).get("channel")
        return {"result": {"data": {"count": sum(1 for m in messages if m["channel"] == channel)}}}
    return {"error": {"code": "UNKNOWN_METHOD", "message": f"no method {body.get('method')!r}"}}


def signature_valid(timestamp: str, signature: str, body: bytes) -> bool:
    """The check docs/backend.md gives: HMAC-SHA256 over "<timestamp>.<body>", in constant time,
    within the replay window."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        return False
    expected = hmac.new(WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, signature)


@app.post("/hooks")
async def hooks(request: Request) -> Response:
    global rejected_webhooks
    body = await request.body()
    if not signature_valid(request.headers.get("x-switchboard-timestamp", ""),
                           request.headers.get("x-switchboard-signature", ""), body):
        rejected_webhooks += 1
        return Response(status_code=401)
    webhook_events.extend(json.loads(body)["events"])
    return Response(status_code=204)


@app.get("/test/state")
async def state() -> Dict[str, Any]:
    return {"messages": messages, "webhooks": webhook_events, "rejected_webhooks": rejected_webhooks,
            "calls": calls}
