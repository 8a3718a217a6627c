#!/usr/bin/python3
"""RFC 6455 / 7692 conformance of the /echo endpoint, by the case families of the Autobahn
testsuite (sections 1-7, 9 scaled down, 12-13). Our own cases, written from what each family
sends and expects; raw sockets, because many cases send frames no WebSocket library would.

Every case runs on its own connection to the real server binary (started here with --echo) and
checks the exact frames that come back: the echoed messages, the pongs, then either the close
frame answering ours (1000) or the close code the server fails the connection with, and that
the server then closes TCP. Each read waits with a deadline; nothing sleeps to wait for a state.

Usage: ws_conformance.py SWITCHBOARD_BINARY [-k substring]
"""
import base64, os, random, socket, struct, subprocess, sys, tempfile, time, zlib

DEADLINE = 5.0  # seconds for any one expected frame or close
MAX_MESSAGE = 1 << 20  # limits.max_message_size of the server under test (section 9 scales to it)


class Peer:
    """One client connection speaking raw frames."""

    def __init__(self, port, extensions=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % key)
        if extensions:
            req += "Sec-WebSocket-Extensions: %s\r\n" % extensions
        self.sock.sendall((req + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.response = head.decode("latin-1")
        if not self.response.startswith("HTTP/1.1 101"):
            raise AssertionError("upgrade refused: " + self.response.splitlines()[0])
        self.extensions = ""
        for line in self.response.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions":
                self.extensions = value.strip()

    def _recv(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise EOFError
        return data

    def send_raw(self, data, chop=None):
        """Writes bytes as they are, or in pieces of `chop` bytes (each its own send)."""
        if not chop:
            self.sock.sendall(data)
            return
        for i in range(0, len(data), chop):
            self.sock.sendall(data[i:i + chop])

    @staticmethod
    def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None):
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload) if length is None else length
        if n < 126:
            head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if not mask:
            return head + payload
        key = os.urandom(4)
        return head + key + mask_bytes(payload, key)

    def send(self, opcode, payload=b"", fin=True, rsv=0, chop=None):
        self.send_raw(self.frame(opcode, payload, fin, rsv), chop)

    def send_close(self, code=None, reason=b""):
        self.send(8, b"" if code is None else struct.pack("!H", code) + reason)

    def recv_frame(self):
        """(opcode, fin, rsv, payload) of the next server frame; EOFError when TCP closed."""
        deadline = time.monotonic() + DEADLINE
        while True:
            f = self._parse()
            if f:
                return f
            if time.monotonic() > deadline:
                raise AssertionError("no frame within %ss" % DEADLINE)
            try:
                self.buf += self._recv()
            except socket.timeout:
                raise AssertionError("no frame within %ss" % DEADLINE)

    def _parse(self):
        b = self.buf
        if len(b) < 2:
            return None
        assert not b[1] & 0x80, "server frame is masked"
        n, pos = b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, pos = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, pos = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < pos + n:
            return None
        self.buf = b[pos + n:]
        return (b[0] & 0x0F, bool(b[0] & 0x80), (b[0] >> 4) & 7, b[pos:pos + n])

    def expect(self, opcode, payload):
        op, fin, rsv, data = self.recv_frame()
        assert (op, fin, rsv) == (opcode, True, 0), "expected opcode %d, got %d fin=%s rsv=%d (%r)" % (
            opcode, op, fin, rsv, data[:60])
        assert data == payload, "payload differs: %d bytes expected, %d got (%r...)" % (
            len(payload), len(data), data[:40])

    def expect_close(self, code):
        """The server's close frame carries `code`, then the server closes TCP."""
        op, fin, rsv, data = self.recv_frame()
        assert op == 8, "expected close %d, got opcode %d (%r)" % (code, op, data[:60])
        got = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
        assert got == code, "expected close code %s, got %s (%r)" % (code, got, data[2:])
        self.expect_eof()

    def expect_eof(self):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(1 << 16)
            except ConnectionResetError:
                return
            except socket.timeout:
                break
            if not data:
                return
            raise AssertionError("bytes after the close frame: %r" % data[:40])
        raise AssertionError("server did not close TCP")

    def finish(self):
        """A clean end: our close 1000 is echoed and TCP closed. Proves nothing else was sent."""
        self.send_close(1000)
        self.expect_close(1000)

    def close(self):
        self.sock.close()


def mask_bytes(payload, key):
    if not payload:
        return b""
    k = int.from_bytes((key * (len(payload) // 4 + 1))[:len(payload)], "little")
    return (int.from_bytes(payload, "little") ^ k).to_bytes(len(payload), "little")


TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0
CASES = []  # (section, name, function(port))


def case(section, name):
    def register(fn):
        CASES.append((section, name, fn))
        return fn
    return register


def add(section, name, fn):
    CASES.append((section, name, fn))


def scenario(steps, extensions=None):
    """A case as a list of steps on one connection:
    ("send", opcode, payload[, fin, rsv, chop]), ("raw", bytes[, chop]), ("echo", opcode, payload),
    ("pong", payload), ("close", code) (expect the server to fail/close with code), ("finish",),
    ("close_send", code, reason)."""
    def run(port):
        p = Peer(port, extensions)
        try:
            for s in steps:
                kind = s[0]
                if kind == "send":
                    opcode, payload = s[1], s[2]
                    fin = s[3] if len(s) > 3 else True
                    rsv = s[4] if len(s) > 4 else 0
                    chop = s[5] if len(s) > 5 else None
                    p.send(opcode, payload, fin, rsv, chop)
                elif kind == "raw":
                    p.send_raw(s[1], s[2] if len(s) > 2 else None)
                elif kind == "echo":
                    p.expect(s[1], s[2])
                elif kind == "pong":
                    p.expect(PONG, s[1])
                elif kind == "close":
                    p.expect_close(s[1])
                elif kind == "close_send":
                    p.send_close(s[1], s[2] if len(s) > 2 else b"")
                elif kind == "finish":
                    p.finish()
                else:
                    raise ValueError(kind)
        finally:
            p.close()
    return run


def payload_of(n, text=True):
    unit = b"*" if text else bytes(range(256))
    return (unit * (n // len(unit) + 1))[:n]


# --- 1. Framing: text and binary messages of sizes around each length encoding --------------
for i, n in enumerate([0, 125, 126, 127, 128, 65535, 65536]):
    add("1", "1.1.%d text %d bytes" % (i + 1, n), scenario([("send", TEXT, payload_of(n)), ("echo", TEXT, payload_of(n)), ("finish",)]))
    add("1", "1.2.%d binary %d bytes" % (i + 1, n), scenario([("send", BINARY, payload_of(n, False)), ("echo", BINARY, payload_of(n, False)), ("finish",)]))
add("1", "1.1.8 text 65536 bytes written in 997-byte pieces",
    scenario([("send", TEXT, payload_of(65536), True, 0, 997), ("echo", TEXT, payload_of(65536)), ("finish",)]))
add("1", "1.2.8 binary 65536 bytes written in 997-byte pieces",
    scenario([("send", BINARY, payload_of(65536, False), True, 0, 997), ("echo", BINARY, payload_of(65536, False)), ("finish",)]))

# --- 2. Pings and pongs ---------------------------------------------------------------------
add("2", "2.1 ping without payload", scenario([("send", PING, b""), ("pong", b""), ("finish",)]))
add("2", "2.2 ping with text payload", scenario([("send", PING, b"Hello, world!"), ("pong", b"Hello, world!"), ("finish",)]))
add("2", "2.3 ping with binary payload", scenario([("send", PING, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), ("pong", b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), ("finish",)]))
add("2", "2.4 ping with 125-byte payload", scenario([("send", PING, b"\xfe" * 125), ("pong", b"\xfe" * 125), ("finish",)]))
add("2", "2.5 ping with 126-byte payload: protocol error", scenario([("raw", Peer.frame(PING, b"\xfe" * 126)), ("close", 1002)]))
add("2", "2.6 125-byte ping written a byte at a time", scenario([("send", PING, b"\xfe" * 125, True, 0, 1), ("pong", b"\xfe" * 125), ("finish",)]))
add("2", "2.7 unsolicited pong without payload: ignored", scenario([("send", PONG, b""), ("finish",)]))
add("2", "2.8 unsolicited pong with payload: ignored", scenario([("send", PONG, b"unsolicited pong payload"), ("finish",)]))
add("2", "2.9 unsolicited pong, then ping", scenario([("send", PONG, b"unsolicited pong payload"), ("send", PING, b"ping payload"), ("pong", b"ping payload"), ("finish",)]))


def ten_pings(chop):
    """RFC 6455 5.5.3 lets an endpoint answer only the latest of several pings: pongs come in
    order, each the payload of a ping sent, and the last one answers the last ping."""
    def run(port):
        p = Peer(port)
        try:
            payloads = [b"payload-%d" % i for i in range(10)]
            for i, pl in enumerate(payloads):
                p.send(PING, pl, chop=chop)
            seen = -1
            while seen < 9:
                op, fin, rsv, data = p.recv_frame()
                assert op == PONG and data in payloads, (op, data)
                idx = payloads.index(data)
                assert idx > seen, "pongs out of order"
                seen = idx
            p.finish()
        finally:
            p.close()
    return run


add("2", "2.10 ten pings", ten_pings(None))
add("2", "2.11 ten pings written a byte at a time", ten_pings(1))

# --- 3. Reserved bits: protocol error (RSV1 too, as no extension is negotiated) --------------
for i, (rsv, op, payload, first) in enumerate([
        (1, TEXT, b"Hello, world!", False), (2, TEXT, b"Hello, world!", True), (3, TEXT, b"Hello, world!", True),
        (4, TEXT, b"Hello, world!", True), (5, BINARY, bytes(range(8)), False), (6, PING, b"Hello, world!", False),
        (7, CLOSE, b"", False)]):
    steps = []
    if first:  # a valid message first: it is echoed, then the bad frame fails the connection
        steps += [("send", TEXT, b"Hello, world!"), ("echo", TEXT, b"Hello, world!")]
    steps += [("send", op, payload, True, rsv), ("close", 1002)]
    add("3", "3.%d RSV=%d on opcode %d" % (i + 1, rsv, op), scenario(steps))

# --- 4. Reserved opcodes: protocol error --------------------------------------------------------
for i, op in enumerate([3, 4, 5, 6, 7]):
    add("4", "4.1.%d reserved data opcode %d" % (i + 1, op),
        scenario([("send", TEXT, b"Hello"), ("echo", TEXT, b"Hello"), ("send", op, b"reserved" if i % 2 else b""),
                  ("close", 1002)]))
for i, op in enumerate([0xB, 0xC, 0xD, 0xE, 0xF]):
    add("4", "4.2.%d reserved control opcode %d" % (i + 1, op),
        scenario([("send", TEXT, b"Hello"), ("echo", TEXT, b"Hello"), ("send", op, b"reserved" if i % 2 else b""),
                  ("close", 1002)]))

# --- 5. Fragmentation ----------------------------------------------------------------------------
F1, F2 = b"fragment1", b"fragment2"
add("5", "5.1 ping in two fragments: protocol error", scenario([("send", PING, F1, False), ("send", CONT, F2), ("close", 1002)]))
add("5", "5.2 pong in two fragments: protocol error", scenario([("send", PONG, F1, False), ("send", CONT, F2), ("close", 1002)]))
for i, chop in enumerate([None, 1]):
    add("5", "5.%d text in two fragments%s" % (3 + i, " written a byte at a time" if chop else ""),
        scenario([("send", TEXT, F1, False, 0, chop), ("send", CONT, F2, True, 0, chop), ("echo", TEXT, F1 + F2), ("finish",)]))
add("5", "5.5 text in two fragments, each its own write with a pause-free interleave",
    scenario([("send", TEXT, F1, False), ("send", CONT, F2), ("send", TEXT, b"after"), ("echo", TEXT, F1 + F2), ("echo", TEXT, b"after"), ("finish",)]))
for i, chop in enumerate([None, 1]):
    add("5", "5.%d text in two fragments, a ping between%s" % (6 + i, " written a byte at a time" if chop else ""),
        scenario([("send", TEXT, F1, False, 0, chop), ("send", PING, b"ping", True, 0, chop), ("send", CONT, F2, True, 0, chop),
                  ("pong", b"ping"), ("echo", TEXT, F1 + F2), ("finish",)]))
add("5", "5.8 text in two fragments, a pong between",
    scenario([("send", TEXT, F1, False), ("send", PONG, b"pong"), ("send", CONT, F2), ("echo", TEXT, F1 + F2), ("finish",)]))
for i, chop in enumerate([None, 1]):
    add("5", "5.%d final continuation without a start: protocol error%s" % (9 + i, " (byte at a time)" if chop else ""),
        scenario([("send", CONT, b"non-continuation payload", True, 0, chop), ("send", TEXT, b"Hello"), ("close", 1002)]))
for i, chop in enumerate([None, 1]):
    add("5", "5.%d non-final continuation without a start: protocol error%s" % (11 + i, " (byte at a time)" if chop else ""),
        scenario([("send", CONT, b"non-continuation payload", False, 0, chop), ("send", TEXT, b"Hello"), ("close", 1002)]))
add("5", "5.13 continuation after a whole message: protocol error",
    scenario([("send", TEXT, b"Hello"), ("echo", TEXT, b"Hello"), ("send", CONT, b"more", True), ("close", 1002)]))
add("5", "5.14 a fragmented message, then a stray continuation: protocol error",
    scenario([("send", TEXT, F1, False), ("send", CONT, F2), ("echo", TEXT, F1 + F2), ("send", CONT, b"fragment3", False),
              ("close", 1002)]))
add("5", "5.15 a text frame where a continuation belongs: protocol error",
    scenario([("send", TEXT, F1, False), ("send", TEXT, F2), ("close", 1002)]))
add("5", "5.16 a binary frame where a continuation belongs: protocol error",
    scenario([("send", TEXT, F1, False), ("send", BINARY, F2, False), ("close", 1002)]))
add("5", "5.17 binary in three fragments with pings between",
    scenario([("send", BINARY, b"\x00\x01", False), ("send", PING, b"p1"), ("pong", b"p1"), ("send", CONT, b"\x02", False),
              ("send", PING, b"p2"), ("pong", b"p2"), ("send", CONT, b"\x03\xff"),
              ("echo", BINARY, b"\x00\x01\x02\x03\xff"), ("finish",)]))
add("5", "5.18 empty fragments",
    scenario([("send", TEXT, b"", False), ("send", CONT, b"", False), ("send", CONT, b"x", False), ("send", CONT, b""),
              ("echo", TEXT, b"x"), ("finish",)]))
add("5", "5.19 a ping between fragments, a message answered after each",
    scenario([("send", TEXT, b"a", False), ("send", PING, b"1"), ("pong", b"1"), ("send", CONT, b"b", False),
              ("send", PING, b"2"), ("pong", b"2"), ("send", CONT, b"c"), ("echo", TEXT, b"abc"), ("finish",)]))
add("5", "5.20 a close between fragments ends the connection",
    scenario([("send", TEXT, F1, False), ("close_send", 1000), ("close", 1000)]))

# --- 6. UTF-8 --------------------------------------------------------------------------------
HELLO = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!".encode()
KOSME = "\u03ba\u1f79\u03c3\u03bc\u03b5".encode()
VALID = [
    ("empty", b""), ("ascii", b"Hello"), ("Hello with Latin-1 letters", HELLO), ("kosme", KOSME),
    ("U+0000", b"\x00"), ("U+0080", b"\xc2\x80"), ("U+0800", b"\xe0\xa0\x80"), ("U+10000", b"\xf0\x90\x80\x80"),
    ("U+007F", b"\x7f"), ("U+07FF", b"\xdf\xbf"), ("U+FFFF", b"\xef\xbf\xbf"), ("U+D7FF", b"\xed\x9f\xbf"),
    ("U+E000", b"\xee\x80\x80"), ("U+FFFD", b"\xef\xbf\xbd"), ("U+10FFFF", b"\xf4\x8f\xbf\xbf"),
    ("noncharacters U+FFFE U+1FFFF", b"\xef\xbf\xbe\xf0\x9f\xbf\xbf"), ("emoji", "\U0001f600\u20ac".encode()),
]
INVALID = [
    ("kosme with U+110000", KOSME + b"\xf4\x90\x80\x80" + b"edited"),
    ("lone continuation 0x80", b"\x80"), ("lone continuation 0xBF", b"\xbf"),
    ("continuations 80..BF", bytes(range(0x80, 0xc0))),
    ("lone 2-byte start then space", b"\xc0 "), ("lone 3-byte start then space", b"\xe0 "),
    ("lone 4-byte start then space", b"\xf0 "),
    ("5-byte form", b"\xf8\x88\x80\x80\x80"), ("6-byte form", b"\xfc\x84\x80\x80\x80\x80"),
    ("last byte missing, 2-byte", b"\xdf"), ("last byte missing, 3-byte", b"\xef\xbf"),
    ("last byte missing, 4-byte", b"\xf4\x8f\xbf"), ("all incomplete sequences", b"\xc0\xe0\x80\xf0\x80\x80"),
    ("impossible FE", b"\xfe"), ("impossible FF", b"\xff"), ("impossible FEFEFFFF", b"\xfe\xfe\xff\xff"),
    ("overlong /, 2 bytes", b"\xc0\xaf"), ("overlong /, 3 bytes", b"\xe0\x80\xaf"), ("overlong /, 4 bytes", b"\xf0\x80\x80\xaf"),
    ("max overlong 2", b"\xc1\xbf"), ("max overlong 3", b"\xe0\x9f\xbf"), ("max overlong 4", b"\xf0\x8f\xbf\xbf"),
    ("overlong NUL", b"\xc0\x80"), ("surrogate U+D800", b"\xed\xa0\x80"), ("surrogate U+DBFF", b"\xed\xaf\xbf"),
    ("surrogate U+DC00", b"\xed\xb0\x80"), ("surrogate U+DFFF", b"\xed\xbf\xbf"),
    ("surrogate pair", b"\xed\xa0\x80\xed\xb0\x80"), ("above U+10FFFF", b"\xf4\x90\x80\x80"), ("F5 lead", b"\xf5\x80\x80\x80"),
]
for i, (name, text) in enumerate(VALID):
    add("6", "6.valid.%d %s, one frame" % (i + 1, name), scenario([("send", TEXT, text), ("echo", TEXT, text), ("finish",)]))
    # Split into two fragments at every position, then one frame per byte.
    steps = []
    for at in range(1, len(text)):
        steps += [("send", TEXT, text[:at], False), ("send", CONT, text[at:]), ("echo", TEXT, text)]
    if len(text) > 1:
        steps += [("send", TEXT, text[:1], False)] + [("send", CONT, text[k:k + 1], k == len(text) - 1) for k in range(1, len(text))]
        steps += [("echo", TEXT, text)]
    add("6", "6.valid.%d %s, fragmented at every point" % (i + 1, name), scenario(steps + [("finish",)]))
for i, (name, text) in enumerate(INVALID):
    add("6", "6.invalid.%d %s, one frame: 1007" % (i + 1, name), scenario([("send", TEXT, text), ("close", 1007)]))
    for at in range(1, len(text)):
        add("6", "6.invalid.%d %s, fragmented at %d: 1007" % (i + 1, name, at),
            scenario([("send", TEXT, text[:at], False), ("send", CONT, text[at:]), ("close", 1007)]))
add("6", "6.1.1 empty text frame", scenario([("send", TEXT, b""), ("echo", TEXT, b""), ("finish",)]))
add("6", "6.1.2 empty text in three empty fragments",
    scenario([("send", TEXT, b"", False), ("send", CONT, b"", False), ("send", CONT, b""), ("echo", TEXT, b""), ("finish",)]))
add("6", "6.binary invalid UTF-8 in a binary message is data", scenario([("send", BINARY, b"\xff\xfe"), ("echo", BINARY, b"\xff\xfe"), ("finish",)]))


def fail_fast(port):
    """6.4: the server fails at the fragment that holds the invalid byte, before the message ends
    (the last fragment is never sent), including one that completes a sequence carried over."""
    for first, second in [(KOSME, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80"),
                          (KOSME + b"\xf4", b"\x90\x80\x80"),  # U+110000 split after its lead byte
                          (KOSME + b"\xed", b"\xa0")]:        # a surrogate split after its lead byte
        p = Peer(port)
        try:
            p.send(TEXT, first, fin=False)
            p.send(CONT, second, fin=False)
            p.expect_close(1007)
        finally:
            p.close()


add("6", "6.4 fail fast: invalid fragment of an unfinished message", fail_fast)
add("6", "6.4.4 fail fast, invalid byte written alone inside a frame",
    scenario([("raw", Peer.frame(TEXT, KOSME + b"\xf4\x90\x80\x80" + b"rest", fin=False)), ("close", 1007)]))
add("6", "6.trunc message ends mid-sequence across fragments: 1007",
    scenario([("send", TEXT, b"abc\xe2", False), ("send", CONT, b"\x82"), ("close", 1007)]))

# --- 7. Close handling -------------------------------------------------------------------------
add("7", "7.1.1 echo, then close", scenario([("send", TEXT, b"Hello"), ("echo", TEXT, b"Hello"), ("finish",)]))


def after_close(frames):
    def run(port):
        p = Peer(port)
        try:
            p.send_close(1000)
            for f in frames:  # nothing the peer sends after its close is answered
                try:
                    p.send_raw(f)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            p.expect_close(1000)
        finally:
            p.close()
    return run


add("7", "7.1.2 close twice", after_close([Peer.frame(CLOSE, struct.pack("!H", 1000))]))
add("7", "7.1.3 ping after close: no pong", after_close([Peer.frame(PING, b"ping")]))
add("7", "7.1.4 text after close: not echoed", after_close([Peer.frame(TEXT, b"after close")]))
add("7", "7.1.5 close inside a fragmented message",
    scenario([("send", TEXT, b"frag1", False), ("close_send", 1000), ("close", 1000)]))
add("7", "7.1.6 a large message, a ping and a close written at once",
    scenario([("raw", Peer.frame(TEXT, payload_of(256 * 1024)) + Peer.frame(PING, b"p") + Peer.frame(CLOSE, struct.pack("!H", 1000))),
              ("echo", TEXT, payload_of(256 * 1024)), ("pong", b"p"), ("close", 1000)]))
add("7", "7.3.1 close without payload: 1000", scenario([("raw", Peer.frame(CLOSE, b"")), ("close", 1000)]))
add("7", "7.3.2 close with a 1-byte payload: 1002", scenario([("raw", Peer.frame(CLOSE, b"\x03")), ("close", 1002)]))
add("7", "7.3.3 close with a code only", scenario([("close_send", 1000), ("close", 1000)]))
add("7", "7.3.4 close with code and reason", scenario([("close_send", 1000, b"Hello World!"), ("close", 1000)]))
add("7", "7.3.5 close with a 123-byte reason", scenario([("close_send", 1000, b"*" * 123), ("close", 1000)]))
add("7", "7.3.6 close with a 124-byte reason (126-byte payload): 1002",
    scenario([("raw", Peer.frame(CLOSE, struct.pack("!H", 1000) + b"*" * 124)), ("close", 1002)]))
add("7", "7.5.1 close reason not UTF-8: 1007", scenario([("close_send", 1000, KOSME + b"\xf4\x90\x80\x80"), ("close", 1007)]))
add("7", "7.5.2 close reason cut mid-sequence: 1007", scenario([("close_send", 1000, b"bye\xe2\x82"), ("close", 1007)]))
for i, code in enumerate([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]):
    add("7", "7.7.%d valid code %d is echoed" % (i + 1, code), scenario([("close_send", code, b"reason"), ("close", code)]))
for i, code in enumerate([0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999]):
    add("7", "7.9.%d invalid code %d: 1002" % (i + 1, code), scenario([("close_send", code), ("close", 1002)]))
for i, code in enumerate([5000, 65535]):
    add("7", "7.13.%d code %d: 1002" % (i + 1, code), scenario([("close_send", code), ("close", 1002)]))

# --- 9. Limits and performance (scaled to a 1 MiB max message; Autobahn goes to 16 MiB) ---------
for i, n in enumerate([64 << 10, 256 << 10, 1 << 20]):
    add("9", "9.1.%d text %d bytes" % (i + 1, n), scenario([("send", TEXT, payload_of(n)), ("echo", TEXT, payload_of(n)), ("finish",)]))
    add("9", "9.2.%d binary %d bytes" % (i + 1, n), scenario([("send", BINARY, payload_of(n, False)), ("echo", BINARY, payload_of(n, False)), ("finish",)]))
add("9", "9.1.4 text above the limit: 1009", scenario([("raw", Peer.frame(TEXT, payload_of(MAX_MESSAGE + 1))), ("close", 1009)]))


def fragmented(opcode, total, piece):
    data = payload_of(total, opcode == TEXT)
    steps = []
    for k in range(0, total, piece):
        steps.append(("send", opcode if k == 0 else CONT, data[k:k + piece], k + piece >= total))
    return scenario(steps + [("echo", opcode, data), ("finish",)])


# 256 KiB in fragments of 1 KiB .. 256 KiB (at most limits.max_message_fragments pieces).
for i, piece in enumerate([1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10]):
    add("9", "9.3.%d text 256 KiB in %d-byte fragments" % (i + 1, piece), fragmented(TEXT, 256 << 10, piece))
    add("9", "9.4.%d binary 256 KiB in %d-byte fragments" % (i + 1, piece), fragmented(BINARY, 256 << 10, piece))
for i, chop in enumerate([64, 1024, 16384]):
    add("9", "9.5.%d text 256 KiB written in %d-byte pieces" % (i + 1, chop),
        scenario([("send", TEXT, payload_of(256 << 10), True, 0, chop), ("echo", TEXT, payload_of(256 << 10)), ("finish",)]))
    add("9", "9.6.%d binary 256 KiB written in %d-byte pieces" % (i + 1, chop),
        scenario([("send", BINARY, payload_of(256 << 10, False), True, 0, chop), ("echo", BINARY, payload_of(256 << 10, False)), ("finish",)]))


def round_trips(opcode, count, size):
    def run(port):
        p = Peer(port)
        try:
            data = payload_of(size, opcode == TEXT)
            for _ in range(count):  # one at a time: each waits for its echo
                p.send(opcode, data)
                p.expect(opcode, data)
            p.finish()
        finally:
            p.close()
    return run


for i, size in enumerate([0, 16, 64, 256, 1024, 4096]):
    add("9", "9.7.%d 200 text round trips of %d bytes" % (i + 1, size), round_trips(TEXT, 200, size))
    add("9", "9.8.%d 200 binary round trips of %d bytes" % (i + 1, size), round_trips(BINARY, 200, size))

# --- 12 and 13. permessage-deflate ---------------------------------------------------------------
OFFERS = [
    ("default", "permessage-deflate", 15),
    ("client_no_context_takeover", "permessage-deflate; client_no_context_takeover", 15),
    ("server_no_context_takeover", "permessage-deflate; server_no_context_takeover", 15),
    ("client_max_window_bits=8", "permessage-deflate; client_max_window_bits=8", 8),
    ("client_max_window_bits=15", "permessage-deflate; client_max_window_bits=15", 15),
    ("window 9 and no context takeover", "permessage-deflate; client_max_window_bits=9; client_no_context_takeover", 9),
    ("server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10", 15),
    ("two offers", "permessage-deflate; unknown_param, permessage-deflate; client_max_window_bits", 15),
]


def deflate(data, bits):
    # The server answers with client_no_context_takeover: every message compresses on its own.
    # zlib cannot make a raw stream with a 256-byte window (8 bits); 9 is what clients built on
    # zlib send when offered 8, and what the Autobahn testsuite sends too.
    c = zlib.compressobj(9, zlib.DEFLATED, -max(bits, 9))
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def deflate_case(offer, bits, count, size, opcode, fragment=None):
    def run(port):
        p = Peer(port, offer)
        try:
            assert p.extensions.startswith("permessage-deflate"), p.extensions
            assert "client_no_context_takeover" in p.extensions
            rng = random.Random(size * 31 + count)
            for _ in range(count):
                if opcode == TEXT:
                    data = "".join(rng.choice("abc \u00e9\u20ac\U0001f600") for _ in range(size)).encode()[:size * 2]
                    data = data.decode("utf-8", "ignore").encode()
                else:
                    data = bytes(rng.getrandbits(8) for _ in range(size))
                z = deflate(data, bits)
                if fragment:
                    for k in range(0, len(z), fragment):
                        last = k + fragment >= len(z)
                        p.send(opcode if k == 0 else CONT, z[k:k + fragment], fin=last, rsv=4 if k == 0 else 0)
                    if not z:
                        p.send(opcode, b"", rsv=4)
                else:
                    p.send(opcode, z, rsv=4)
                p.expect(opcode, data)  # echoed uncompressed: the server never compresses
            p.finish()
        finally:
            p.close()
    return run


for oi, (oname, offer, bits) in enumerate(OFFERS):
    for si, size in enumerate([16, 64, 256, 1024, 4096, 32768, 131072]):
        add("12" if oi == 0 else "13", "%s.%d.%d %s: 20 text messages of %d chars" % ("12" if oi == 0 else "13", oi + 1, si + 1, oname, size),
            deflate_case(offer, bits, 20, size, TEXT))
    add("12" if oi == 0 else "13", "%s.%d binary messages, fragmented compressed" % ("12" if oi == 0 else "13", oi + 1),
        deflate_case(offer, bits, 10, 8192, BINARY, fragment=100))
add("12", "12.rsv1 on a continuation: 1002",
    scenario([("send", TEXT, deflate(b"hello", 15), False, 4), ("send", CONT, b"", True, 4), ("close", 1002)], "permessage-deflate"))
add("12", "12.bad deflate data: 1007", scenario([("send", BINARY, b"\xff\xff\xff\xff", True, 4), ("close", 1007)], "permessage-deflate"))
add("12", "12.compressed text not UTF-8 once inflated: 1007",
    scenario([("send", TEXT, deflate(b"ok \xed\xa0\x80", 15), True, 4), ("close", 1007)], "permessage-deflate"))
add("12", "12.inflates above the limit: 1009",
    scenario([("send", TEXT, deflate(b"a" * (MAX_MESSAGE + 1), 15), True, 4), ("close", 1009)], "permessage-deflate"))
add("12", "12.rsv1 without the extension: 1002", scenario([("send", TEXT, deflate(b"hello", 15), True, 4), ("close", 1002)]))


# --- runner -----------------------------------------------------------------------------------------
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(binary, workdir, echo=True):
    port = free_port()
    config = os.path.join(workdir, "conformance.toml")
    with open(config, "w") as f:
        # Limits scaled for section 9; the frame rate high enough for 9.7's round trips.
        f.write("[limits]\nmax_message_size = %d\nmax_send_queue = %d\nframe_rate = 100000\nframe_burst = 100000\n"
                % (MAX_MESSAGE, 8 * MAX_MESSAGE))
    args = [binary, "serve", "-c", config, "--listen", "127.0.0.1:%d" % port, "--data-dir", workdir,
            "--threads", "1", "--log-level", "warn"]
    if echo:
        args.append("--echo")
    proc = subprocess.Popen(args)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("server did not start")
            time.sleep(0.02)  # polling the port, with the deadline above


def echo_off_is_404(binary, workdir):
    proc, port = start_server(binary, workdir, echo=False)
    try:
        try:
            Peer(port)
        except AssertionError as e:
            assert "404" in str(e), e
            return
        raise AssertionError("/echo upgraded with echo_endpoint off")
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    binary = sys.argv[1]
    only = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
    counts, failures = {}, []
    with tempfile.TemporaryDirectory() as workdir:
        echo_off_is_404(binary, workdir)
        print("ok   /echo is 404 when echo_endpoint is off")
        proc, port = start_server(binary, workdir)
        try:
            for section, name, fn in CASES:
                if only and only not in name:
                    continue
                counts[section] = counts.get(section, 0) + 1
                try:
                    fn(port)
                except Exception as e:  # a failed case is reported, the suite goes on
                    failures.append(name)
                    print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            if proc.poll() is not None:
                failures.append("server exited during the suite")
        finally:
            proc.terminate()
            proc.wait(10)
    print("cases per section: " + ", ".join("%s: %d" % (s, counts[s]) for s in sorted(counts, key=int)))
    print("%d cases, %d failed" % (sum(counts.values()), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
