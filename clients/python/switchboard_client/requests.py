"""Requests and their replies: ids, timeouts, the requests waiting for a connection and the
bounded offline queue of publishes (internal).

Every request carries an integer ``id``; the server answers each with exactly one reply or
``error`` with that ``id`` (docs/protocol.md#the-id-rule), which settles it. Replies are
settled synchronously by the connection's reader, in frame order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Callable, Deque, Dict, Mapping, Optional, Tuple

from . import errors
from .errors import SwitchboardError
from .protocol import encode

OnReply = Callable[[Dict[str, Any]], None]
OnError = Callable[[SwitchboardError], None]


class Pending:
    """A request waiting to be sent, or for its reply."""

    __slots__ = ("body", "request", "channel", "on_reply", "on_error", "timer", "id")

    def __init__(self, frame: Mapping[str, Any], on_reply: OnReply, on_error: OnError) -> None:
        # Encoded once, now: data JSON cannot carry raises in the caller, before anything queues.
        self.body = encode({k: v for k, v in frame.items() if k != "id"})
        self.request = str(frame.get("type"))
        channel = frame.get("channel")
        self.channel = channel if isinstance(channel, str) else None
        self.on_reply = on_reply
        self.on_error = on_error
        self.timer: Optional[asyncio.TimerHandle] = None
        self.id: Optional[int] = None

    def fail(self, code: str, message: str) -> None:
        self.on_error(SwitchboardError.client(code, message, request=self.request, channel=self.channel))

    def text(self) -> str:
        """The frame with its id, as sent (``body`` is a JSON object: the id goes first)."""
        return '{"id":%d%s%s' % (self.id, "," if self.body != "{}" else "", self.body[1:])


def settle_future(fut: "asyncio.Future[Any]") -> Tuple[OnReply, OnError]:
    def ok(value: Dict[str, Any]) -> None:
        if not fut.done():
            fut.set_result(value)

    def fail(err: SwitchboardError) -> None:
        if not fut.done():
            fut.set_exception(err)

    return ok, fail


class Requests:
    """The client's requests. ``attach(send)`` binds a usable connection's outbox; while none is
    bound, requests wait (bounded by their timeout) and publishes wait in the offline queue
    (bounded by ``offline_queue_size``)."""

    def __init__(self, request_timeout: float, offline_queue_size: int) -> None:
        self._timeout = request_timeout
        self._offline_size = offline_queue_size
        self._next_id = 1
        self._send: Optional[Callable[[str], None]] = None
        self._in_flight: Dict[int, Pending] = {}
        self._waiting: Deque[Pending] = deque()
        self._offline: Deque[Pending] = deque()

    @property
    def offline_size(self) -> int:
        return len(self._offline)

    def attach(self, send: Optional[Callable[[str], None]]) -> None:
        """Binds (or with ``None`` unbinds) the outbox of the current connection, which may not be
        usable yet (the handshake sends through it)."""
        self._send = send

    def send_now(self, frame: Mapping[str, Any], on_reply: OnReply, on_error: OnError,
                 timeout: Optional[float] = None) -> None:
        """Sends on the bound connection, without queueing; ``DISCONNECTED`` if none is bound."""
        p = Pending(frame, on_reply, on_error)
        if self._send is None:
            p.fail(errors.DISCONNECTED, "not connected")
            return
        self._arm(p, timeout)
        self._transmit(p)

    async def call(self, frame: Mapping[str, Any], *, usable: bool, offline: bool = False) -> Dict[str, Any]:
        """Sends ``frame`` (now when ``usable``, else once a connection is) and returns its reply.
        ``offline``: a publish, kept in the bounded offline queue, its timeout started when sent."""
        fut: asyncio.Future[Dict[str, Any]] = asyncio.get_running_loop().create_future()
        p = Pending(frame, *settle_future(fut))
        if usable and self._send is not None:
            self._arm(p)
            self._transmit(p)
        elif offline:
            if len(self._offline) >= self._offline_size:
                raise SwitchboardError.client(
                    errors.OFFLINE_QUEUE_FULL,
                    f"offline queue full ({self._offline_size} publishes waiting): not queued",
                    request=p.request, channel=p.channel)
            self._offline.append(p)
        else:
            self._arm(p)
            self._waiting.append(p)
        try:
            return await fut
        except asyncio.CancelledError:
            self._forget(p)
            raise

    def settle(self, frame: Dict[str, Any]) -> None:
        """A frame with an ``id``: the reply of a request (a late one, after its timeout, is dropped)."""
        fid = frame.get("id")
        p = self._in_flight.pop(fid, None) if isinstance(fid, int) else None
        if p is None:
            return
        self._cancel(p)
        if frame.get("type") == "error":
            p.on_error(SwitchboardError.from_frame(frame, request=p.request, channel=p.channel))
        else:
            p.on_reply(frame)

    def flush(self) -> None:
        """The connection became usable: send what waited, requests first, then publishes in call
        order."""
        while self._waiting:
            self._transmit(self._waiting.popleft())
        while self._offline:
            p = self._offline.popleft()
            self._arm(p)
            self._transmit(p)

    def fail_in_flight(self) -> None:
        """The connection was lost: requests sent on it will get no reply."""
        in_flight = list(self._in_flight.values())
        self._in_flight.clear()
        for p in in_flight:
            self._cancel(p)
            p.fail(errors.DISCONNECTED, "the connection was lost before the reply" + (
                ": the message may or may not have been published" if p.request == "publish" else ""))

    def fail_queued(self, message: str) -> None:
        """The client closed: what waits for a connection fails with ``CLOSED``."""
        while self._waiting or self._offline:
            p = (self._waiting or self._offline).popleft()
            self._cancel(p)
            p.fail(errors.CLOSED, message)

    def _transmit(self, p: Pending) -> None:
        assert self._send is not None
        p.id = self._next_id
        self._next_id += 1
        self._in_flight[p.id] = p
        self._send(p.text())

    def _arm(self, p: Pending, timeout: Optional[float] = None) -> None:
        seconds = self._timeout if timeout is None else timeout

        def expire() -> None:
            p.timer = None
            self._forget(p)
            p.fail(errors.TIMEOUT, f"no reply to '{p.request}' within {seconds:g} s")

        self._cancel(p)
        p.timer = asyncio.get_running_loop().call_later(seconds, expire)

    @staticmethod
    def _cancel(p: Pending) -> None:
        if p.timer is not None:
            p.timer.cancel()
            p.timer = None

    def _forget(self, p: Pending) -> None:
        self._cancel(p)
        if p.id is not None:
            self._in_flight.pop(p.id, None)
        for queue in (self._waiting, self._offline):
            try:
                queue.remove(p)
            except ValueError:
                pass
