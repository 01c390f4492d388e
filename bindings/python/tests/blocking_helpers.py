"""Shared helpers of the swiftamqp.blocking tests: a hang guard per test, a connection
factory that closes what a test leaves open, and queues: an exclusive one declared, messages
drained, a message count awaited."""

import faulthandler
import os
import time

import pytest

import conftest  # noqa: F401 - puts the package on sys.path

from swiftamqp import blocking

GUARD_SECONDS = 120


@pytest.fixture(autouse=True)
def hang_guard():
    """A test that hangs ends the process with every thread's traceback instead of blocking CI."""
    faulthandler.dump_traceback_later(GUARD_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def connect(amqp_url, unique):
    """connect(**options) -> an open BlockingConnection to AMQP_URL, closed after the test."""
    made = []

    def factory(url=None, **options):
        options.setdefault("connection_name", unique("blocking") + ".%d" % len(made))
        connection = blocking.connect(url or amqp_url, **options)
        made.append(connection)
        return connection

    yield factory
    for connection in made:
        if connection.is_open:
            connection.close()


def env_url():
    return os.environ["AMQP_URL"]


def exclusive_queue(channel, name=""):
    return channel.queue_declare(name, exclusive=True).method.queue


def drain(channel, queue, n, timeout=10.0):
    """n (method, properties, body) from queue via basic_get, waiting for them to arrive."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        m, p, b = channel.basic_get(queue, auto_ack=True)
        if m is None:
            assert time.monotonic() < deadline, "only %d of %d messages arrived" % (len(out), n)
            time.sleep(0.01)
            continue
        out.append((m, p, b))
    return out


def count_is(channel, queue, n, timeout=10.0):
    """True once the passive declare reports n messages (RabbitMQ counts them a little later)."""
    deadline = time.monotonic() + timeout
    while True:
        c = channel.queue_declare(queue, passive=True).method.message_count
        if c == n:
            return True
        if time.monotonic() > deadline:
            raise AssertionError("queue holds %d messages, expected %d" % (c, n))
        time.sleep(0.01)
