"""The server's messages to systemd (sd_notify(3)) and its log lines in the journal.

Runs the built binary as systemd would for Type=notify: NOTIFY_SOCKET names a unix datagram
socket this test listens on. READY=1 must come once the port accepts connections, STOPPING=1 on
SIGTERM; with a socket nobody listens on, the server serves all the same. With $JOURNAL_STREAM
naming its stderr, each log line starts with the syslog priority and carries no timestamp.
Usage: notify_test.py <switchboard binary>
"""
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = sys.argv[1]
DEADLINE = 10.0


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def receive(sock, what):
    sock.settimeout(DEADLINE)
    try:
        return sock.recv(4096).decode()
    except socket.timeout:
        fail(f"no {what} message within {DEADLINE} s")


def start(workdir, port, env_extra, stderr):
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")}
    env.update(env_extra)
    return subprocess.Popen(
        [BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(workdir, "data")],
        env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("the server did not stop on SIGTERM")
    if code != 0:
        fail(f"the server exited with {code} after SIGTERM")


def read_until(fd, needle):
    """Reads the pipe until a line contains needle; returns that line."""
    buffer, end = b"", time.monotonic() + DEADLINE
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buffer += chunk
            for line in buffer.decode(errors="replace").splitlines():
                if needle in line:
                    return line
    fail(f"no log line with '{needle}' within {DEADLINE} s; got: {buffer!r}")


def notify_and_journal(workdir, address, label):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    read_fd, write_fd = os.pipe()
    st = os.fstat(write_fd)
    port = free_port()
    notify_socket = "@" + address[1:] if address.startswith("\0") else address
    proc = start(workdir, port, {"NOTIFY_SOCKET": notify_socket, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"},
                 write_fd)
    os.close(write_fd)
    try:
        message = receive(sock, "READY=1")
        # Checked at once, no retry: the port must already answer when READY=1 is sent.
        answered = port_answers(port)
        lines = message.split("\n")
        if "READY=1" not in lines:
            fail(f"{label}: first message is not READY=1: {message!r}")
        if not answered:
            fail(f"{label}: READY=1 came before port {port} accepted connections")
        if f"STATUS=listening on 127.0.0.1:{port}" not in lines:
            fail(f"{label}: no STATUS line with the port: {message!r}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            if response.status != 200:
                fail(f"{label}: /healthz answered {response.status}")
        line = read_until(read_fd, "switchboard listening on")
        if not line.startswith("<6>info switchboard listening on"):
            fail(f"{label}: journal log line without its priority, or with a timestamp: {line!r}")
        proc.send_signal(signal.SIGTERM)
        message = receive(sock, "STOPPING=1")
        if "STOPPING=1" not in message.split("\n"):
            fail(f"{label}: expected STOPPING=1 after SIGTERM, got {message!r}")
        code = proc.wait(DEADLINE)
        if code != 0:
            fail(f"{label}: exit code {code} after SIGTERM")
        print(f"{label}: READY=1 with port {port} answering, STOPPING=1 on SIGTERM, journal priorities")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(read_fd)
        sock.close()


def nobody_listening(workdir):
    # A NOTIFY_SOCKET nobody listens on (and none at all, as in every other test): serving as usual.
    port = free_port()
    read_fd, write_fd = os.pipe()
    proc = start(workdir, port, {"NOTIFY_SOCKET": os.path.join(workdir, "nobody")}, write_fd)
    os.close(write_fd)
    try:
        line = read_until(read_fd, "switchboard listening on")
        if line.startswith("<"):
            fail(f"priority prefix without the journal: {line!r}")
        if not port_answers(port):
            fail("the server does not answer with an unreachable NOTIFY_SOCKET")
        stop(proc)
        print("unreachable NOTIFY_SOCKET: served and stopped as usual")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(read_fd)


with tempfile.TemporaryDirectory() as workdir:
    notify_and_journal(workdir, os.path.join(workdir, "notify.sock"), "path socket")
    notify_and_journal(workdir, f"\0switchboard-notify-test-{os.getpid()}", "abstract socket")
    nobody_listening(workdir)
