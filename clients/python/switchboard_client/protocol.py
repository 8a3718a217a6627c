"""Wire side of the native protocol v1 (docs/protocol.md): close codes, the typed values the
client hands to the application, and their parsing from server frames.

Nothing here does I/O; ``client.py`` and ``subscription.py`` use it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Dict, List, Mapping, Optional, Union

PROTOCOL_VERSION = 1


class CloseCode(IntEnum):
    """WebSocket close codes the server sends (docs/protocol.md#close-codes)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    ABNORMAL = 1006
    """No close frame: the TCP connection dropped (the client reports this code)."""
    DISCONNECTED = 4000
    """``POST /api/disconnect``: final, the client does not reconnect."""
    SLOW_CONSUMER = 4001
    PING_TIMEOUT = 4002
    AUTH_FAILED = 4003
    """Bad or missing credentials: final."""
    TOKEN_EXPIRED = 4004
    """The token expired without a refresh: the client reconnects with a fresh token."""
    IDLE_TIMEOUT = 4008
    """Nothing but keepalives for the server's ``limits.idle_timeout``: final; call
    :meth:`Client.connect` again when there is something to do."""


FINAL_CLOSE_CODES = frozenset({CloseCode.DISCONNECTED, CloseCode.AUTH_FAILED, CloseCode.IDLE_TIMEOUT})
"""Close codes after which the client stops for good (retrying cannot help)."""


@dataclass(frozen=True)
class Position:
    """A channel position: the offset of the last message, in an epoch. Compare epochs first:
    offsets of different epochs mean nothing to each other."""

    offset: int
    epoch: str

    def to_wire(self) -> Dict[str, Any]:
        return {"offset": self.offset, "epoch": self.epoch}


@dataclass(frozen=True)
class Sender:
    """Who caused a frame (docs/protocol.md#publisher-identity): stamped by the server from the
    sending connection (a client cannot forge it), or given by the backend."""

    user: str
    """The token's ``sub``, or what an anonymous connection declared ("" if none)."""
    client: str
    """The sending connection's client id ("" when the backend named no connection)."""
    info: Optional[Dict[str, Any]] = None
    verified: bool = True
    """False for an anonymous connection, whose user is only what it declared."""


def sender_from(frame: Mapping[str, Any]) -> Optional[Sender]:
    """A frame's ``from``, when it has one."""
    f = frame.get("from")
    if not isinstance(f, dict):
        return None
    info = f.get("info")
    return Sender(str(f.get("user", "")), str(f.get("client", "")), info if isinstance(info, dict) else None,
                  f.get("verified") is not False)


@dataclass(frozen=True)
class Message:
    """A publication of a channel, live or recovered: each offset is delivered once, in order."""

    channel: str
    data: Any
    offset: int
    ts: int
    """Server wall-clock time of the publication, in ms since the Unix epoch."""
    epoch: str
    sender: Optional[Sender] = None
    """Who published it (the frame's ``from``); None for a backend publish that named no one."""
    tags: Optional[Dict[str, str]] = None
    """Its tags (docs/filters.md); None when it has none."""


@dataclass(frozen=True)
class Reset:
    """The server could not continue from the client's position (``recovered: false``, or a
    ``reset`` frame in a cluster): messages were missed and cannot be replayed. Reload the
    channel's state (from your backend, or with ``history``); live messages go on after
    ``offset`` of ``epoch``."""

    channel: str
    previous: Optional[Position]
    offset: int
    epoch: str


@dataclass(frozen=True)
class Member:
    """A connection subscribed to a channel with presence."""

    client: str
    user: str
    info: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class Join:
    """Another connection subscribed (namespaces with ``presence`` and ``join_leave``)."""

    channel: str
    member: Member


@dataclass(frozen=True)
class Leave:
    """Another connection stopped being subscribed."""

    channel: str
    member: Member


@dataclass(frozen=True)
class Typing:
    """Another connection started or stopped typing."""

    channel: str
    client: str
    user: str
    typing: bool
    sender: Optional[Sender] = None
    """The typing connection's identity (the frame's ``from``)."""


@dataclass(frozen=True)
class ChannelEvent:
    """An ephemeral event relayed by the server, from a client or the backend (never stored, no
    offset). ``client`` is "" for the backend's."""

    channel: str
    event: str
    client: str
    user: str
    data: Any = None
    sender: Optional[Sender] = None
    """Who sent it (the frame's ``from``); a backend's event has one only when it gave one."""


@dataclass(frozen=True)
class StreamStart:
    """A stream started, or is running when the subscription was (re)made: start its text from
    empty."""

    channel: str
    stream: str
    meta: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class StreamDelta:
    """A piece of a stream. ``delta`` is what the server sent (after a (re)subscription, the first
    delta carries all the text so far); ``text`` is the whole text so far, assembled."""

    channel: str
    stream: str
    seq: int
    delta: str
    text: str


@dataclass(frozen=True)
class StreamEnd:
    """A stream is over (``done`` or the backend's reason, ``cancelled``, ``timeout``). Its whole
    text then also arrives as an ordinary :class:`Message` ``{stream, text, reason, meta?}``."""

    channel: str
    stream: str
    seq: int
    reason: str
    text: str


Event = Union[Join, Leave, Typing, ChannelEvent, StreamStart, StreamDelta, StreamEnd]
"""What a subscription delivers besides messages and resets."""

Item = Union[Message, Reset, Join, Leave, Typing, ChannelEvent, StreamStart, StreamDelta, StreamEnd]
"""Everything a subscription delivers, in the order the server sent it."""


@dataclass(frozen=True)
class PublishResult:
    channel: str
    offset: int
    epoch: str


@dataclass(frozen=True)
class HistoryMessage:
    offset: int
    ts: int
    data: Any
    sender: Optional[Sender] = None
    """Who published it, as on the live message."""
    tags: Optional[Dict[str, str]] = None
    """Its tags, as on the live message."""


@dataclass(frozen=True)
class HistoryPage:
    channel: str
    messages: List[HistoryMessage]
    offset: int
    """The channel's last offset given out."""
    epoch: str
    first_offset: int
    """The oldest offset still retained (0 when none)."""


@dataclass(frozen=True)
class PresenceStats:
    channel: str
    clients: int
    users: int


@dataclass
class StreamState:
    """A running stream of a channel, as assembled from its frames."""

    stream: str
    meta: Optional[Dict[str, Any]] = None
    text: str = ""
    seq: int = 0


def encode(frame: Mapping[str, Any]) -> str:
    """One client frame as JSON text. Raises ``ValueError``/``TypeError`` for data JSON cannot
    carry (NaN, sets, ...), before anything is sent."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def member_from(frame: Mapping[str, Any]) -> Member:
    info = frame.get("info")
    return Member(str(frame.get("client", "")), str(frame.get("user", "")), info if isinstance(info, dict) else None)


def tags_from(frame: Mapping[str, Any]) -> Optional[Dict[str, str]]:
    """A message's ``tags`` object, or None without one."""
    t = frame.get("tags")
    return dict(t) if isinstance(t, dict) else None


def history_page(channel: str, frame: Mapping[str, Any]) -> HistoryPage:
    messages = [
        HistoryMessage(int(m["offset"]), int(m.get("ts", 0)), m.get("data"), sender_from(m), tags_from(m))
        for m in frame.get("messages") or []
        if isinstance(m, dict) and isinstance(m.get("offset"), int)
    ]
    return HistoryPage(
        channel,
        messages,
        int(frame.get("offset", 0)),
        str(frame.get("epoch", "")),
        int(frame.get("first_offset", 0)),
    )
