"""A typing indicator kept alive while the user types (the server ends one that is not renewed
within ``limits.typing_timeout``, 5 s by default)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Optional

from .errors import CLOSED, DISCONNECTED, SwitchboardError

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

log = logging.getLogger("switchboard_client")


class TypingIndicator:
    """Sends ``typing: true`` on :meth:`start` and renews it every ``renew_interval`` seconds
    (also after a reconnection, where the server forgot it) until :meth:`stop` sends ``false``.
    Use it as an async context manager, or call start/stop. The channel must be subscribed."""

    def __init__(self, client: "Client", channel: str, renew_interval: float = 2.0) -> None:
        self.channel = channel
        self._client = client
        self._renew_interval = renew_interval
        self._task: Optional[asyncio.Task[None]] = None

    @property
    def active(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        """Turns the indicator on (raises if the server refuses, e.g. not subscribed)."""
        if self._task is not None:
            return
        await self._client.set_typing(self.channel, True)
        self._task = asyncio.get_running_loop().create_task(self._renew())

    async def stop(self) -> None:
        """Turns it off; a lost connection already ended it on the server."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        try:
            await self._client.set_typing(self.channel, False)
        except SwitchboardError as err:
            if err.code not in (DISCONNECTED, CLOSED):
                raise

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._renew_interval)
            try:
                await self._client.set_typing(self.channel, True)
            except SwitchboardError as err:
                if err.code == CLOSED:
                    return
                log.debug("typing renewal in %s failed: %s", self.channel, err)

    async def __aenter__(self) -> "TypingIndicator":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
