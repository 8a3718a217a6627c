"""Token authentication against a server with [auth] jwt_secret and anonymous = "never": tokens
from get_token, AUTH_FAILED is final, refresh_required is answered."""

from __future__ import annotations

import asyncio
import time
from typing import Iterator, List

import pytest
from conftest import SECRET, Server, run_async, sign, wait_until

from switchboard_client import Client, ConnectionState, Reconnect, StateChange, SwitchboardError

FAST = Reconnect(min_delay=0.05, max_delay=0.25)

CONFIG = f"""
threads = 2
[auth]
jwt_secret = "{SECRET}"
anonymous = "never"

[namespaces.chat]
client_publish = true
history_size = 100
presence = true
join_leave = true

[namespaces.priv]
access = "private"
client_publish = true
"""


@pytest.fixture(scope="module")
def auth_server() -> Iterator[Server]:
    s = Server(CONFIG)
    s.start()
    yield s
    s.stop()


def now() -> int:
    return int(time.time())


@run_async()
async def test_connects_with_the_token_from_get_token(auth_server: Server) -> None:
    calls: List[int] = []

    async def get_token() -> str:
        calls.append(1)
        return sign({"sub": "alice", "exp": now() + 3600, "info": {"name": "Alice"}})

    async with Client(auth_server.ws_url, get_token=get_token, user="mallory") as c:
        assert c.user == "alice" and len(calls) == 1  # the token's sub, not the claimed user
        await c.subscribe("chat:auth")
        members = await c.presence("chat:auth")
        assert [(m.client, m.user, m.info) for m in members] == [(c.client_id, "alice", {"name": "Alice"})]
        assert (await c.publish("chat:auth", "hi")).offset >= 1


@run_async()
async def test_static_token(auth_server: Server) -> None:
    async with Client(auth_server.ws_url, token=sign({"sub": "bob", "exp": now() + 3600})) as c:
        assert c.user == "bob"


@run_async()
async def test_bad_token_is_final(auth_server: Server) -> None:
    calls: List[int] = []
    changes: List[StateChange] = []
    errors: List[SwitchboardError] = []

    def bad() -> str:
        calls.append(1)
        return sign({"sub": "alice", "exp": now() + 3600}, "another-secret-0123456789abcdef-xyz")

    c = Client(auth_server.ws_url, get_token=bad, reconnect=FAST, on_state=changes.append, on_error=errors.append)
    with pytest.raises(SwitchboardError) as e:
        await c.connect()
    assert e.value.code == "AUTH_FAILED" and not e.value.retryable
    assert c.state is ConnectionState.CLOSED
    await asyncio.sleep(0.5)  # several attempts with FAST, if it retried
    assert len(calls) == 1
    assert [s.state for s in changes].count(ConnectionState.CONNECTING) == 1
    assert changes[-1].error is not None and changes[-1].error.code == "AUTH_FAILED"


@run_async()
async def test_no_token_where_one_is_required_is_final(auth_server: Server) -> None:
    c = Client(auth_server.ws_url, user="anonymous", reconnect=FAST)
    with pytest.raises(SwitchboardError) as e:
        await c.connect()
    assert e.value.code == "AUTH_FAILED"
    assert c.state is ConnectionState.CLOSED


@run_async(30)
async def test_refresh_required_is_answered_with_a_new_token(auth_server: Server) -> None:
    tokens: List[int] = []

    def get_token() -> str:
        # The first token expires in 2 s, so the server asks for a refresh at once.
        exp = now() + (2 if not tokens else 3600)
        tokens.append(exp)
        return sign({"sub": "carol", "exp": exp})

    changes: List[StateChange] = []
    async with Client(auth_server.ws_url, get_token=get_token, on_state=changes.append) as c:
        client_id = c.client_id
        await wait_until(lambda: len(tokens) == 2, what="refresh")
        # Past the first token's expiry: without the refresh the server would close with 4004.
        await wait_until(lambda: time.time() > tokens[0] + 1.5, 6)
        assert c.is_connected and c.client_id == client_id
        assert await c.ping() >= 0
        assert [s.state for s in changes] == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]


@run_async()
async def test_private_channel_takes_a_subscription_token_from_a_function(auth_server: Server) -> None:
    asked: List[str] = []

    def channel_token(channel: str) -> str:
        asked.append(channel)
        return sign({"sub": "dave", "channel": channel, "exp": now() + 600})

    async with Client(auth_server.ws_url, token=sign({"sub": "dave", "exp": now() + 3600})) as c:
        sub = await c.subscribe("priv:room", token=channel_token)
        assert asked == ["priv:room"] and sub.state == "subscribed"
        with pytest.raises(SwitchboardError) as e:
            await c.subscribe("priv:other")
        assert e.value.code == "PERMISSION_DENIED"
        await auth_server.publish("priv:room", "secret")
        assert (await sub.__aiter__().__anext__()).data == "secret"


@run_async()
async def test_a_failing_get_token_is_retried(auth_server: Server) -> None:
    calls: List[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("token service unreachable")
        return sign({"sub": "erin", "exp": now() + 3600})

    errors: List[SwitchboardError] = []
    async with Client(auth_server.ws_url, get_token=flaky, reconnect=FAST, on_error=errors.append) as c:
        assert c.user == "erin" and len(calls) == 3
        assert [e.retryable for e in errors] == [True, True]
