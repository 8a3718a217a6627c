"""The connection's life: one WebSocket to ``/ws``, reconnected with backoff (internal).

One task (the runner) owns it: open, greeting, ``connect``, re-subscribe, flush what waited,
read until the connection ends, back off, again. Per connection a reader task parses frames
and settles replies by ``id``, and a writer task sends the outbox in order. The server handles
one connection's frames in order, so the re-subscriptions (with ``since``) go out before the
queued publishes, and recovered messages arrive before anything newer. Everything runs on the
event loop that started it; nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any, Awaitable, Callable, Deque, Dict, List, Mapping, Optional, Set, Tuple, Union

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

from . import errors
from .errors import SwitchboardError
from .protocol import FINAL_CLOSE_CODES, CloseCode
from .requests import Requests, settle_future

log = logging.getLogger("switchboard_client")

TokenGetter = Callable[[], Union[str, Awaitable[str]]]


class ConnectionState(str, Enum):
    DISCONNECTED = "disconnected"
    """Not connected: before :meth:`Client.connect`, or lost with a reconnection scheduled."""
    CONNECTING = "connecting"
    """Opening the WebSocket, waiting for the greeting and the ``connect`` reply."""
    CONNECTED = "connected"
    """Usable: subscriptions were sent again and the offline queue flushed."""
    CLOSED = "closed"
    """Final: :meth:`Client.close`, close code 4000, 4003 or 4008, ``AUTH_FAILED``, or
    ``max_attempts`` reached."""


@dataclass(frozen=True)
class StateChange:
    """Given to state listeners at every state change."""

    state: ConnectionState
    previous: ConnectionState
    code: Optional[int] = None
    """The close code of the connection that ended (1006: dropped without a close frame)."""
    reason: str = ""
    retry_in: Optional[float] = None
    """Seconds before the next attempt, when one is scheduled."""
    error: Optional[SwitchboardError] = None
    """Why the client closed for good, when the server or the credentials decided it."""


@dataclass(frozen=True)
class Reconnect:
    """Backoff between connection attempts: attempt *n* (from 0) waits a uniformly random time
    in ``[0, min(max_delay, min_delay * factor**n)]`` seconds ("full jitter", so that thousands
    of clients do not come back in step after a restart). The count goes back to 0 once a
    connection stayed up ``reset_after`` seconds; after ``max_attempts`` failures in a row the
    client closes (``None``: never)."""

    min_delay: float = 0.5
    max_delay: float = 30.0
    factor: float = 2.0
    reset_after: float = 5.0
    max_attempts: Optional[int] = None

    def cap(self, attempt: int) -> float:
        return min(self.max_delay, self.min_delay * self.factor ** min(attempt, 64))

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, self.cap(attempt))


@dataclass
class Hooks:
    """What the connection tells its owner (the client), synchronously, on the event loop."""

    on_ready: Callable[[], None]
    """The connection is usable, before what waited is flushed: re-subscribe now."""
    on_lost: Callable[[], None]
    """The connection ended (requests in flight already failed)."""
    on_closed: Callable[[Optional[SwitchboardError]], None]
    """The client closed for good; the error when the server or the credentials decided it."""
    on_frame: Callable[[Dict[str, Any]], None]
    """A frame that is neither a reply nor about the connection: a channel's."""


@dataclass
class Options:
    token: Optional[str]
    get_token: Optional[TokenGetter]
    user: Optional[str]
    info: Optional[Dict[str, Any]]
    reconnect: Optional[Reconnect]
    request_timeout: float
    connect_timeout: float
    offline_queue_size: int
    ping_interval: Optional[float]
    ping_timeout: Optional[float]
    max_frame_size: int
    headers: Mapping[str, str]


class Connection:
    """See the module docstring. ``requests`` is bound to the connection while one is open."""

    def __init__(self, url: str, options: Options, hooks: Hooks,
                 on_error: Optional[Callable[[SwitchboardError], Any]]) -> None:
        self.url = url
        self._o = options
        self._hooks = hooks
        self._on_error = on_error
        self._token = options.token
        self._rng = random.Random()
        self.requests = Requests(options.request_timeout, options.offline_queue_size)
        self.state = ConnectionState.DISCONNECTED
        self.client_id: Optional[str] = None
        self.user: Optional[str] = options.user
        self.ping_interval = 25
        self.listeners: List[Callable[[StateChange], Any]] = []
        self._runner: Optional[asyncio.Task[None]] = None
        self._closing = False
        self._final: Optional[Tuple[int, str, SwitchboardError]] = None
        self._ws: Optional[Any] = None
        self._usable = False
        self._greeting: Optional[asyncio.Future[Dict[str, Any]]] = None
        self._local_close: Optional[Tuple[int, str]] = None
        self._waiters: List[asyncio.Future[None]] = []
        self._tasks: Set["asyncio.Future[Any]"] = set()  # background work, referenced until done

    @property
    def usable(self) -> bool:
        return self.state is ConnectionState.CONNECTED and self._usable

    def retry_delay(self, attempt: int) -> float:
        return (self._o.reconnect or Reconnect()).delay(attempt, self._rng)

    def report(self, err: SwitchboardError) -> None:
        if self._on_error is not None:
            self.call_quietly(self._on_error, err)
        else:
            log.warning("%s", err)

    def spawn(self, awaitable: Awaitable[Any]) -> None:
        """Runs ``awaitable`` in the background, keeping a reference until it is done."""
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def call_quietly(self, fn: Callable[[Any], Any], arg: Any) -> None:
        """Calls an application callback (an ``async`` one runs in the background); its errors
        are logged, never raised into the connection."""
        try:
            result = fn(arg)
            if inspect.isawaitable(result):
                self.spawn(result)
        except Exception:
            log.exception("callback %r raised", fn)

    def _set_state(self, state: ConnectionState, code: Optional[int] = None, reason: str = "",
                   retry_in: Optional[float] = None, error: Optional[SwitchboardError] = None) -> None:
        if state is self.state:
            return
        change = StateChange(state, self.state, code, reason, retry_in, error)
        self.state = state
        for listener in list(self.listeners):
            self.call_quietly(listener, change)

    # ---- starting, waiting, closing ------------------------------------------------------------

    def start(self) -> None:
        if self._runner is None or self._runner.done():
            self._closing = False
            self._final = None
            self._runner = asyncio.get_running_loop().create_task(self._run())

    def closed_error(self) -> SwitchboardError:
        if self._final is not None:
            return self._final[2]
        return SwitchboardError.client(errors.CLOSED, "the client is closed")

    async def wait_usable(self) -> None:
        if self.usable:
            return
        if self.state is ConnectionState.CLOSED:
            raise self.closed_error()
        if self._runner is None:  # never started, or lost with reconnection off
            raise SwitchboardError.client(errors.DISCONNECTED, "not connected, and not connecting: call connect()")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    def _wake_waiters(self, error: Optional[BaseException]) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_exception(error) if error else fut.set_result(None)
        self._waiters.clear()

    async def close(self) -> None:
        if self.state is ConnectionState.CLOSED and self._runner is None:
            return
        self._closing = True
        ws = self._ws
        if ws is not None:
            self._local_close = (CloseCode.NORMAL, "client closed")
            await close_quietly(ws, CloseCode.NORMAL, "client closed")
        runner = self._runner
        if runner is not None and runner is not asyncio.current_task():
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        self._finish(CloseCode.NORMAL, "client closed", None)

    def _finish(self, code: int, reason: str, error: Optional[SwitchboardError]) -> None:
        """Closed for good; ``error`` when the server or the credentials ended it."""
        self._closing = True
        self._runner = None
        self._lost()
        closed = SwitchboardError.client(errors.CLOSED, f"the client is closed: {reason}")
        self.requests.fail_queued(closed.message)
        self._hooks.on_closed(error)
        if error is not None:
            self._final = (code, reason, error)
        self._set_state(ConnectionState.CLOSED, code, reason, error=error)
        self._wake_waiters(error or closed)

    # ---- the loop --------------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            self._set_state(ConnectionState.CONNECTING)
            code, reason, up_since = await self._connect_once()
            self._lost()
            if self._final is not None:
                return self._finish(*self._final)
            if self._closing:
                return
            policy = self._o.reconnect
            if up_since is not None and policy is not None and time.monotonic() - up_since >= policy.reset_after:
                attempt = 0
            if policy is None:
                self._set_state(ConnectionState.DISCONNECTED, code, reason)
                self._runner = None
                self._wake_waiters(SwitchboardError.client(errors.DISCONNECTED, f"connection lost ({code} {reason})"))
                return
            if policy.max_attempts is not None and attempt >= policy.max_attempts:
                err = SwitchboardError.client(errors.CLOSED, f"gave up after {attempt} attempts ({code} {reason})")
                return self._finish(code, err.message, err)
            delay = policy.delay(attempt, self._rng)
            attempt += 1
            self._set_state(ConnectionState.DISCONNECTED, code, reason, retry_in=delay)
            await asyncio.sleep(delay)

    async def _connect_once(self) -> Tuple[int, str, Optional[float]]:
        """One connection, from opening to its end: (close code, reason, when it became usable)."""
        token = self._token
        if self._o.get_token is not None:
            try:
                token = self._token = await maybe_await(self._o.get_token())
            except Exception as exc:
                self.report(SwitchboardError("AUTH_FAILED", f"get_token failed: {exc}", True))
                return CloseCode.ABNORMAL, f"get_token failed: {exc}", None
        try:
            ws = await websockets.connect(
                self.url, open_timeout=self._o.connect_timeout, ping_interval=self._o.ping_interval,
                ping_timeout=self._o.ping_timeout, max_size=self._o.max_frame_size, close_timeout=2,
                extra_headers=dict(self._o.headers) or None)
        except InvalidStatusCode as exc:
            status = exc.status_code
            if status in (401, 403, 404):  # credentials, origin or URL: retrying cannot help
                code = {401: "AUTH_FAILED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}[status]
                self._final = (CloseCode.ABNORMAL, f"upgrade refused with HTTP {status}",
                               SwitchboardError(code, f"the WebSocket upgrade was refused with HTTP {status}"))
            return CloseCode.ABNORMAL, f"upgrade refused with HTTP {status}", None
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
            return CloseCode.ABNORMAL, f"could not connect: {exc or type(exc).__name__}", None

        loop = asyncio.get_running_loop()
        outbox: Deque[str] = deque()
        wake = asyncio.Event()

        def send(text: str) -> None:
            outbox.append(text)
            wake.set()

        self._ws = ws
        self._local_close = None
        self._greeting = loop.create_future()
        self.requests.attach(send)
        reader = loop.create_task(self._read_loop(ws))
        writer = loop.create_task(write_loop(ws, outbox, wake))
        up_since: Optional[float] = None
        try:
            handshake = loop.create_task(self._handshake(token))
            done, _ = await asyncio.wait({handshake, reader}, timeout=self._o.connect_timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if handshake in done and handshake.exception() is None:
                up_since = time.monotonic()
                self._on_usable()
                await reader
            else:
                handshake.cancel()
                await asyncio.gather(handshake, return_exceptions=True)
                err = handshake.exception() if not handshake.cancelled() else None
                if isinstance(err, SwitchboardError) and err.code == "AUTH_FAILED":
                    self._final = (CloseCode.AUTH_FAILED, err.message, err)
                    self._local_close = (CloseCode.AUTH_FAILED, err.message)
                elif not reader.done():
                    self._local_close = (CloseCode.ABNORMAL, f"connect failed: {err or 'timeout'}")
        finally:
            self.requests.attach(None)
            self._ws = None
            self._usable = False
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)
            await close_quietly(ws)
        if self._local_close is not None:
            return self._local_close[0], self._local_close[1], up_since
        code = ws.close_code if ws.close_code is not None else CloseCode.ABNORMAL
        if code in FINAL_CLOSE_CODES and self._final is None:
            err = SwitchboardError("AUTH_FAILED" if code == CloseCode.AUTH_FAILED else errors.CLOSED,
                                   f"closed by the server with {code} {ws.close_reason}".strip())
            self._final = (code, ws.close_reason or err.message, err)
        return code, ws.close_reason or "", up_since

    async def _handshake(self, token: Optional[str]) -> None:
        assert self._greeting is not None
        greeting = await self._greeting
        self.client_id = str(greeting.get("client", ""))
        if isinstance(greeting.get("ping_interval"), int) and greeting["ping_interval"] > 0:
            self.ping_interval = greeting["ping_interval"]
        self.user = greeting["user"] if isinstance(greeting.get("user"), str) else self._o.user
        if token is None and self._o.user is None and self._o.info is None:
            return
        frame: Dict[str, Any] = {"type": "connect"}
        if token is not None:
            frame["token"] = token
        if self._o.user is not None:
            frame["user"] = self._o.user
        if self._o.info is not None:
            frame["info"] = self._o.info
        reply = await self._request_now(frame)
        if isinstance(reply.get("user"), str):
            self.user = reply["user"]

    def _on_usable(self) -> None:
        """Re-subscribe, then flush what waited: the server handles them in this order."""
        self._usable = True
        self._hooks.on_ready()
        self.requests.flush()
        self._set_state(ConnectionState.CONNECTED)
        self._wake_waiters(None)

    def _lost(self) -> None:
        self._usable = False
        self.client_id = None
        self.requests.fail_in_flight()
        self._hooks.on_lost()

    def _drop(self, code: int, reason: str, final: Optional[SwitchboardError] = None) -> None:
        """Ends the current connection from this side (the runner then reconnects or stops)."""
        if final is not None and self._final is None:
            self._final = (code, reason, final)
        ws = self._ws
        if ws is not None:
            self._local_close = (code, reason)
            self.spawn(close_quietly(ws))

    # ---- frames ----------------------------------------------------------------------------------

    async def _read_loop(self, ws: Any) -> None:
        try:
            async for raw in ws:
                try:
                    self._on_raw(raw)
                except Exception:  # a bug here must not end the connection silently
                    log.exception("failed to handle a frame")
        except ConnectionClosed:
            pass

    def _on_raw(self, raw: Union[str, bytes]) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            self.report(SwitchboardError("INVALID_MESSAGE", "the server sent a frame that is not JSON"))
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            return
        kind = frame["type"]
        if frame.get("id") is not None:
            self.requests.settle(frame)
        elif kind == "connected":
            if self._greeting is not None and not self._greeting.done():
                self._greeting.set_result(frame)
        elif kind == "error":
            err = SwitchboardError.from_frame(frame)
            self.report(err)
            if err.code == "AUTH_FAILED":
                self._drop(CloseCode.AUTH_FAILED, err.message, final=err)
        elif kind == "refresh_required":
            self.spawn(self._refresh())
        else:
            self._hooks.on_frame(frame)

    async def _refresh(self) -> None:
        if self._o.get_token is None:
            self.report(SwitchboardError("AUTH_FAILED", "the server asked for a token refresh and no get_token is set"))
            return
        try:
            token = await maybe_await(self._o.get_token())
        except Exception as exc:
            # Not final: without a refresh the server closes with 4004 at expiry, and the
            # reconnection asks get_token again.
            self.report(SwitchboardError("AUTH_FAILED", f"get_token failed: {exc}", True))
            return
        self._token = token
        try:
            await self._request_now({"type": "refresh", "token": token})
        except SwitchboardError as err:
            if err.code == "AUTH_FAILED":
                self.report(err)
                self._drop(CloseCode.AUTH_FAILED, err.message, final=err)
            elif err.code not in (errors.DISCONNECTED, errors.CLOSED):
                self.report(err)

    async def _request_now(self, frame: Mapping[str, Any]) -> Dict[str, Any]:
        fut: asyncio.Future[Dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.requests.send_now(frame, *settle_future(fut))
        return await fut


async def write_loop(ws: Any, outbox: Deque[str], wake: asyncio.Event) -> None:
    """Sends the outbox in order: one writer per connection, so frames never interleave."""
    try:
        while True:
            await wake.wait()
            wake.clear()
            while outbox:
                await ws.send(outbox.popleft())
    except ConnectionClosed:
        pass


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def close_quietly(ws: Any, code: int = CloseCode.NORMAL, reason: str = "") -> None:
    try:
        await asyncio.wait_for(ws.close(code, reason), 2.0)
    except Exception:
        pass
