"""Test harness: runs the real ``switchboard serve`` on a free loopback port with its own data dir
and config, restarts it on the same port, drives its HTTP API, and signs HS256 tokens.

Binary: $SWITCHBOARD_BIN, else <repo>/build/switchboard. Tests are plain functions wrapped by
:func:`run_async` (each runs its coroutine with ``asyncio.run`` under a deadline), so nothing
beyond pytest is needed.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, Optional, Tuple

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package directory: no install step

SERVER_BIN = Path(os.environ.get("SWITCHBOARD_BIN", HERE.parents[2] / "build" / "switchboard")).resolve()

DEFAULT_CONFIG = """
threads = 2
log_level = "info"

[limits]
typing_timeout = 2

[namespaces.chat]
client_publish = true
history_size = 1000
presence = true
join_leave = true

[namespaces.live]
client_publish = true
presence = true
join_leave = true

[namespaces.ai]
client_publish = true
history_size = 100
"""

SECRET = "test-secret-0123456789abcdef-0123456789"


class Server:
    """One ``switchboard serve`` child process; ``restart()`` keeps the port and the data dir."""

    def __init__(self, config: str = DEFAULT_CONFIG) -> None:
        if not SERVER_BIN.is_file():
            raise RuntimeError(f"server binary not found at {SERVER_BIN}: build it, or set SWITCHBOARD_BIN")
        self.dir = Path(tempfile.mkdtemp(prefix="sb-py-test-"))
        self.data_dir = self.dir / "data"
        self.config_path = self.dir / "switchboard.toml"
        self.config_path.write_text(config)
        self.port = 0
        self.proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Starts the process (on the previous port after a restart: retried while it lingers)."""
        assert self.proc is None, "already running"
        deadline = time.monotonic() + 10
        while True:
            try:
                return self._spawn_once()
            except RuntimeError:
                if self.port == 0 or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _spawn_once(self) -> None:
        args = [str(SERVER_BIN), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir),
                "--config", str(self.config_path)]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        found = threading.Event()
        lines: list[str] = []
        ports: list[int] = []

        def pump() -> None:  # reads the log for the port, then keeps the pipe drained
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode(errors="replace")
                lines.append(line)
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
                if m and not ports:
                    ports.append(int(m.group(1)))
                    found.set()
            found.set()  # exited

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(10) or not ports:
            proc.kill()
            proc.wait()
            raise RuntimeError("server did not start:\n" + "".join(lines))
        self.port = ports[0]
        self.proc = proc

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Sends ``sig`` (SIGKILL by default) and waits for the process to exit."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(sig)
        proc.wait(timeout=15)

    def pause(self) -> None:
        """SIGSTOP: the server stops answering, its sockets stay open (a half-open peer)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGSTOP)
        # The signal is delivered asynchronously: wait until the kernel shows the process stopped.
        stat = Path(f"/proc/{self.proc.pid}/stat")
        deadline = time.monotonic() + 5
        while stat.read_text().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not stop")
            time.sleep(0.005)

    def resume(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.kill()
        self.start()

    def wipe_history(self) -> None:
        """Deletes the history store (the server must be stopped): channels start new epochs."""
        for f in self.data_dir.glob("history.db*"):
            f.unlink()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- HTTP API (blocking; call through `api` from async code) --------------------------------

    def api_sync(self, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.http_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                text = res.read().decode()
                return res.status, json.loads(text) if text else None
        except urllib.error.HTTPError as err:
            text = err.read().decode()
            return err.code, json.loads(text) if text else None

    async def api(self, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
        return await asyncio.get_running_loop().run_in_executor(None, self.api_sync, method, path, body)

    async def publish(self, channel: str, data: Any) -> Dict[str, Any]:
        status, body = await self.api("POST", "/api/publish", {"channel": channel, "data": data})
        assert status == 200, f"publish failed: {status} {body}"
        return body

    async def disconnect(self, client: str) -> int:
        status, body = await self.api("POST", "/api/disconnect", {"client": client})
        assert status == 200, f"disconnect failed: {status} {body}"
        return int(body["disconnected"])

    async def start_stream(self, channel: str, meta: Optional[Dict[str, Any]] = None) -> str:
        status, body = await self.api("POST", "/api/streams", {"channel": channel, **({"meta": meta} if meta else {})})
        assert status == 200, f"stream start failed: {status} {body}"
        return str(body["stream"])

    async def append(self, stream: str, delta: str) -> int:
        status, _ = await self.api("POST", f"/api/streams/{stream}/append", {"delta": delta})
        return status

    async def end_stream(self, stream: str, reason: Optional[str] = None) -> int:
        status, _ = await self.api("POST", f"/api/streams/{stream}/end", {"reason": reason} if reason else {})
        return status


def run_async(timeout: float = 30.0) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., None]]:
    """Turns an ``async def`` test into a plain one run by ``asyncio.run`` within ``timeout``."""

    def wrap(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
        @functools.wraps(fn)
        def test(*args: Any, **kwargs: Any) -> None:
            asyncio.run(asyncio.wait_for(fn(*args, **kwargs), timeout))

        return test

    return wrap


async def wait_until(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Polls ``cond`` until it holds; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def sign(claims: Dict[str, Any], secret: str = SECRET) -> str:
    """An HS256 JWT, made with the standard library."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """One server for a test module, with DEFAULT_CONFIG (tests use distinct channels)."""
    s = Server()
    s.start()
    yield s
    s.stop()


@pytest.fixture
def fresh_server() -> Iterator[Server]:
    """A server of its own, for tests that kill or restart it."""
    s = Server()
    s.start()
    yield s
    s.stop()


class Gate:
    """A TCP proxy in front of the server, standing for the network: while ``open`` is False it
    drops new connections at once, and ``cut()`` drops the open ones without a close frame (the
    client sees 1006). Runs on the test's event loop."""

    def __init__(self, target: Server) -> None:
        self.target = target
        self.open = True
        self.port = 0
        self._server: Optional[asyncio.AbstractServer] = None
        self._conns: set[Tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def __aenter__(self) -> "Gate":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        for a, b in list(self._conns):
            a.transport.abort()
            b.transport.abort()
        self._conns.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target.port)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._conns.add(pair)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()  # after what was written (cut() aborts instead)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._conns.discard(pair)
