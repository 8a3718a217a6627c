"""Publisher identity (``from``, as ``sender``), client_events and the idle timeout against a real
server."""

from __future__ import annotations

import asyncio
from typing import Any, Iterator, List

import pytest
from conftest import DEFAULT_CONFIG, Server, run_async, wait_until

from switchboard_client import (
    ChannelEvent,
    Client,
    CloseCode,
    ConnectionState,
    Message,
    Reconnect,
    Sender,
    StateChange,
    SwitchboardError,
    Typing,
)

# `react`: reactions and typing without the right to publish (client_events).
CONFIG = DEFAULT_CONFIG + """
[namespaces.react]
client_events = true
"""


@pytest.fixture(scope="module")
def identity_server() -> Iterator[Server]:
    s = Server(CONFIG)
    s.start()
    yield s
    s.stop()


@run_async()
async def test_messages_live_and_stored_carry_the_publishers_identity(identity_server: Server) -> None:
    server = identity_server
    async with Client(server.ws_url, user="ann", info={"name": "Ann"}) as ann, \
            Client(server.ws_url, user="bob") as bob:
        got: List[Message] = []
        await bob.subscribe("chat:from", on_message=got.append)
        await ann.publish("chat:from", {"text": "hi"})
        await wait_until(lambda: len(got) == 1, what="message")
        expected = Sender("ann", ann.client_id or "", {"name": "Ann"}, verified=False)
        assert got[0].sender == expected
        page = await bob.history("chat:from")
        assert page.messages[0].sender == expected

        status, _ = await server.api("POST", "/api/publish",
                                     {"channel": "chat:from", "data": 2, "from": {"user": "agent-7"}})
        assert status == 200
        await server.publish("chat:from", 3)
        await wait_until(lambda: len(got) == 3, what="backend messages")
        assert got[1].sender == Sender("agent-7", "")
        assert got[2].sender is None


@run_async()
async def test_client_events_allow_typing_and_events_but_not_publish(identity_server: Server) -> None:
    server = identity_server
    async with Client(server.ws_url, user="ann") as ann, Client(server.ws_url, user="bob") as bob:
        seen: List[Any] = []
        await bob.subscribe("react:1", on_event=seen.append)
        await ann.subscribe("react:1")
        await ann.send_event("react:1", "clap", {"n": 1})
        await ann.set_typing("react:1", True)
        await wait_until(lambda: any(isinstance(e, ChannelEvent) for e in seen)
                         and any(isinstance(e, Typing) for e in seen), what="event and typing")
        ev = next(e for e in seen if isinstance(e, ChannelEvent))
        assert ev.sender == Sender("ann", ann.client_id or "", None, verified=False)
        assert next(e for e in seen if isinstance(e, Typing)).sender.user == "ann"  # type: ignore[union-attr]
        with pytest.raises(SwitchboardError) as e:
            await ann.publish("react:1", "no")
        assert e.value.code == "PERMISSION_DENIED"

        status, _ = await server.api("POST", "/api/event",
                                     {"channel": "react:1", "event": "reload", "from": {"user": "backend"}})
        assert status == 200
        await wait_until(lambda: any(isinstance(e, ChannelEvent) and e.event == "reload" for e in seen),
                         what="backend event")
        backend = next(e for e in seen if isinstance(e, ChannelEvent) and e.event == "reload")
        assert backend.client == "" and backend.sender == Sender("backend", "")


@run_async()
async def test_idle_timeout_closes_with_4008_for_good() -> None:
    server = Server(DEFAULT_CONFIG.replace("[limits]\n", "[limits]\nidle_timeout = 1\n"))
    server.start()
    try:
        changes: List[StateChange] = []
        client = Client(server.ws_url, reconnect=Reconnect(min_delay=0.05, max_delay=0.25),
                        on_state=changes.append)
        await client.connect()
        await wait_until(lambda: client.state is ConnectionState.CLOSED, timeout=5.0, what="closed")
        await asyncio.sleep(0.3)  # would be reconnection attempts if it were not final
        assert [c.state for c in changes].count(ConnectionState.CONNECTING) == 1
        assert changes[-1].code == CloseCode.IDLE_TIMEOUT
        await client.close()
    finally:
        server.stop()
