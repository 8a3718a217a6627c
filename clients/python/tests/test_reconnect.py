"""Reconnection, recovery, reset, final closes, backoff and the offline queue, with the real
server killed, restarted, paused and cut off by a proxy (Gate)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any, List

import pytest
from conftest import Gate, Server, run_async, wait_until

from switchboard_client import (
    Client,
    ConnectionState,
    Item,
    Message,
    Position,
    Reconnect,
    Reset,
    StateChange,
    SwitchboardError,
)

FAST = Reconnect(min_delay=0.05, max_delay=0.25)


def collect(sub: Any, into: List[Item]) -> "asyncio.Task[None]":
    """Drains every item of ``sub`` into ``into`` in the background."""

    async def run() -> None:
        async for item in sub.items():
            into.append(item)

    return asyncio.get_running_loop().create_task(run())


@run_async(60)
async def test_recovers_everything_once_in_order_after_kill_9_and_restart(fresh_server: Server) -> None:
    server = fresh_server
    async with Gate(server) as gate:
        changes: List[StateChange] = []
        client = Client(gate.ws_url, reconnect=FAST, on_state=changes.append)
        await client.connect()
        sub = await client.subscribe("chat:recover")
        items: List[Item] = []
        task = collect(sub, items)
        for n in range(1, 4):
            await server.publish("chat:recover", n)
        await wait_until(lambda: len(items) == 3, what="first messages")
        epoch = sub.position.epoch if sub.position else ""

        # The server dies; the client cannot reach it again until the gate opens.
        gate.open = False
        server.kill(signal.SIGKILL)
        await wait_until(lambda: client.state is not ConnectionState.CONNECTED, what="connection lost")
        server.start()  # same port, same data dir
        for n in range(4, 9):
            await server.publish("chat:recover", n)
        # Publishes made while offline wait in the offline queue.
        queued = [asyncio.ensure_future(client.publish("chat:recover", f"q{n}")) for n in (1, 2)]
        await wait_until(lambda: client.queue_size == 2, what="queued publishes")
        failed_attempts = lambda: sum(1 for c in changes if c.state is ConnectionState.DISCONNECTED)  # noqa: E731
        await wait_until(lambda: failed_attempts() >= 3, what="a few failed attempts")
        assert client.state is not ConnectionState.CONNECTED

        gate.open = True
        await client.wait_connected()
        results = await asyncio.gather(*queued)
        assert [r.offset for r in results] == [9, 10]  # after the recovered ones, in call order
        await server.publish("chat:recover", "last")
        # The server keeps one connection's order: a duplicate would arrive before "last".
        await wait_until(lambda: bool(items) and getattr(items[-1], "data", None) == "last", what="live message")

        assert all(isinstance(i, Message) for i in items), items  # no Reset
        assert [i.data for i in items] == [1, 2, 3, 4, 5, 6, 7, 8, "q1", "q2", "last"]  # type: ignore[union-attr]
        assert [i.offset for i in items] == list(range(1, 12))  # type: ignore[union-attr]
        assert sub.position == Position(11, epoch)
        lost = next(c for c in changes if c.state is ConnectionState.DISCONNECTED)
        assert lost.code == 1006 and lost.retry_in is not None
        task.cancel()
        await client.close()


@run_async(60)
async def test_reset_when_the_server_lost_its_history(fresh_server: Server) -> None:
    server = fresh_server
    async with Gate(server) as gate, Client(gate.ws_url, reconnect=FAST) as client:
        sub = await client.subscribe("chat:wiped")
        items: List[Item] = []
        task = collect(sub, items)
        await server.publish("chat:wiped", "old-1")
        await server.publish("chat:wiped", "old-2")
        await wait_until(lambda: len(items) == 2)
        old_epoch = sub.position.epoch if sub.position else ""

        gate.open = False
        server.kill()
        server.wipe_history()
        server.start()
        await server.publish("chat:wiped", "lost")  # offset 1 of a new epoch
        gate.open = True
        await wait_until(lambda: any(isinstance(i, Reset) for i in items), what="reset")
        reset = next(i for i in items if isinstance(i, Reset))
        assert reset.previous == Position(2, old_epoch)
        assert reset.epoch != old_epoch and reset.offset == 1
        assert sub.position == Position(1, reset.epoch)

        # The application reloads from history, then live messages go on in the new epoch.
        page = await sub.history()
        assert [m.data for m in page.messages] == ["lost"]
        await server.publish("chat:wiped", "new")
        await wait_until(lambda: len(items) == 4)
        last = items[-1]
        assert isinstance(last, Message) and (last.data, last.offset, last.epoch) == ("new", 2, reset.epoch)
        task.cancel()


@run_async(60)
async def test_resumes_from_a_saved_position(server: Server) -> None:
    async with Client(server.ws_url) as client:
        sub = await client.subscribe("chat:saved")
        for n in range(1, 4):
            await client.publish("chat:saved", n)
        await wait_until(lambda: sub.position is not None and sub.position.offset == 3)
        saved = sub.position
        await sub.unsubscribe()
        for n in range(4, 6):
            await client.publish("chat:saved", n)
        again = await client.subscribe("chat:saved", since=saved)
        got = []
        async for m in again:
            got.append(m.data)
            if m.data == 5:
                break
        assert got == [4, 5]
        # A position from another epoch cannot be continued: a Reset, then live messages.
        await again.unsubscribe()
        other = await client.subscribe("chat:saved", since=Position(3, "0123456789ab"))
        first = await other.items().__anext__()
        assert isinstance(first, Reset) and first.offset == 5 and first.previous == Position(3, "0123456789ab")


@run_async(60)
async def test_graceful_shutdown_1001_reconnects(fresh_server: Server) -> None:
    server = fresh_server
    changes: List[StateChange] = []
    async with Client(server.ws_url, reconnect=FAST, on_state=changes.append) as client:
        got: List[Any] = []
        await client.subscribe("chat:restart", on_message=lambda m: got.append(m.data))
        server.kill(signal.SIGTERM)
        server.start()
        await wait_until(lambda: client.is_connected and len(changes) >= 4, what="reconnected")
        await server.publish("chat:restart", "after")
        await wait_until(lambda: got == ["after"])
        assert next(c for c in changes if c.state is ConnectionState.DISCONNECTED).code == 1001


@run_async(60)
async def test_close_4000_is_final(server: Server) -> None:
    changes: List[StateChange] = []
    client = Client(server.ws_url, reconnect=FAST, on_state=changes.append)
    await client.connect()
    sub = await client.subscribe("chat:kicked")
    assert await server.disconnect(client.client_id or "") == 1
    await wait_until(lambda: client.state is ConnectionState.CLOSED, what="closed")
    await asyncio.sleep(0.5)  # would be several reconnection attempts with FAST
    assert [c.state for c in changes].count(ConnectionState.CONNECTING) == 1
    assert changes[-1].code == 4000 and changes[-1].error is not None
    with pytest.raises(SwitchboardError) as e:
        await sub.items().__anext__()
    assert e.value.code == "CLOSED"
    with pytest.raises(SwitchboardError):
        await client.publish("chat:kicked", 1)


@run_async(60)
async def test_requests_in_flight_fail_with_disconnected(fresh_server: Server) -> None:
    server = fresh_server
    async with Gate(server) as gate, Client(gate.ws_url, reconnect=FAST, ping_interval=None) as client:
        server.pause()  # the request cannot be answered
        try:
            request = asyncio.ensure_future(client.history("chat:x"))
            await asyncio.sleep(0.05)
            gate.cut()
            with pytest.raises(SwitchboardError) as e:
                await request
            assert e.value.code == "DISCONNECTED" and e.value.retryable
        finally:
            server.resume()
        await client.wait_connected()
        assert (await client.history("chat:x")).channel == "chat:x"


@run_async(60)
async def test_heartbeat_drops_a_dead_connection(fresh_server: Server) -> None:
    server = fresh_server
    changes: List[StateChange] = []
    async with Client(server.ws_url, reconnect=FAST, ping_interval=0.2, ping_timeout=0.3,
                      on_state=changes.append) as client:
        server.pause()
        try:
            await wait_until(lambda: client.state is not ConnectionState.CONNECTED, 5, "dead connection noticed")
        finally:
            server.resume()
        await client.wait_connected()
        assert await client.ping() >= 0


@run_async(60)
async def test_offline_queue_is_bounded_and_flushed_in_order(server: Server) -> None:
    client = Client(server.ws_url, offline_queue_size=3)
    queued = [asyncio.ensure_future(client.publish("chat:queue", n)) for n in range(1, 4)]
    await asyncio.sleep(0)
    assert client.queue_size == 3
    with pytest.raises(SwitchboardError) as e:
        await client.publish("chat:queue", 4)
    assert e.value.code == "OFFLINE_QUEUE_FULL" and e.value.retryable
    await client.connect()
    offsets = [r.offset for r in await asyncio.gather(*queued)]
    assert offsets == sorted(offsets) and len(set(offsets)) == 3
    page = await client.history("chat:queue")
    assert [m.data for m in page.messages][-3:] == [1, 2, 3]

    # close() fails what is still queued with CLOSED.
    await client.close()
    offline = Client(server.ws_url)
    pending = asyncio.ensure_future(offline.publish("chat:queue", "never"))
    await asyncio.sleep(0)
    await offline.close()
    with pytest.raises(SwitchboardError) as e:
        await pending
    assert e.value.code == "CLOSED" and not e.value.retryable


@run_async(60)
async def test_backoff_is_full_jitter_under_the_cap(server: Server) -> None:
    async with Gate(server) as gate:
        gate.open = False
        policy = Reconnect(min_delay=0.02, max_delay=0.16, factor=2)
        changes: List[StateChange] = []
        client = Client(gate.ws_url, reconnect=policy, on_state=changes.append)
        attempt = asyncio.ensure_future(client.connect())
        delays = lambda: [c.retry_in for c in changes if c.retry_in is not None]  # noqa: E731
        await wait_until(lambda: len(delays()) >= 12, 10, "attempts")
        got = delays()[:12]
        caps = [policy.cap(n) for n in range(12)]
        assert all(0 <= d <= cap for d, cap in zip(got, caps)), (got, caps)
        assert caps[-1] == 0.16  # capped
        assert any(d < 0.9 * cap for d, cap in zip(got, caps)), got  # random, not the cap itself
        gate.open = True
        await attempt
        await client.close()


@run_async(60)
async def test_max_attempts_closes(server: Server) -> None:
    async with Gate(server) as gate:
        gate.open = False
        client = Client(gate.ws_url, reconnect=Reconnect(min_delay=0.01, max_delay=0.02, max_attempts=3))
        with pytest.raises(SwitchboardError) as e:
            await client.connect()
        assert e.value.code == "CLOSED" and "3 attempts" in e.value.message
        assert client.state is ConnectionState.CLOSED


@run_async(60)
async def test_duplicate_offsets_on_the_wire_are_delivered_once(server: Server) -> None:
    async with Client(server.ws_url) as client:
        sub = await client.subscribe("chat:dup")
        items: List[Item] = []
        task = collect(sub, items)
        for n in range(1, 4):
            await client.publish("chat:dup", n)
        await wait_until(lambda: len(items) == 3)
        # A repeated subscribe with `since` makes the server send messages 1..3 again.
        epoch = sub.position.epoch if sub.position else ""
        reply = await client.request({"type": "subscribe", "channel": "chat:dup", "since": {"offset": 0, "epoch": epoch}})
        assert reply["recovered"] is True
        await client.publish("chat:dup", 4)
        await wait_until(lambda: bool(items) and getattr(items[-1], "data", None) == 4)  # after any resent ones
        assert [i.offset for i in items] == [1, 2, 3, 4]  # type: ignore[union-attr]
        task.cancel()


@run_async(60)
async def test_a_stream_that_ended_while_away_is_recovered_as_its_message(fresh_server: Server) -> None:
    server = fresh_server
    async with Gate(server) as gate, Client(gate.ws_url, reconnect=FAST) as client:
        sub = await client.subscribe("ai:away")
        items: List[Item] = []
        task = collect(sub, items)
        stream = await server.start_stream("ai:away")
        await server.append(stream, "partial")
        await wait_until(lambda: stream in sub.streams)
        gate.open = False
        gate.cut()
        await wait_until(lambda: not client.is_connected)
        await server.append(stream, " and the rest")
        await server.end_stream(stream)
        gate.open = True
        await wait_until(lambda: isinstance(items[-1], Message), what="the finished message")
        assert items[-1].data["text"] == "partial and the rest"  # type: ignore[union-attr]
        assert sub.streams == {}  # not left running: it was not announced again
        task.cancel()


@run_async(60)
async def test_backoff_starts_over_after_a_stable_connection(fresh_server: Server) -> None:
    server = fresh_server
    async with Gate(server) as gate:
        policy = Reconnect(min_delay=0.01, max_delay=10, factor=4, reset_after=0.3)
        changes: List[StateChange] = []
        client = Client(gate.ws_url, reconnect=policy, on_state=changes.append)
        await client.connect()
        gate.open = False
        gate.cut()
        delays = lambda: [c.retry_in for c in changes if c.retry_in is not None]  # noqa: E731
        await wait_until(lambda: len(delays()) >= 5, 10, "failed attempts")  # the next cap is 10 s
        gate.open = True
        await wait_until(lambda: client.is_connected, 10)
        await asyncio.sleep(0.5)  # stays up longer than reset_after
        before = len(delays())
        gate.cut()
        await wait_until(lambda: len(delays()) > before)
        assert delays()[before] <= policy.cap(0)
        await client.close()


@run_async(60)
async def test_without_reconnect_a_lost_connection_stays_lost(fresh_server: Server) -> None:
    server = fresh_server
    changes: List[StateChange] = []
    client = Client(server.ws_url, reconnect=False, on_state=changes.append)
    await client.connect()
    server.restart()
    await wait_until(lambda: client.state is ConnectionState.DISCONNECTED, what="lost")
    assert changes[-1].retry_in is None
    with pytest.raises(SwitchboardError) as e:
        await client.wait_connected()
    assert e.value.code == "DISCONNECTED"
    await client.connect()  # by hand
    assert client.is_connected
    await client.close()


@run_async(60)
async def test_an_upgrade_refused_with_404_is_final(server: Server) -> None:
    changes: List[StateChange] = []
    client = Client(f"ws://127.0.0.1:{server.port}/not-ws", reconnect=FAST, on_state=changes.append)
    with pytest.raises(SwitchboardError) as e:
        await client.connect()
    assert e.value.code == "NOT_FOUND" and "404" in e.value.message
    assert [c.state for c in changes].count(ConnectionState.CONNECTING) == 1
