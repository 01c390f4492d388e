"""Shared helpers: the package on sys.path, AMQP_URL (required), a hang-proof asyncio runner,
open_connection, and rabbitmqctl access to the test broker.

pytest-asyncio is not used: `run(coro)` runs a coroutine with asyncio.run under
asyncio.wait_for, and a faulthandler watchdog ends the process (with tracebacks) should a call
block the event loop so that even wait_for cannot fire.

The broker that scripts/test starts is named ``swiftamqp-test``; another one is named with
SWIFTAMQP_BROKER_NAME (tests that ask the broker, through ``scripts/broker ctl NAME``, which
connections it has or that raise an alarm need it).
"""

import asyncio
import faulthandler
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BINDING_DIR = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(os.path.dirname(BINDING_DIR))
BROKER_SCRIPT = os.path.join(REPO_ROOT, "scripts", "broker")
if BINDING_DIR not in sys.path:
    sys.path.insert(0, BINDING_DIR)

DEFAULT_TIMEOUT = 30.0


def sigint_default():
    """preexec_fn for a child that the test stops with SIGINT: a shell without job control starts
    background jobs with SIGINT ignored, the child inherits that, and Python then installs no
    KeyboardInterrupt handler (scripts/test run as `scripts/test &` hung in these tests)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(coro, timeout=DEFAULT_TIMEOUT):
    """Runs `coro` in a fresh event loop; fails (instead of hanging) after `timeout` seconds."""
    async def guarded():
        return await asyncio.wait_for(coro, timeout)

    faulthandler.dump_traceback_later(timeout + 15, exit=True)
    try:
        return asyncio.run(guarded())
    finally:
        faulthandler.cancel_dump_traceback_later()


def parse_amqp_url(url):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "amqp":
        raise ValueError("AMQP_URL must be an amqp:// URL, not %r" % url)
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5672,
        "username": urllib.parse.unquote(parts.username) if parts.username else "guest",
        "password": urllib.parse.unquote(parts.password) if parts.password else "guest",
        "virtual_host": urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/",
    }


async def open_connection(params, **kwargs):
    """swiftamqp.connect(**params, **kwargs), awaited (the package is imported when first used)."""
    import swiftamqp
    return await swiftamqp.connect(**params, **kwargs)


@pytest.fixture(scope="session")
def amqp_url():
    url = os.environ.get("AMQP_URL")
    if not url:
        pytest.fail("AMQP_URL is not set: these tests need a RabbitMQ broker. Start one with "
                    "`scripts/broker start NAME` (it prints AMQP_URL=...) and export that URL.",
                    pytrace=False)
    return url


@pytest.fixture(scope="session")
def params(amqp_url):
    """connect() keyword arguments for the broker at AMQP_URL."""
    return parse_amqp_url(amqp_url)


@pytest.fixture
def unique():
    """unique('q') -> 'pytest.q.<hex>': names no other test (or run) uses."""
    token = uuid.uuid4().hex[:12]
    return lambda what: "pytest.%s.%s" % (what, token)


def broker_name():
    return os.environ.get("SWIFTAMQP_BROKER_NAME") or "swiftamqp-test"


def broker_ctl(*args, check=True, timeout=60):
    """rabbitmqctl ARGS against the test broker (scripts/broker ctl NAME ARGS); returns stdout."""
    proc = subprocess.run([BROKER_SCRIPT, "ctl", broker_name()] + list(args), capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError("scripts/broker ctl %s %s failed (%d): %s%s" % (
            broker_name(), " ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc.stdout


def broker_connection_names():
    """connection_name of every connection the broker has (rabbitmqctl list_connections)."""
    out = broker_ctl("list_connections", "name", "client_properties", "--formatter", "json")
    names = []
    for row in json.loads(out or "[]"):
        props = row.get("client_properties") or []
        # [["connection_name", "longstr", "..."], ...] in 3.10's JSON output
        for item in props:
            if isinstance(item, list) and item and item[0] == "connection_name":
                names.append(item[-1])
    return names


def close_broker_connection(connection_name, reason="closed by the test"):
    """rabbitmqctl close_connection for the connection with that connection_name."""
    out = broker_ctl("list_connections", "pid", "client_properties", "-q", "--no-table-headers")
    pids = [line.split("\t", 1)[0] for line in out.splitlines() if '"%s"' % connection_name in line]
    assert len(pids) == 1, out
    broker_ctl("close_connection", pids[0], reason)


def wait_until(predicate, timeout=10.0, interval=0.1):
    """Polls predicate() (synchronously) until it is true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture(scope="session")
def broker(amqp_url):
    """The test broker's name, checked: rabbitmqctl can reach it."""
    proc = subprocess.run([BROKER_SCRIPT, "ctl", broker_name(), "status"], capture_output=True,
                          text=True, timeout=60)
    if proc.returncode != 0:
        pytest.fail("rabbitmqctl cannot reach broker %r (set SWIFTAMQP_BROKER_NAME to the NAME of "
                    "`scripts/broker start NAME`): %s" % (broker_name(), proc.stderr.strip()[-500:]),
                    pytrace=False)
    return broker_name()


class Forwarder:
    """A TCP forwarder to the broker on 127.0.0.1 (a free port, or `port`), for every connection
    made to it. ``hold_inbound`` / ``hold_outbound`` stop passing bytes from the broker / to the
    broker (no FIN, no RST: a silent peer) until set False again; ``cut()`` resets the current
    connections (RST), as a failed network would; ``close()`` also stops listening."""

    def __init__(self, upstream, port=0):
        self.upstream = upstream
        self.hold_inbound = False
        self.hold_outbound = False
        self.accepted = 0
        self._lock = threading.Lock()
        self._sockets = []
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream, "hold_outbound"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "hold_inbound"), daemon=True).start()

    def _pump(self, source, sink, hold):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                while getattr(self, hold):
                    time.sleep(0.01)
                sink.sendall(data)
        except OSError:
            pass
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def cut(self):
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RDWR)  # wakes the pump threads blocked in recv
            except OSError:
                pass
            s.close()

    def close(self):
        self.hold_inbound = self.hold_outbound = False
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone does not
        except OSError:
            pass
        self.server.close()
        self.cut()
