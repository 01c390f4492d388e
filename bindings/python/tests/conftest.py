"""Shared helpers: the package on sys.path, AMQP_URL (required), and a hang-proof asyncio runner.

pytest-asyncio is not used: `run(coro)` runs a coroutine with asyncio.run under
asyncio.wait_for, and a faulthandler watchdog ends the process (with tracebacks) should a call
block the event loop so that even wait_for cannot fire.
"""

import asyncio
import faulthandler
import os
import sys
import urllib.parse
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BINDING_DIR = os.path.dirname(HERE)
if BINDING_DIR not in sys.path:
    sys.path.insert(0, BINDING_DIR)

DEFAULT_TIMEOUT = 30.0


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
