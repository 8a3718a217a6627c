"""Python client for Switchboard's native WebSocket protocol v1 (docs/protocol.md).

::

    from switchboard_client import Client

    async with Client("ws://127.0.0.1:8080/ws") as sb:
        sub = await sb.subscribe("chat:room-1")
        await sb.publish("chat:room-1", {"text": "hi"})
        async for message in sub:
            print(message.offset, message.data)
"""

from .client import Client, ConnectionState, Reconnect, StateChange
from .errors import SwitchboardError
from .protocol import (
    ChannelEvent,
    CloseCode,
    Event,
    HistoryMessage,
    HistoryPage,
    Item,
    Join,
    Leave,
    Member,
    Message,
    Position,
    PresenceStats,
    PublishResult,
    Reset,
    Sender,
    StreamDelta,
    StreamEnd,
    StreamStart,
    StreamState,
    Typing,
)
from .subscription import Subscription
from .typing_indicator import TypingIndicator

__all__ = [
    "ChannelEvent",
    "Client",
    "CloseCode",
    "ConnectionState",
    "Event",
    "HistoryMessage",
    "HistoryPage",
    "Item",
    "Join",
    "Leave",
    "Member",
    "Message",
    "Position",
    "PresenceStats",
    "PublishResult",
    "Reconnect",
    "Reset",
    "Sender",
    "StateChange",
    "StreamDelta",
    "StreamEnd",
    "StreamStart",
    "StreamState",
    "Subscription",
    "SwitchboardError",
    "Typing",
    "TypingIndicator",
]
