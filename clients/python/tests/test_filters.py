"""Tags and filters (docs/filters.md) against a real server."""

from __future__ import annotations

from typing import List

from conftest import Server, run_async, wait_until

from switchboard_client import Client, Message, SwitchboardError


@run_async()
async def test_a_filtered_subscription_gets_only_its_matches_with_their_tags(server: Server) -> None:
    async with Client(server.ws_url, user="ann") as ann, Client(server.ws_url, user="bob") as bob:
        got: List[Message] = []
        await bob.subscribe("chat:filters", on_message=got.append,
                            filter={"or": [{"eq": ["circle", "12"]}, {"not": {"exists": "circle"}}]})
        await ann.publish("chat:filters", 1, tags={"circle": "12", "project": "7"})
        await ann.publish("chat:filters", 2, tags={"circle": "13"})
        await ann.publish("chat:filters", 3)
        await wait_until(lambda: len(got) == 2, what="two matches")
        assert [m.data for m in got] == [1, 3]
        assert got[0].tags == {"circle": "12", "project": "7"}
        assert got[1].tags is None
        page = await ann.history("chat:filters", filter={"eq": ["circle", "13"]})
        assert [m.data for m in page.messages] == [2]
        assert page.messages[0].tags == {"circle": "13"}


@run_async()
async def test_a_malformed_filter_is_refused(server: Server) -> None:
    async with Client(server.ws_url, user="ann") as ann:
        try:
            await ann.subscribe("chat:bad-filter", filter={"like": ["a", "b"]})
        except SwitchboardError as err:
            assert err.code == "INVALID_FILTER"
        else:
            raise AssertionError("the subscribe was not refused")
