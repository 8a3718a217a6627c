"""The one exception type of the client, and the codes it carries.

Server codes come from docs/errors.md; the client adds its own (``TIMEOUT`` also exists on the
server, in a cluster). Match on :attr:`SwitchboardError.code`, never on the message.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

# Codes the client produces itself.
TIMEOUT = "TIMEOUT"
"""No reply within ``request_timeout`` (retryable)."""
DISCONNECTED = "DISCONNECTED"
"""The connection was lost after the request was sent and before its reply (retryable). For a
publish: the message may or may not have been published; the client never resends it itself."""
CLOSED = "CLOSED"
"""The client is closed (``close()``, close code 4000, 4003 or 4008, ``AUTH_FAILED``): not retryable."""
OFFLINE_QUEUE_FULL = "OFFLINE_QUEUE_FULL"
"""The offline queue holds ``offline_queue_size`` publishes: this one was not queued (retryable)."""
EPOCH_CHANGED = "EPOCH_CHANGED"
"""The channel started a new epoch while :meth:`Client.iter_history` was paging."""
AUTH_FAILED = "AUTH_FAILED"
"""Bad, expired or missing credentials (from the server, or a ``get_token`` that raised)."""

_RETRYABLE_CLIENT_CODES = frozenset({TIMEOUT, DISCONNECTED, OFFLINE_QUEUE_FULL})


class SwitchboardError(Exception):
    """Every failed request, refused subscription and final close raises (or reports) one.

    Attributes:
        code: the server's code (``UNKNOWN_CHANNEL``, ``PERMISSION_DENIED``, ``UNAVAILABLE``, ...,
            see docs/errors.md) or one of the client's (``TIMEOUT``, ``DISCONNECTED``, ``CLOSED``,
            ``OFFLINE_QUEUE_FULL``, ``EPOCH_CHANGED``).
        message: text for people.
        retryable: whether the same request may succeed later.
        request: the request type that failed (``publish``, ``subscribe``, ...), when known.
        channel: the channel concerned, when known.
        retry_after: for ``RATE_LIMIT``, the server's ``retry_after`` in seconds.
    """

    def __init__(
        self,
        code: str,
        message: str,
        retryable: bool = False,
        *,
        request: Optional[str] = None,
        channel: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.request = request
        self.channel = channel
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"SwitchboardError({self.code!r}, {self.message!r}, retryable={self.retryable})"

    @classmethod
    def from_frame(
        cls, frame: Mapping[str, Any], *, request: Optional[str] = None, channel: Optional[str] = None
    ) -> "SwitchboardError":
        """Builds the error an ``error`` frame describes."""
        retry_after = frame.get("retry_after")
        return cls(
            str(frame.get("code", "SERVER_ERROR")),
            str(frame.get("message", "error")),
            frame.get("retryable") is True,
            request=request,
            channel=channel,
            retry_after=retry_after / 1000.0 if isinstance(retry_after, (int, float)) else None,
        )

    @classmethod
    def client(
        cls, code: str, message: str, *, request: Optional[str] = None, channel: Optional[str] = None
    ) -> "SwitchboardError":
        """An error the client itself produces; retryable per the code."""
        return cls(code, message, code in _RETRYABLE_CLIENT_CODES, request=request, channel=channel)
