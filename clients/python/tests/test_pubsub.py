"""Publish, subscribe, history, presence, typing, events and streams against a real server."""

from __future__ import annotations

import asyncio
from typing import Any, List

import pytest
from conftest import Server, run_async, wait_until

from switchboard_client import (
    ChannelEvent,
    Client,
    Join,
    Leave,
    Message,
    StreamDelta,
    StreamEnd,
    StreamStart,
    SwitchboardError,
    Typing,
)

PAYLOADS: List[Any] = [
    {"text": "héllo ✓", "n": 1, "nested": {"list": [1, 2, {"x": None}], "flag": True}},
    "plain string",
    42,
    None,
    [1, "two", 3],
    {"quote": "a \"b\" \\ c", "newline": "x\ny"},
]


@run_async()
async def test_publish_delivers_exact_data_in_order_with_offsets(server: Server) -> None:
    async with Client(server.ws_url) as a, Client(server.ws_url) as b:
        sub = await a.subscribe("chat:exact")
        results = [await b.publish("chat:exact", p) for p in PAYLOADS]
        assert [r.offset for r in results] == list(range(1, len(PAYLOADS) + 1))
        assert len({r.epoch for r in results}) == 1
        got: List[Message] = []
        async for m in sub:
            got.append(m)
            if len(got) == len(PAYLOADS):
                break
        assert [m.data for m in got] == PAYLOADS
        assert [m.offset for m in got] == [r.offset for r in results]
        assert all(m.epoch == results[0].epoch and m.channel == "chat:exact" for m in got)
        assert sub.position is not None and sub.position.offset == len(PAYLOADS)


@run_async()
async def test_callbacks_sync_and_async_get_every_message_in_order(server: Server) -> None:
    async with Client(server.ws_url) as c:
        plain: List[int] = []
        awaited: List[int] = []

        async def slow(m: Message) -> None:
            await asyncio.sleep(0.001)
            # A callback may make requests: it does not run inside the connection's reader.
            if m.data == 5:
                await c.history("chat:cb", limit=1)
            awaited.append(m.data)

        await c.subscribe("chat:cb", on_message=lambda m: plain.append(m.data))
        await c.subscribe("chat:cb", on_message=slow)  # a second handle on the same channel
        for n in range(1, 11):
            await server.publish("chat:cb", n)
        await wait_until(lambda: len(plain) == 10 and len(awaited) == 10)
        assert plain == awaited == list(range(1, 11))


@run_async()
async def test_unsubscribe_stops_delivery_and_ends_iteration(server: Server) -> None:
    async with Client(server.ws_url) as c:
        sub = await c.subscribe("chat:unsub")
        await c.publish("chat:unsub", "one")
        it = sub.__aiter__()
        assert (await it.__anext__()).data == "one"
        await sub.unsubscribe()
        with pytest.raises(StopAsyncIteration):
            await it.__anext__()
        assert sub.state == "unsubscribed"
        await wait_until(lambda: False if c._channels else True, what="channel released")


@run_async()
async def test_history_pages_and_iterates_newest_first(server: Server) -> None:
    async with Client(server.ws_url) as c:
        for n in range(1, 8):
            await c.publish("chat:hist", {"n": n})
        page = await c.history("chat:hist", since=2, limit=3)
        assert [m.offset for m in page.messages] == [3, 4, 5]
        assert [m.data["n"] for m in page.messages] == [3, 4, 5]
        assert page.offset == 7 and page.first_offset == 1
        rev = await c.history("chat:hist", before=4, limit=2, reverse=True)
        assert [m.offset for m in rev.messages] == [3, 2]
        seen = [m.offset async for m in c.iter_history("chat:hist", page_size=3)]
        assert seen == [7, 6, 5, 4, 3, 2, 1]
        few = [m.offset async for m in c.iter_history("chat:hist", page_size=2, max_messages=3)]
        assert few == [7, 6, 5]


@run_async()
async def test_errors_carry_code_message_and_retryable(server: Server) -> None:
    async with Client(server.ws_url) as c:
        with pytest.raises(SwitchboardError) as e:
            await c.subscribe("nope:x")
        assert e.value.code == "UNKNOWN_CHANNEL" and e.value.retryable is False
        assert "nope" in e.value.message and e.value.request == "subscribe"
        with pytest.raises(SwitchboardError) as e:
            await c.history("chat:x", limit=5000)
        assert e.value.code == "INVALID_MESSAGE"
        with pytest.raises(SwitchboardError) as e:
            await c.publish("nope:x", 1)
        assert e.value.code == "UNKNOWN_CHANNEL" and e.value.channel == "nope:x"
        with pytest.raises(ValueError):
            await c.publish("chat:x", float("nan"))  # not JSON: refused before sending
        assert await c.ping() >= 0  # the connection is still fine


@run_async()
async def test_presence_members_and_join_leave(server: Server) -> None:
    async with Client(server.ws_url, user="alice", info={"name": "Alice"}) as a:
        events: List[Any] = []
        sub = await a.subscribe("chat:lobby", presence=True, on_event=events.append)
        await wait_until(lambda: len(sub.members) == 1, what="own presence")
        assert sub.members[0].user == "alice" and sub.members[0].info == {"name": "Alice"}
        b = Client(server.ws_url, user="bob")
        await b.connect()
        await b.subscribe("chat:lobby")
        await wait_until(lambda: any(isinstance(e, Join) for e in events), what="join")
        join = next(e for e in events if isinstance(e, Join))
        assert join.member.user == "bob" and join.member.client == b.client_id
        await wait_until(lambda: {m.user for m in sub.members} == {"alice", "bob"}, what="members")
        members = await a.presence("chat:lobby")
        assert {(m.client, m.user) for m in members} == {(a.client_id, "alice"), (b.client_id, "bob")}
        stats = await a.presence_stats("chat:lobby")
        assert (stats.clients, stats.users) == (2, 2)
        bob_id = b.client_id
        await b.close()
        await wait_until(lambda: any(isinstance(e, Leave) for e in events), what="leave")
        leave = next(e for e in events if isinstance(e, Leave))
        assert leave.member.client == bob_id and leave.member.user == "bob"
        assert [m.user for m in sub.members] == ["alice"]


@run_async()
async def test_typing_indicator_and_client_events(server: Server) -> None:
    async with Client(server.ws_url, user="alice") as a, Client(server.ws_url, user="bob") as b:
        await a.subscribe("chat:typing")
        seen: List[Any] = []
        await b.subscribe("chat:typing", on_event=seen.append)
        async with a.typing("chat:typing", renew_interval=0.5):
            await wait_until(lambda: any(isinstance(e, Typing) and e.typing for e in seen), what="typing on")
            # Renewed: still on after the server's typing_timeout (2 s in the test config).
            await asyncio.sleep(2.5)
            assert [e.typing for e in seen if isinstance(e, Typing)] == [True]
        await wait_until(lambda: [e.typing for e in seen if isinstance(e, Typing)] == [True, False], what="typing off")
        t = next(e for e in seen if isinstance(e, Typing))
        assert t.user == "alice" and t.client == a.client_id

        await a.send_event("chat:typing", "reaction", {"emoji": "+1", "message": 3})
        await wait_until(lambda: any(isinstance(e, ChannelEvent) for e in seen), what="event")
        ev = next(e for e in seen if isinstance(e, ChannelEvent))
        assert (ev.event, ev.data, ev.user) == ("reaction", {"emoji": "+1", "message": 3}, "alice")
        with pytest.raises(SwitchboardError) as e:
            await a.set_typing("chat:not-subscribed")
        assert e.value.code == "PERMISSION_DENIED"


@run_async()
async def test_stream_start_deltas_end_and_late_subscriber_catch_up(server: Server) -> None:
    async with Client(server.ws_url) as a, Client(server.ws_url) as b:
        early = await a.subscribe("ai:answer")
        stream = await server.start_stream("ai:answer", {"model": "demo"})
        assert await server.append(stream, "The answer") == 200
        assert await server.append(stream, " is") == 200
        await wait_until(lambda: early.streams.get(stream) is not None and early.streams[stream].text == "The answer is")
        late = await b.subscribe("ai:answer")  # mid-stream: gets the text so far as one delta
        assert await server.append(stream, " 42.") == 200
        assert await server.end_stream(stream, "done") == 200

        async def collect(sub: Any) -> List[Any]:
            out: List[Any] = []
            async for item in sub.items():
                out.append(item)
                if isinstance(item, Message):
                    return out
            return out

        for sub, first_delta in ((early, "The answer"), (late, "The answer is")):
            items = await asyncio.wait_for(collect(sub), 5)
            start, deltas = items[0], [i for i in items if isinstance(i, StreamDelta)]
            end = next(i for i in items if isinstance(i, StreamEnd))
            assert isinstance(start, StreamStart) and start.stream == stream and start.meta == {"model": "demo"}
            assert deltas[0].delta == first_delta
            assert deltas[-1].text == "The answer is 42."
            assert (end.reason, end.text) == ("done", "The answer is 42.")
            final = items[-1]
            assert isinstance(final, Message) and final.data["text"] == "The answer is 42."
            assert sub.streams == {}


@run_async()
async def test_cancel_stream(server: Server) -> None:
    async with Client(server.ws_url) as c:
        ends: List[StreamEnd] = []
        sub = await c.subscribe("ai:cancel", on_event=lambda e: ends.append(e) if isinstance(e, StreamEnd) else None)
        stream = await server.start_stream("ai:cancel")
        await server.append(stream, "Let me think")
        await wait_until(lambda: stream in sub.streams and sub.streams[stream].text == "Let me think")
        await c.cancel_stream(stream)
        await wait_until(lambda: len(ends) == 1, what="stream_end")
        assert (ends[0].reason, ends[0].text) == ("cancelled", "Let me think")
        assert await server.append(stream, "more") == 404
        with pytest.raises(SwitchboardError) as e:
            await c.cancel_stream(stream)
        assert e.value.code == "NOT_FOUND"


@run_async()
async def test_subscription_buffer_is_bounded(server: Server) -> None:
    async with Client(server.ws_url) as c:
        sub = await c.subscribe("chat:bounded", max_buffer=5)
        for n in range(1, 13):
            await c.publish("chat:bounded", n)
        await wait_until(lambda: sub.position is not None and sub.position.offset == 12)
        # Nobody read: the 5 newest are kept, the 7 oldest were dropped and counted.
        got = []
        async for m in sub:
            got.append(m.data)
            if m.data == 12:
                break
        assert got == [8, 9, 10, 11, 12]
        assert sub.dropped == 7


@run_async()
async def test_close_ends_iterations_and_fails_later_calls(server: Server) -> None:
    client = Client(server.ws_url)
    await client.connect()
    sub = await client.subscribe("chat:closing", wait=False)
    await sub.ready()
    assert sub.state == "subscribed"

    async def drain() -> int:
        return len([m async for m in sub])

    draining = asyncio.ensure_future(drain())
    await client.publish("chat:closing", "x")
    await wait_until(lambda: sub.position is not None and sub.position.offset >= 1)
    await client.close()
    assert await asyncio.wait_for(draining, 5) == 1  # ended, not raised
    assert sub.state == "unsubscribed"
    with pytest.raises(SwitchboardError) as e:
        await client.history("chat:closing")
    assert e.value.code == "CLOSED"
