"""Helpers for the Python fault-injection tests (Tests/FaultPython): the package and the fault proxy
on sys.path, AMQP_URL (required: a missing broker fails, never skips), a hang-proof asyncio runner,
rabbitmqctl through scripts/broker, and a recorder of recovery events.

Named fault_helpers (not conftest) so that it never shadows bindings/python/tests/conftest.py
when both folders run in one pytest invocation.
"""

import asyncio
import faulthandler
import os
import subprocess
import sys
import time
import urllib.parse
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
BROKER_SCRIPT = os.path.join(REPO_ROOT, "scripts", "broker")
for path in (os.path.join(REPO_ROOT, "bindings", "python"), os.path.join(REPO_ROOT, "Tests", "FaultProxy")):
    if path not in sys.path:
        sys.path.insert(0, path)


def run(coro, timeout=60.0):
    """Runs `coro` in a fresh event loop; fails instead of hanging after `timeout` seconds."""
    async def guarded():
        return await asyncio.wait_for(coro, timeout)

    faulthandler.dump_traceback_later(timeout + 20, exit=True)
    try:
        return asyncio.run(guarded())
    finally:
        faulthandler.cancel_dump_traceback_later()


def amqp_params():
    url = os.environ.get("AMQP_URL")
    if not url:
        pytest.fail("AMQP_URL is not set: start a broker (scripts/broker start NAME) and export the "
                    "AMQP_URL it prints (and SWIFTAMQP_BROKER_NAME=NAME)", pytrace=False)
    return url_params(url)


def url_params(url):
    parts = urllib.parse.urlsplit(url)
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5672,
        "username": urllib.parse.unquote(parts.username) if parts.username else "guest",
        "password": urllib.parse.unquote(parts.password) if parts.password else "guest",
        "virtual_host": urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/",
    }


def unique(what):
    return "swiftamqp.pyfault.%s.%s" % (what, uuid.uuid4().hex[:12])


def broker_name():
    return os.environ.get("SWIFTAMQP_BROKER_NAME") or "swiftamqp-test"


def broker(*args, check=True, timeout=120):
    """scripts/broker ARGS; returns stdout."""
    proc = subprocess.run([BROKER_SCRIPT] + list(args), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError("scripts/broker %s failed (%d): %s%s" % (
            " ".join(args), proc.returncode, proc.stdout, proc.stderr[-2000:]))
    return proc.stdout


def ctl(*args, name=None, check=True):
    """rabbitmqctl ARGS on broker `name` (default SWIFTAMQP_BROKER_NAME or swiftamqp-test)."""
    return broker("ctl", name or broker_name(), *args, check=check)


def connection_pid(connection_name, name=None, timeout=10.0):
    """The broker's pid of the connection with that connection_name (polls: it may not be listed yet)."""
    needle = '{"connection_name","%s"}' % connection_name
    deadline = time.monotonic() + timeout
    while True:
        out = ctl("-q", "list_connections", "--no-table-headers", "pid", "client_properties", name=name)
        pids = [line.split("\t", 1)[0] for line in out.splitlines() if needle in line]
        if pids:
            return pids[0]
        if time.monotonic() > deadline:
            raise AssertionError("connection %r not listed:\n%s" % (connection_name, out))
        time.sleep(0.2)


async def until(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("%s not met within %.0f s" % (what, timeout))
        await asyncio.sleep(0.01)


class Recovery:
    """Records a connection's recovery events with time.monotonic() stamps."""

    def __init__(self, connection):
        self.started = []    # (time, exception)
        self.recovered = []  # (time, entities not restored)
        connection.set_recovery_handler(self._started, self._recovered)

    def _started(self, exc):
        self.started.append((time.monotonic(), exc))

    def _recovered(self, failed):
        self.recovered.append((time.monotonic(), failed))

    async def wait(self, count=1, timeout=20.0):
        """Waits for the count-th RECOVERED; returns (started_at, exception, recovered_at, failed)."""
        await until(lambda: len(self.recovered) >= count, timeout, "RECOVERED #%d" % count)
        s = self.started[count - 1]
        r = self.recovered[count - 1]
        return s[0], s[1], r[0], r[1]


def guardian(code):
    """Starts a Python process, in its own session, that runs `code` once this process ends in any
    way (EOF on its stdin); returns the Popen (close its stdin to run the code now)."""
    script = "import sys\nsys.stdin.read()\n" + code
    return subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, start_new_session=True)
