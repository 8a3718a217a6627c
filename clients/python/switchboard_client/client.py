"""The client: the public API over one connection (``connection.py``) and its channels
(``subscription.py``)."""

from __future__ import annotations

import time
from typing import Any, AsyncIterator, Callable, Dict, List, Mapping, Optional, Tuple, Union

from . import errors
from .connection import Connection, ConnectionState, Hooks, Options, Reconnect, StateChange, TokenGetter
from .errors import SwitchboardError
from .protocol import (
    HistoryMessage,
    HistoryPage,
    Member,
    Position,
    PresenceStats,
    PublishResult,
    history_page,
    member_from,
)
from .requests import OnError, OnReply
from .subscription import Callback, Channel, Subscription, SubscriptionToken
from .typing_indicator import TypingIndicator

__all__ = ["Client", "ConnectionState", "Reconnect", "StateChange"]

_MISSING: Any = object()


class Client:
    """A Switchboard connection. One per application is enough: every channel shares it.

    ::

        async with Client("ws://127.0.0.1:8080/ws", get_token=fetch_jwt) as sb:
            sub = await sb.subscribe("chat:room-1", on_message=lambda m: print(m.offset, m.data))
            result = await sb.publish("chat:room-1", {"text": "hi"})

    Args:
        url: the server's ``/ws`` endpoint (``ws://host:port/ws`` or ``wss://``).
        token: a JWT sent in ``connect`` after each (re)connection.
        get_token: called (sync or async) before each connection and on ``refresh_required``
            for a fresh JWT; replaces ``token``. If it raises, the attempt counts as failed.
        user, info: anonymous connections only: who this client says it is, and what presence
            shows of it (a verified connection is the token's ``sub`` and ``info`` claim).
        reconnect: a :class:`Reconnect` policy, ``True`` for the default one, ``False`` to never
            reconnect by itself (call :meth:`connect` again).
        request_timeout: seconds before a request without reply fails with ``TIMEOUT``. For a
            publish waiting in the offline queue it starts when the publish is sent.
        connect_timeout: seconds for the upgrade plus the greeting and the ``connect`` reply.
        offline_queue_size: most publishes kept while not connected; one more raises
            ``OFFLINE_QUEUE_FULL`` at once (a publish is never dropped silently).
        max_buffer: default bound of each subscription buffer (items; the oldest are dropped).
        ping_interval, ping_timeout: WebSocket pings sent when idle, and how long to wait for
            the pong before dropping a dead (half-open) connection and reconnecting. ``None``
            turns pings off.
        max_frame_size: largest server frame accepted, in bytes (a history page may reach half
            of the server's ``limits.max_send_queue``, 2 MiB by default).
        headers: extra HTTP headers for the upgrade request (a cookie, an ``Origin``).
        on_state: called with a :class:`StateChange` at every state change.
        on_error: called with errors tied to no request (an ``error`` frame without ``id``, a
            failed token refresh). Why the client closed for good is in the ``CLOSED``
            :class:`StateChange`'s ``error``.
    """

    def __init__(
        self,
        url: str,
        *,
        token: Optional[str] = None,
        get_token: Optional[TokenGetter] = None,
        user: Optional[str] = None,
        info: Optional[Dict[str, Any]] = None,
        reconnect: Union[Reconnect, bool] = True,
        request_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        offline_queue_size: int = 100,
        max_buffer: int = 1000,
        ping_interval: Optional[float] = 20.0,
        ping_timeout: Optional[float] = 20.0,
        max_frame_size: int = 16 * 1024 * 1024,
        headers: Optional[Mapping[str, str]] = None,
        on_state: Optional[Callable[[StateChange], Any]] = None,
        on_error: Optional[Callable[[SwitchboardError], Any]] = None,
    ) -> None:
        self.url = url
        self._max_buffer = max_buffer
        self._channels: Dict[str, Channel] = {}
        options = Options(
            token=token, get_token=get_token, user=user, info=info,
            reconnect=Reconnect() if reconnect is True else (reconnect or None),
            request_timeout=request_timeout, connect_timeout=connect_timeout,
            offline_queue_size=offline_queue_size, ping_interval=ping_interval, ping_timeout=ping_timeout,
            max_frame_size=max_frame_size, headers=dict(headers or {}))
        hooks = Hooks(on_ready=self._on_ready, on_lost=self._on_lost, on_closed=self._on_closed,
                      on_frame=self._on_frame)
        self._conn = Connection(url, options, hooks, on_error)
        if on_state is not None:
            self._conn.listeners.append(on_state)

    # ---- state -----------------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._conn.state

    @property
    def is_connected(self) -> bool:
        return self._conn.usable

    @property
    def client_id(self) -> Optional[str]:
        """This connection's id (``POST /api/disconnect {"client": ...}`` takes it), or ``None``."""
        return self._conn.client_id

    @property
    def user(self) -> Optional[str]:
        """The connection's user, as the server reported it (a token's ``sub``)."""
        return self._conn.user

    @property
    def queue_size(self) -> int:
        """Publishes waiting in the offline queue."""
        return self._conn.requests.offline_size

    def add_state_listener(self, listener: Callable[[StateChange], Any]) -> Callable[[], None]:
        """Calls ``listener`` with a :class:`StateChange` at every state change; returns a
        function that removes it."""
        listeners = self._conn.listeners
        listeners.append(listener)
        return lambda: listeners.remove(listener) if listener in listeners else None

    # ---- opening and closing ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Starts the connection (and the reconnections) and waits until the client is connected.

        While the server cannot be reached it keeps trying with backoff: bound the wait with
        ``asyncio.wait_for`` if needed (the attempts go on). Raises :class:`SwitchboardError` if
        the client closes for good first (``AUTH_FAILED``: bad credentials). Calling it on a
        closed client opens it again, without the old subscriptions.
        """
        self._conn.start()
        await self._conn.wait_usable()

    async def wait_connected(self) -> None:
        """Returns once connected; raises :class:`SwitchboardError` when the client is closed, or
        ``DISCONNECTED`` when it is not connecting (before :meth:`connect`, or after a lost
        connection with ``reconnect=False``)."""
        await self._conn.wait_usable()

    async def close(self) -> None:
        """Closes for good (no reconnection): requests waiting and queued publishes fail with
        ``CLOSED``, subscriptions end (their iterations stop)."""
        await self._conn.close()

    async def __aenter__(self) -> "Client":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # ---- what the connection tells the client ----------------------------------------------------

    def _on_ready(self) -> None:
        for channel in list(self._channels.values()):
            channel.send_subscribe()

    def _on_lost(self) -> None:
        for channel in list(self._channels.values()):
            channel.on_disconnected()

    def _on_closed(self, error: Optional[SwitchboardError]) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close(error)

    def _on_frame(self, frame: Dict[str, Any]) -> None:
        channel = self._channels.get(frame.get("channel"))  # type: ignore[arg-type]
        if channel is not None:
            channel.on_frame(frame)

    # ---- what channels need (internal) ------------------------------------------------------------

    def _send_now(self, frame: Mapping[str, Any], on_reply: OnReply, on_error: OnError) -> None:
        """Sends on the current connection now; the reply is handled in frame order."""
        self._conn.requests.send_now(frame, on_reply, on_error)

    def _release(self, channel: Channel, *, send_unsubscribe: bool) -> None:
        if self._channels.get(channel.name) is channel:
            del self._channels[channel.name]
        if send_unsubscribe and self.is_connected:
            self._send_now({"type": "unsubscribe", "channel": channel.name}, lambda _: None, lambda _: None)

    def _retry_delay(self, attempt: int) -> float:
        return self._conn.retry_delay(attempt)

    def _call_quietly(self, fn: Callable[[Any], Any], arg: Any) -> None:
        self._conn.call_quietly(fn, arg)

    # ---- requests --------------------------------------------------------------------------------

    async def _call(self, frame: Mapping[str, Any], *, offline: bool = False) -> Dict[str, Any]:
        if self._conn.state is ConnectionState.CLOSED:
            raise self._conn.closed_error()
        return await self._conn.requests.call(frame, usable=self._conn.usable, offline=offline)

    async def request(self, frame: Mapping[str, Any]) -> Dict[str, Any]:
        """Sends any request frame (its ``type`` and fields; the client adds the ``id``) and
        returns the raw reply frame; an ``error`` reply raises :class:`SwitchboardError`. Made
        while not connected, it waits for the connection (its timeout runs meanwhile).

        This is the place for frames the client does not wrap yet.
        """
        return await self._call(frame)

    async def rpc(self, method: str, data: Any = None) -> Any:
        """Asks the app's backend (the server's ``[proxy] rpc_url``, docs/backend.md#rpc) and
        returns the ``data`` of its answer, or ``None``. The backend's refusal raises
        :class:`SwitchboardError` with the backend's own code (``UNKNOWN_METHOD``, ...);
        ``BACKEND_UNAVAILABLE`` (retryable) when it could not be reached in time,
        ``BACKEND_ERROR`` when it answered wrongly, ``NOT_FOUND`` when the server has no RPC
        backend. Not queued while offline: it waits for the connection like any request.
        """
        reply = await self._call({"type": "rpc", "method": method, "data": data})
        return reply.get("data")

    async def publish(self, channel: str, data: Any) -> PublishResult:
        """Publishes ``data`` (any JSON value) into ``channel``; returns its offset and epoch once
        the server accepted it (stored first, in a namespace with history).

        While not connected the publish waits in the offline queue, in call order, and goes out
        after the re-subscriptions; a full queue raises ``OFFLINE_QUEUE_FULL`` at once. A publish
        that fails with ``DISCONNECTED`` or ``TIMEOUT`` may have been stored: the client never
        resends it (put an id of your own in ``data`` if duplicates matter).
        """
        reply = await self._call({"type": "publish", "channel": channel, "data": data}, offline=True)
        return PublishResult(channel, int(reply.get("offset", 0)), str(reply.get("epoch", "")))

    async def history(self, channel: str, *, since: Optional[int] = None, before: Optional[int] = None,
                      limit: Optional[int] = None, reverse: bool = False) -> HistoryPage:
        """Reads stored messages: offsets above ``since`` and below ``before``, at most ``limit``
        (1 to 1000, server default 100), oldest first or, with ``reverse``, newest first. The
        server may return fewer than asked to fit its send queue: page on."""
        frame: Dict[str, Any] = {"type": "history", "channel": channel}
        if since is not None:
            frame["since"] = since
        if before is not None:
            frame["before"] = before
        if limit is not None:
            frame["limit"] = limit
        if reverse:
            frame["reverse"] = True
        return history_page(channel, await self._call(frame))

    async def iter_history(self, channel: str, *, page_size: int = 100, before: int = 0,
                           max_messages: Optional[int] = None) -> AsyncIterator[HistoryMessage]:
        """Pages backward through a channel's history, newest first. Raises ``EPOCH_CHANGED`` if
        the channel starts over while paging."""
        page_size = max(1, min(1000, page_size))
        left = max_messages if max_messages is not None else -1
        epoch: Optional[str] = None
        while left != 0:
            limit = page_size if left < 0 else min(page_size, left)
            page = await self.history(channel, before=before, limit=limit, reverse=True)
            if epoch is None:
                epoch = page.epoch
            elif page.epoch != epoch:
                raise SwitchboardError.client(errors.EPOCH_CHANGED,
                                              f"channel '{channel}' started a new epoch while paging", channel=channel)
            for m in page.messages:
                yield m
                left -= 1
                if left == 0:
                    return
            # An empty page, or the oldest retained message reached. (A short page is not the
            # end: the server cuts pages that would not fit its send queue.)
            if not page.messages or page.messages[-1].offset <= max(1, page.first_offset):
                return
            before = page.messages[-1].offset

    async def presence(self, channel: str) -> List[Member]:
        """Who is subscribed to ``channel`` now (a namespace with ``presence``)."""
        reply = await self._call({"type": "presence", "channel": channel})
        return [member_from(m) for m in reply.get("members") or [] if isinstance(m, dict)]

    async def presence_stats(self, channel: str) -> PresenceStats:
        reply = await self._call({"type": "presence_stats", "channel": channel})
        return PresenceStats(channel, int(reply.get("clients", 0)), int(reply.get("users", 0)))

    async def set_typing(self, channel: str, typing: bool = True) -> None:
        """Says this user started (or stopped) typing in ``channel`` (subscribed first). The server
        ends an indicator not renewed within ``limits.typing_timeout``: see :meth:`typing`."""
        await self._call({"type": "typing", "channel": channel, "typing": typing})

    def typing(self, channel: str, renew_interval: float = 2.0) -> TypingIndicator:
        """A typing indicator renewed while active::

            async with client.typing("chat:room-1"):
                await compose()       # others see "typing" until the block ends
        """
        return TypingIndicator(self, channel, renew_interval)

    async def send_event(self, channel: str, event: str, data: Any = _MISSING) -> None:
        """Relays an ephemeral event (1 to 64 bytes of name, any JSON ``data``) to the channel's
        other subscribers: never stored, not recovered. The sender must be subscribed."""
        frame: Dict[str, Any] = {"type": "event", "channel": channel, "event": event}
        if data is not _MISSING:
            frame["data"] = data
        await self._call(frame)

    async def cancel_stream(self, stream: str) -> None:
        """Asks the server to stop a running stream of a subscribed channel ("stop generating")."""
        await self._call({"type": "stream_cancel", "stream": stream})

    async def ping(self) -> float:
        """Round trip to the server, in seconds."""
        start = time.monotonic()
        await self._call({"type": "ping"})
        return time.monotonic() - start


    # ---- subscriptions ---------------------------------------------------------------------------

    async def subscribe(
        self,
        channel: str,
        *,
        since: Union[Position, Tuple[int, str], None] = None,
        token: Optional[SubscriptionToken] = None,
        presence: bool = False,
        on_message: Optional[Callback] = None,
        on_reset: Optional[Callback] = None,
        on_event: Optional[Callback] = None,
        on_error: Optional[Callable[[SwitchboardError], Any]] = None,
        max_buffer: Optional[int] = None,
        wait: bool = True,
    ) -> Subscription:
        """Subscribes to ``channel`` and returns a :class:`Subscription` handle.

        Args:
            since: a position saved earlier (``sub.position``): the first subscription asks the
                server for what came after it (a :class:`Reset` if it cannot).
            token: a subscription token for ``private`` namespaces, or a function of the channel
                returning one (called before each (re)subscribe).
            presence: keep ``sub.members`` up to date (presence list after each subscription,
                then join/leave).
            on_message, on_reset, on_event: callbacks (plain or ``async``), called in order, one
                at a time, outside the connection's reader. Without any, iterate the handle.
            on_error: errors of this subscription (a refused re-subscription, a retry).
            max_buffer: this handle's buffer bound (default: the client's ``max_buffer``).
            wait: wait for the first ``subscribed`` reply (and so for the connection). With
                ``False``, return at once; ``await sub.ready()`` later.

        Several handles may hold one channel (each with its own callbacks and buffer): the
        client sends one ``subscribe`` and sends ``unsubscribe`` when the last handle is
        released. ``since`` and ``token`` of a later handle are ignored.

        Raises :class:`SwitchboardError` when the server refuses the channel
        (``UNKNOWN_CHANNEL``, ``PERMISSION_DENIED``) or the client is closed.
        """
        if self._conn.state is ConnectionState.CLOSED:
            raise self._conn.closed_error()
        ch = self._channels.get(channel)
        fresh = ch is None
        if ch is None:
            position = Position(*since) if isinstance(since, tuple) else since
            ch = self._channels[channel] = Channel(self, channel, position, token)
        handle = Subscription(ch, on_message=on_message, on_reset=on_reset, on_event=on_event, on_error=on_error,
                              max_buffer=max_buffer or self._max_buffer)
        ch.attach(handle)
        if presence and not ch.track_presence:
            ch.track_presence = True
            if ch.state == "subscribed" and self.is_connected:
                ch._load_presence()
        if fresh and self.is_connected:
            ch.send_subscribe()
        if wait:
            try:
                await handle.ready()
            except BaseException:
                await handle.unsubscribe()
                raise
        return handle
