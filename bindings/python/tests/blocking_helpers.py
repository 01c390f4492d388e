"""Shared helpers of the swiftamqp.blocking tests: a hang guard per test and a connection
factory that closes what a test leaves open."""

import faulthandler
import os

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
