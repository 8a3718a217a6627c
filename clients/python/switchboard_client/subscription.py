"""Channel subscriptions: the per-channel protocol state (position, recovery, presence, streams)
and the handles the application holds.

All of it runs on the client's event loop. The client's reader calls ``Channel`` methods
synchronously, in frame order, so a ``subscribed`` reply is applied before the recovered
messages that follow it on the wire. Application code never runs inside the reader: items go
to bounded buffers, drained by ``async for`` or by one dispatcher task per handle that calls the
callbacks (so a callback may await ``client.publish`` without stalling the connection).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Deque,
    Dict,
    List,
    Optional,
    Union,
)

from .errors import CLOSED, DISCONNECTED, SwitchboardError
from .protocol import (
    ChannelEvent,
    Event,
    HistoryPage,
    Item,
    Join,
    Leave,
    Member,
    Message,
    Position,
    PublishResult,
    Reset,
    StreamDelta,
    StreamEnd,
    StreamStart,
    StreamState,
    Typing,
    member_from,
    sender_from,
    tags_from,
)

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

log = logging.getLogger("switchboard_client")

SubscriptionToken = Union[str, Callable[[str], Union[str, Awaitable[str]]]]
"""A subscription token for channels of ``private`` namespaces: a string, or a function of the
channel called before each (re)subscribe (tokens expire; return a fresh one)."""

Callback = Callable[[Any], Union[None, Awaitable[None]]]

_DONE = object()


class _Buffer:
    """A bounded FIFO of items with one consumer. When full, the oldest item is dropped (and
    counted): a consumer that falls behind loses the oldest items, the connection never stalls
    and memory stays bounded."""

    def __init__(self, maxlen: int, name: str) -> None:
        self._items: Deque[Item] = deque()
        self._maxlen = max(1, maxlen)
        self._name = name
        self._waiter: Optional[asyncio.Future[None]] = None
        self._end: Any = None  # None: open; _DONE: ended; an exception: failed
        self.dropped = 0

    def put(self, item: Item) -> None:
        if self._end is not None:
            return
        if len(self._items) >= self._maxlen:
            self._items.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("subscription %s: buffer full (%d items), %d dropped so far: the consumer is too slow",
                            self._name, self._maxlen, self.dropped)
        self._items.append(item)
        self._wake()

    def end(self, error: Optional[BaseException] = None, discard: bool = False) -> None:
        if discard:
            self._items.clear()
        if self._end is None:
            self._end = error if error is not None else _DONE
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Item:
        """The next item; raises ``StopAsyncIteration`` at the end, or the error that ended it."""
        while not self._items:
            if self._end is _DONE:
                raise StopAsyncIteration
            if self._end is not None:
                raise self._end
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class Subscription:
    """One holder's view of a channel subscription, returned by :meth:`Client.subscribe`.

    Deliveries, in the order the server sent them: :class:`Message` (each offset once, in
    order, live or recovered), :class:`Reset`, and events (:class:`Join`, :class:`Leave`,
    :class:`Typing`, :class:`ChannelEvent`, :class:`StreamStart`, :class:`StreamDelta`,
    :class:`StreamEnd`). Receive them with callbacks, or iterate::

        async for message in sub:          # Message only
            ...
        async for item in sub.items():     # everything, resets included
            ...

    A handle made without callbacks buffers from its creation, so nothing recovered right
    after the subscription is missed before the loop starts; with callbacks, the callbacks get
    everything and an iteration sees what arrives after it starts. Iteration ends when the
    handle is unsubscribed or the client closed by ``close()``, and raises
    :class:`SwitchboardError` when the subscription failed or the client was closed for good by
    the server (close code 4000 or 4003, ``AUTH_FAILED``). Buffers hold at most ``max_buffer``
    items; beyond, the oldest are dropped and counted in :attr:`dropped`.
    """

    def __init__(
        self,
        channel: "Channel",
        *,
        on_message: Optional[Callback],
        on_reset: Optional[Callback],
        on_event: Optional[Callback],
        on_error: Optional[Callable[[SwitchboardError], Any]],
        max_buffer: int,
    ) -> None:
        self._channel = channel
        self._on_message = on_message
        self._on_reset = on_reset
        self._on_event = on_event
        self._on_error = on_error
        self._max_buffer = max_buffer
        self._active = True
        self._buffers: List[_Buffer] = []
        self._dispatcher: Optional[asyncio.Task[None]] = None
        # Buffer for `async for`, made now when there are no callbacks (see the class docstring).
        self._iter_buffer: Optional[_Buffer] = None
        if on_message or on_reset or on_event:
            callback_buffer = _Buffer(max_buffer, channel.name)
            self._buffers.append(callback_buffer)
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch(callback_buffer))
        else:
            self._iter_buffer = _Buffer(max_buffer, channel.name)
            self._buffers.append(self._iter_buffer)

    # ---- what the application reads ----------------------------------------------------------

    @property
    def channel(self) -> str:
        return self._channel.name

    @property
    def state(self) -> str:
        """``pending`` (waiting for ``subscribed``, first or after a reconnection),
        ``subscribed``, ``unsubscribed`` or ``failed``."""
        if self._active:
            return self._channel.state
        return "failed" if self._channel.state == "failed" else "unsubscribed"

    @property
    def position(self) -> Optional[Position]:
        """The position of the last message received (handed to the handles' buffers), or of the
        subscription point: reconnections recover from it. To resume later from what the
        application has processed, save ``Position(message.offset, message.epoch)`` of the last
        message it handled and pass it as ``subscribe(channel, since=...)``."""
        return self._channel.position

    @property
    def members(self) -> List[Member]:
        """The channel's members, when subscribed with ``presence=True``: loaded after each
        (re)subscription and kept up to date with join/leave (this connection included)."""
        return list(self._channel.members.values())

    @property
    def streams(self) -> Dict[str, StreamState]:
        """The channel's running streams, by id, with their text so far."""
        return dict(self._channel.streams)

    @property
    def dropped(self) -> int:
        """Items dropped because a buffer of this handle was full."""
        return sum(b.dropped for b in self._buffers)

    async def ready(self) -> None:
        """Waits for the first ``subscribed`` reply; raises :class:`SwitchboardError` if the
        server refused the channel (or the client closed first)."""
        await asyncio.shield(self._channel.ready)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate(messages_only=True)

    def items(self) -> AsyncIterator[Item]:
        """Iterates over every delivery (messages, resets, events) in order."""
        return self._iterate(messages_only=False)

    async def _iterate(self, messages_only: bool) -> AsyncIterator[Any]:
        buffer = self._iter_buffer
        if buffer is None:
            buffer = self._iter_buffer = _Buffer(self._max_buffer, self._channel.name)
            if not self._active:
                buffer.end(self._channel.error)
            self._buffers.append(buffer)
        while True:
            try:
                item = await buffer.get()
            except StopAsyncIteration:
                return
            if not messages_only or isinstance(item, Message):
                yield item

    # ---- requests on this channel --------------------------------------------------------------

    async def publish(self, data: Any) -> PublishResult:
        """Publishes into this channel (see :meth:`Client.publish`)."""
        return await self._channel.client.publish(self._channel.name, data)

    async def history(self, **options: Any) -> HistoryPage:
        """Reads stored messages of this channel (see :meth:`Client.history`)."""
        return await self._channel.client.history(self._channel.name, **options)

    async def presence(self) -> List[Member]:
        return await self._channel.client.presence(self._channel.name)

    async def send_event(self, event: str, data: Any = None) -> None:
        await self._channel.client.send_event(self._channel.name, event, data)

    async def set_typing(self, typing: bool = True) -> None:
        await self._channel.client.set_typing(self._channel.name, typing)

    async def unsubscribe(self) -> None:
        """Releases this handle: its iterations end and its callbacks stop. The ``unsubscribe``
        frame goes out when the channel's last handle is released."""
        if not self._active:
            return
        self._end(None, discard=True)
        self._channel.detach(self)
        if self._dispatcher is not None and self._dispatcher is not asyncio.current_task():
            await asyncio.gather(self._dispatcher, return_exceptions=True)

    # ---- called by Channel ---------------------------------------------------------------------

    def _put(self, item: Item) -> None:
        for b in self._buffers:
            b.put(item)

    def _report(self, error: SwitchboardError) -> None:
        if self._on_error is None:
            return
        self._channel.client._call_quietly(self._on_error, error)

    def _end(self, error: Optional[SwitchboardError], discard: bool = False) -> None:
        self._active = False
        for b in self._buffers:
            b.end(error, discard)

    async def _dispatch(self, buffer: _Buffer) -> None:
        while True:
            try:
                item = await buffer.get()
            except (StopAsyncIteration, SwitchboardError):
                return  # a refusal was already given to on_error
            if isinstance(item, Message):
                callback = self._on_message
            elif isinstance(item, Reset):
                callback = self._on_reset
            else:
                callback = self._on_event
            if callback is None:
                continue
            try:
                result = callback(item)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("callback of %s raised on %r", self._channel.name, type(item).__name__)


class Channel:
    """The client's state of one subscribed channel, shared by its handles (internal).

    ``position`` is the offset and epoch of the last message delivered; each (re)subscribe
    carries it as ``since``, so the server replays what was missed (``recovered: true``) or
    says it cannot (``recovered: false``: a :class:`Reset`).
    """

    def __init__(self, client: "Client", name: str, since: Optional[Position], token: Optional[SubscriptionToken],
                 filter: Optional[Dict[str, Any]] = None) -> None:
        self.client = client
        self.filter = filter  # docs/filters.md; sent with every (re)subscribe
        self.name = name
        self.position = since
        self.token = token
        self.state = "pending"
        self.error: Optional[SwitchboardError] = None
        self.handles: List[Subscription] = []
        self.track_presence = False
        self.members: Dict[str, Member] = {}
        self.streams: Dict[str, StreamState] = {}
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ready.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no warning
        self._in_flight = False
        self._ever_subscribed = False
        self._generation = 0  # bumped at each subscribed / disconnection: late async work is dropped
        self._retry_attempt = 0
        self._retry: Optional[asyncio.TimerHandle] = None
        self._presence_backlog: Optional[List[Union[Join, Leave]]] = None

    def attach(self, handle: Subscription) -> None:
        self.handles.append(handle)

    def detach(self, handle: Subscription) -> None:
        if handle in self.handles:
            self.handles.remove(handle)
        if not self.handles and self.state != "unsubscribed":
            may_be_subscribed = self._in_flight or self.state == "subscribed"
            self._dispose(None)
            self.client._release(self, send_unsubscribe=may_be_subscribed)

    # ---- subscribing ------------------------------------------------------------------------------

    def send_subscribe(self) -> None:
        """Sends ``subscribe`` (with ``since`` when a position is held) on the current connection."""
        if self.state in ("unsubscribed", "failed") or self._in_flight:
            return
        self._cancel_retry()
        token = self.token
        if callable(token):
            self._in_flight = True
            generation = self._generation
            asyncio.get_running_loop().create_task(self._send_with_token(token, generation))
            return
        self._send(token)

    async def _send_with_token(self, get: Callable[[str], Any], generation: int) -> None:
        try:
            token = get(self.name)
            if inspect.isawaitable(token):
                token = await token
        except Exception as exc:
            self._in_flight = False
            if generation == self._generation and self.state != "unsubscribed":
                self._on_error(SwitchboardError("AUTH_FAILED", f"could not get a subscription token: {exc}", True,
                                                request="subscribe", channel=self.name))
            return
        self._in_flight = False
        if generation == self._generation and self.state != "unsubscribed" and self.client.is_connected:
            self._send(str(token))

    def _send(self, token: Optional[str]) -> None:
        frame: Dict[str, Any] = {"type": "subscribe", "channel": self.name}
        if self.position is not None:
            frame["since"] = self.position.to_wire()
        if token:
            frame["token"] = token
        if self.filter is not None:
            frame["filter"] = self.filter
        self._in_flight = True
        self.client._send_now(frame, self._on_reply, self._on_error)

    def _on_reply(self, reply: Dict[str, Any]) -> None:
        self._in_flight = False
        if self.state != "unsubscribed":
            self._on_subscribed(reply)

    def _on_error(self, err: SwitchboardError) -> None:
        self._in_flight = False
        if self.state == "unsubscribed" or err.code in (DISCONNECTED, CLOSED):
            return  # a lost connection: subscribed again on the next one
        for h in list(self.handles):
            h._report(err)
        if err.retryable:
            delay = max(err.retry_after or 0.0, self.client._retry_delay(self._retry_attempt))
            self._retry_attempt += 1
            self._retry = asyncio.get_running_loop().call_later(delay, self._retry_now)
            return
        self._fail(err)

    def _retry_now(self) -> None:
        self._retry = None
        if self.client.is_connected:
            self.send_subscribe()

    def _on_subscribed(self, reply: Dict[str, Any]) -> None:
        offset = int(reply.get("offset", 0))
        epoch = str(reply.get("epoch", ""))
        recovered = reply.get("recovered")
        previous = self.position
        self._generation += 1
        self._retry_attempt = 0
        if recovered is not True:
            # First subscription, or the server cannot continue from our position: live
            # messages come after this offset.
            self.position = Position(offset, epoch)
        self._ever_subscribed = True
        self.state = "subscribed"
        self.streams.clear()  # the running ones are announced again right after this reply
        if not self.ready.done():
            self.ready.set_result(None)
        if recovered is False:
            self._deliver(Reset(self.name, previous, offset, epoch))
        if self.track_presence:
            self._load_presence()

    def _load_presence(self) -> None:
        generation = self._generation
        self._presence_backlog = []

        def on_reply(frame: Dict[str, Any]) -> None:
            if generation != self._generation:
                return
            self.members = {m.client: m for m in (member_from(x) for x in frame.get("members") or [] if isinstance(x, dict))}
            backlog, self._presence_backlog = self._presence_backlog or [], None
            for ev in backlog:  # join/leave that arrived while the list was loading
                self._apply_presence(ev)

        def on_error(err: SwitchboardError) -> None:
            if generation != self._generation:
                return
            self._presence_backlog = None
            if err.code not in (DISCONNECTED, CLOSED):
                for h in list(self.handles):
                    h._report(err)

        self.client._send_now({"type": "presence", "channel": self.name}, on_reply, on_error)

    def _apply_presence(self, ev: Union[Join, Leave]) -> None:
        if isinstance(ev, Join):
            self.members[ev.member.client] = ev.member
        else:
            self.members.pop(ev.member.client, None)

    # ---- frames of this channel ---------------------------------------------------------------

    def on_frame(self, frame: Dict[str, Any]) -> None:
        """A frame of this channel that is not a reply (called by the client's reader)."""
        if self.state == "unsubscribed":
            return
        kind = frame.get("type")
        if kind == "message":
            self._on_message(frame)
        elif kind == "reset":
            # A cluster node lost messages it cannot replay: live ones go on after this position.
            previous = self.position
            self.position = Position(int(frame.get("offset", 0)), str(frame.get("epoch", "")))
            self._deliver(Reset(self.name, previous, self.position.offset, self.position.epoch))
        elif kind in ("join", "leave"):
            ev: Union[Join, Leave] = (Join if kind == "join" else Leave)(self.name, member_from(frame))
            if self._presence_backlog is not None:
                self._presence_backlog.append(ev)
            else:
                self._apply_presence(ev)
            self._deliver(ev)
        elif kind == "typing":
            self._deliver(Typing(self.name, str(frame.get("client", "")), str(frame.get("user", "")),
                                 frame.get("typing") is True, sender_from(frame)))
        elif kind == "event":
            self._deliver(ChannelEvent(self.name, str(frame.get("event", "")), str(frame.get("client", "")),
                                       str(frame.get("user", "")), frame.get("data"), sender_from(frame)))
        elif kind in ("stream_start", "stream_delta", "stream_end"):
            self._on_stream(kind, frame)

    def _on_message(self, frame: Dict[str, Any]) -> None:
        offset = frame.get("offset")
        if not isinstance(offset, int):
            return
        pos = self.position
        if pos is not None and offset <= pos.offset:
            return  # already delivered: recovery and live delivery overlapped
        epoch = pos.epoch if pos is not None else ""
        self.position = Position(offset, epoch)
        self._deliver(Message(self.name, frame.get("data"), offset, int(frame.get("ts", 0)), epoch, sender_from(frame),
                              tags_from(frame)))

    def _on_stream(self, kind: str, frame: Dict[str, Any]) -> None:
        stream = str(frame.get("stream", ""))
        if kind == "stream_start":
            meta = frame.get("meta") if isinstance(frame.get("meta"), dict) else None
            self.streams[stream] = StreamState(stream, meta)
            self._deliver(StreamStart(self.name, stream, meta))
            return
        state = self.streams.get(stream)
        if state is None:
            return  # a stream that ended as we subscribed: its finished message follows
        seq = int(frame.get("seq", 0))
        if kind == "stream_delta":
            delta = str(frame.get("delta", ""))
            # The first delta after a stream_start holds all the text so far, and each start
            # begins from empty: appending is right in both cases.
            state.text += delta
            state.seq = seq
            self._deliver(StreamDelta(self.name, stream, seq, delta, state.text))
        else:
            del self.streams[stream]
            self._deliver(StreamEnd(self.name, stream, seq, str(frame.get("reason", "")), state.text))

    def _deliver(self, item: Item) -> None:
        for h in self.handles:
            h._put(item)

    # ---- connection changes -------------------------------------------------------------------

    def on_disconnected(self) -> None:
        if self.state == "subscribed":
            self.state = "pending"
        self._in_flight = False
        self._cancel_retry()
        self._generation += 1
        self._presence_backlog = None

    def close(self, error: Optional[SwitchboardError]) -> None:
        """The client closed for good: end every handle (with ``error`` if the server ended it)."""
        self._dispose(error)
        for h in list(self.handles):
            h._end(error)
        self.handles.clear()

    def _fail(self, err: SwitchboardError) -> None:
        self.state = "failed"
        self.error = err
        self._cancel_retry()
        if not self.ready.done():
            self.ready.set_exception(err)
        for h in list(self.handles):
            h._end(err)
        self.handles.clear()
        self.client._release(self, send_unsubscribe=False)

    def _dispose(self, error: Optional[SwitchboardError]) -> None:
        if self.state != "failed":
            self.state = "unsubscribed"
        self.error = self.error or error
        self._cancel_retry()
        if not self.ready.done():
            self.ready.set_exception(error or SwitchboardError.client(CLOSED, f"unsubscribed from '{self.name}'",
                                                                      request="subscribe", channel=self.name))

    def _cancel_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None


__all__ = ["Subscription", "Channel", "SubscriptionToken", "Event"]
