"""The agent dashboard's backend: FastAPI under uvicorn (Debian's python3-fastapi and
python3-uvicorn), standing in for the document's GatheRing API. It keeps what the app keeps (its
users and their sessions, the circles and projects, who may see which circle, the event bus) and
answers Switchboard's proxies, which carry the browser's own session cookie: connect (who is
this?) and subscribe (may this user see this circle?). Each event of its bus is published once
per circle it belongs to, tagged, over Switchboard's HTTP API; Switchboard does the WebSocket
part: the dashboards' connections, the filters, ping/pong, reconnection and recovery.

Environment: PORT (3000), SWITCHBOARD_URL (http://127.0.0.1:8080), SWITCHBOARD_WS_PORT (the port
the browser connects to, default SWITCHBOARD_URL's), SWITCHBOARD_API_KEY, DASHBOARD_SIMULATE
(seconds between simulated events; 0, the default, for none), DASHBOARD_MAX_OUTBOX (1000).
"""
import asyncio
import datetime
import json
import os
import random
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, deque
from pathlib import Path
from typing import Any, Dict, List, Optional

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse

PORT = int(os.environ.get("PORT", "3000"))
SB = os.environ.get("SWITCHBOARD_URL", "http://127.0.0.1:8080")
SB_WS_PORT = os.environ.get("SWITCHBOARD_WS_PORT") or str(urllib.parse.urlsplit(SB).port or 80)
KEY = os.environ.get("SWITCHBOARD_API_KEY", "")
SIMULATE = float(os.environ.get("DASHBOARD_SIMULATE", "0"))
MAX_OUTBOX = int(os.environ.get("DASHBOARD_MAX_OUTBOX", "1000"))
DIST = Path(__file__).resolve().parent.parent / "dist"

# ---- the app: users, circles, the permission table ---------------------------------------------

USERS = {
    "alice": {"name": "Alice", "password": "alice"},
    "bob": {"name": "Bob", "password": "bob"},
    "carol": {"name": "Carol", "password": "carol"},
}
# Projects belong to circles; "bridge" is shared by two, so its events belong to both.
CIRCLES = {
    "north": {"title": "North", "projects": ["apollo", "bridge"]},
    "south": {"title": "South", "projects": ["bridge", "zephyr"]},
    "lab": {"title": "Lab", "projects": ["atlas"]},
}
# Who may see which circle: the only permission table, and the subscribe proxy reads it.
MEMBERS = {
    "alice": {"north", "south"},
    "bob": {"south", "lab"},
    "carol": {"north", "south", "lab"},
}
KINDS = ["agent.started", "agent.stopped", "task.created", "task.completed", "project.updated"]

sessions: Dict[str, str] = {}  # session cookie -> user id


def session_user(request: Request) -> Optional[str]:
    return sessions.get(request.cookies.get("dash_session", ""))


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "retryable": False}}, status_code=status)


app = FastAPI(title="Agent dashboard")

# ---- real-time part: Switchboard's proxies ------------------------------------------------------


@app.post("/sb/connect")
async def sb_connect(request: Request) -> Dict[str, Any]:
    # The browser's cookie came with the WebSocket upgrade: no token, no auth message.
    user = session_user(request)
    if user is None:
        return {"disconnect": {"code": 4401, "reason": "not logged in"}}
    return {"result": {"user": user, "info": {"name": USERS[user]["name"]}}}


@app.post("/sb/subscribe")
async def sb_subscribe(request: Request) -> Dict[str, Any]:
    # One channel per circle: this table, not the page's choice of filter, decides what a user sees.
    body = await request.json()  # {"client", "user", "channel"}
    circle_id = body["channel"].removeprefix("circle:")
    circle = CIRCLES.get(circle_id)
    if circle is None:
        return {"error": {"code": "NO_SUCH_CIRCLE", "message": f"no circle {circle_id}"}}
    if circle_id not in MEMBERS.get(body["user"], set()):
        return {"error": {"code": "NOT_IN_CIRCLE", "message": f"you are not in circle {circle['title']}"}}
    return {"result": {"info": {"title": circle["title"]}}}


# The event bus: each event goes out once per circle it belongs to (channel circle:<id>), tagged
# with its kind, its project and one `circle.<id>` tag per circle, so that a dashboard watching
# several circles can take it from the first only (web/main.ts). Published in order over the
# HTTP API and retried while Switchboard is away, so none is lost across its restarts.
outbox: deque = deque()
wakeup = asyncio.Event()
stats = {"events": 0, "by_kind": Counter()}


def emit(kind: str, circles: List[str], project: Optional[str], data: Dict[str, Any]) -> Dict[str, Any]:
    stats["events"] += 1
    stats["by_kind"][kind] += 1
    event = {"type": kind, "data": data, "circles": circles, "project": project,
             "event_id": f"evt_{stats['events']}",
             "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    tags = {"kind": kind, **({"project": project} if project else {}), **{f"circle.{c}": "1" for c in circles}}
    for circle in circles:
        outbox.append({"channel": f"circle:{circle}", "data": event, "tags": tags})
    wakeup.set()
    return event


def sb_call(method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
    """Switchboard's HTTP API with the backend's key (blocking: run in a thread)."""
    req = urllib.request.Request(SB + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(req, timeout=5) as res:
        return json.loads(res.read())


async def flush_outbox() -> None:
    while True:
        await wakeup.wait()
        wakeup.clear()
        while outbox:
            try:
                await asyncio.to_thread(sb_call, "POST", "/api/publish", outbox[0])
                outbox.popleft()
            except urllib.error.HTTPError as e:
                try:
                    body = json.loads(e.read() or b"{}")
                except ValueError:
                    body = {}
                if body.get("error", {}).get("retryable") is False:
                    print("dropped an event:", body["error"], outbox.popleft(), flush=True)
                else:
                    await asyncio.sleep(0.25)
            except (OSError, ValueError):  # not reachable (a restart): try again
                await asyncio.sleep(0.25)


@app.get("/admin/websocket/stats")
async def websocket_stats() -> Dict[str, Any]:
    """The document's stats endpoint, from Switchboard's own figures (GET /api/stats)."""
    try:
        sb = await asyncio.to_thread(sb_call, "GET", "/api/stats")
    except (OSError, ValueError):
        sb = None
    return {"active_connections": sb and sb["connections"], "total_connections": sb and sb["connections_total"],
            "total_messages_sent": sb and sb["messages_out"], "total_broadcasts": stats["events"],
            "events_by_type": dict(stats["by_kind"]), "pending": len(outbox), "switchboard": sb}


# ---- the app's HTTP API ---------------------------------------------------------------------------


@app.post("/api/events", status_code=202)
async def post_event(request: Request) -> Any:
    """The event bus' publish (the document's `event_bus.publish(Event(...))`)."""
    body = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("data", {}), dict):
        return error(400, "BAD_EVENT", "an event is an object whose data is an object")
    kind, circles, project = body.get("type"), body.get("circles"), body.get("project")
    if kind not in KINDS:
        return error(400, "BAD_EVENT", f"type is one of {KINDS}")
    if not isinstance(circles, list) or not circles or any(c not in CIRCLES for c in circles):
        return error(400, "BAD_EVENT", f"circles is a non-empty list of {sorted(CIRCLES)}")
    if project is not None and any(project not in CIRCLES[c]["projects"] for c in circles):
        return error(400, "BAD_EVENT", f"project {project} is not in every one of {circles}")
    if len(outbox) + len(circles) > MAX_OUTBOX:
        return error(503, "BUSY", "Switchboard is away and the outbox is full; try again")
    return emit(kind, list(dict.fromkeys(circles)), project, body.get("data") or {})


@app.get("/api/status")
async def status() -> Dict[str, int]:
    return {"pending": len(outbox), "events": stats["events"]}


@app.post("/api/login")
async def login(request: Request, response: Response) -> Any:
    body = await request.json()
    user = USERS.get(body.get("user", ""))
    if user is None or body.get("password") != user["password"]:
        return error(401, "BAD_LOGIN", "wrong user or password")
    sid = secrets.token_urlsafe(18)
    sessions[sid] = body["user"]
    response.set_cookie("dash_session", sid, httponly=True, samesite="lax")
    return {"user": body["user"], "name": user["name"]}


@app.post("/api/logout")
async def logout(request: Request, response: Response) -> Dict[str, Any]:
    sessions.pop(request.cookies.get("dash_session", ""), None)
    response.delete_cookie("dash_session")
    return {}


@app.get("/api/me")
async def me(request: Request) -> Any:
    user = session_user(request)
    if user is None:
        return error(401, "NOT_LOGGED_IN", "log in first")
    # Every circle is listed; `member` is a hint for the page, the subscribe proxy decides.
    circles = [{"id": c, "title": v["title"], "projects": v["projects"], "member": c in MEMBERS[user]}
               for c, v in CIRCLES.items()]
    return {"user": user, "name": USERS[user]["name"], "circles": circles}


@app.get("/api/config")
async def config(request: Request) -> Dict[str, str]:
    # The WebSocket URL on the page's own host name, so that the session cookie goes with it.
    host = request.headers.get("host", "127.0.0.1").rsplit(":", 1)[0]
    return {"ws": f"ws://{host}:{SB_WS_PORT}/ws/dashboard"}


@app.get("/{path:path}")
async def page(path: str) -> Any:
    file = (DIST / (path or "index.html")).resolve()
    if DIST not in file.parents or not file.is_file():
        return error(404, "NOT_FOUND", f"no such file: /{path} (build the page: ./run.sh build)")
    return FileResponse(file, headers={"Cache-Control": "no-cache"})


async def simulate() -> None:
    """`run.sh`'s demo: a random event every SIMULATE seconds."""
    rng = random.Random()
    while True:
        await asyncio.sleep(SIMULATE)
        project = rng.choice(sorted({p for c in CIRCLES.values() for p in c["projects"]}))
        circles = [c for c, v in CIRCLES.items() if project in v["projects"]]
        kind = rng.choice(KINDS)
        agent = rng.choice(["Ada", "Babbage", "Curie", "Darwin"])
        emit(kind, circles, None if kind.startswith("agent.") else project,
             {"agent": agent, "title": f"{kind.split('.')[1]} by {agent}"})


@app.on_event("startup")
async def startup() -> None:
    app.state.tasks = [asyncio.create_task(flush_outbox())]
    if SIMULATE > 0:
        app.state.tasks.append(asyncio.create_task(simulate()))


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
