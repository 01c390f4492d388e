"""End-to-end tests against a real broker (AMQP_URL is required: missing means FAIL): connecting
(options, failures, a given socket), and how a connection ends (closed, lost, closed by the
broker, collected unclosed). Messages, queues and channels: test_broker.py."""

import asyncio
import gc
import os
import socket
import time

import pytest

import swiftamqp
from conftest import Forwarder, open_connection, run


def test_wrong_password_fails_fast(params):
    secret = "not-the-password-%d" % os.getpid()

    async def main():
        start = time.monotonic()
        with pytest.raises(swiftamqp.AMQPError) as info:
            await swiftamqp.connect(**dict(params, password=secret), connect_timeout=10)
        elapsed = time.monotonic() - start
        assert elapsed < 5, elapsed
        return info.value

    exc = run(main(), timeout=20)
    assert isinstance(exc, swiftamqp.AuthenticationError), repr(exc)
    assert exc.status == -404
    assert secret not in str(exc) and secret not in repr(exc)


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connect_to_closed_port(params):
    port = _closed_port()

    async def main():
        start = time.monotonic()
        with pytest.raises(swiftamqp.AMQPError) as info:
            await swiftamqp.connect(host="127.0.0.1", port=port, connect_timeout=3)
        return info.value, time.monotonic() - start

    exc, elapsed = run(main(), timeout=20)
    assert elapsed < 3.5, elapsed
    assert isinstance(exc, swiftamqp.ConnectError), repr(exc)
    assert exc.status == -301
    assert "SWAMQP_ERR_CONNECT" in str(exc)


def test_connect_to_silent_server_times_out():
    # Accepts TCP connections (backlog) but never speaks AMQP.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    async def main():
        start = time.monotonic()
        with pytest.raises(swiftamqp.AMQPError) as info:
            await swiftamqp.connect(host="127.0.0.1", port=port, connect_timeout=1.5)
        return info.value, time.monotonic() - start

    try:
        exc, elapsed = run(main(), timeout=20)
    finally:
        server.close()
    assert 1.0 < elapsed < 4.0, elapsed
    assert isinstance(exc, swiftamqp.AMQPTimeoutError), repr(exc)


def test_closed_future_after_close(params):
    async def main():
        connection = await open_connection(params, heartbeat=30, connection_name="pytest closed")
        assert not connection.closed.done() and not connection.is_closed()
        channel = await connection.open_channel()
        assert isinstance(channel.id, int) and channel.id >= 1
        await connection.close()
        assert connection.closed.done()
        assert isinstance(connection.closed.exception(), swiftamqp.ConnectionClosed)
        assert connection.is_closed() and channel.is_closed()
        with pytest.raises(swiftamqp.ConnectionClosed):
            await connection.open_channel()
        with pytest.raises(swiftamqp.AMQPError):
            await channel.declare_queue("", exclusive=True)
        await connection.close()  # again: no-op

    run(main())


def test_password_not_in_repr(params):
    async def main():
        connection = await open_connection(params)
        text = repr(connection)
        await connection.close()
        return text

    text = run(main())
    if params["password"] not in (params["username"], "guest"):
        assert params["password"] not in text
    assert ":%s@" % params["password"] not in text


def test_unknown_kwarg_refused(params):
    async def main():
        with pytest.raises(TypeError):
            await swiftamqp.connect(**params, no_such_option=1)

    run(main())


def test_unclosed_connection_releases_its_reader(params):
    async def main():
        loop = asyncio.get_running_loop()
        connection = await open_connection(params)
        fd = connection._native.fd
        assert fd in loop._selector.get_map()
        del connection
        gc.collect()
        assert fd not in loop._selector.get_map()
        # the loop still works with a new connection (possibly on the same fd number)
        connection = await open_connection(params)
        await connection.close()

    run(main())


def test_connection_error_from_broker(params, unique):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        other = await connection.open_channel()
        # An unknown exchange type is a connection-level error (503 COMMAND_INVALID).
        with pytest.raises(swiftamqp.AMQPError):
            await channel.declare_exchange(unique("ex"), "no-such-type", auto_delete=True)
        await asyncio.wait({connection.closed}, timeout=5)
        assert connection.closed.done()
        exc = connection.closed.exception()
        assert isinstance(exc, swiftamqp.ConnectionClosed), repr(exc)
        assert exc.reply_code == 503
        assert connection.is_closed() and other.is_closed()
        with pytest.raises(swiftamqp.ConnectionClosed):
            await other.declare_queue("", exclusive=True)
        await connection.close()

    run(main())


def test_connection_lost(params):
    proxy = Forwarder((params["host"], params["port"]))
    called = []

    async def on_close(exc):
        called.append(exc)

    async def main():
        connection = await swiftamqp.connect(**dict(params, host="127.0.0.1", port=proxy.port),
                                             on_connection_close=on_close)
        channel = await connection.open_channel()
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        proxy.cut()
        await asyncio.wait({connection.closed}, timeout=10)
        exc = connection.closed.exception()
        assert isinstance(exc, swiftamqp.ConnectionLostError), repr(exc)
        with pytest.raises(swiftamqp.ConnectionLostError):
            await queue.get()
        await asyncio.sleep(0.05)
        assert len(called) == 1 and isinstance(called[0], swiftamqp.ConnectionLostError)
        await connection.close()  # after a loss: just frees

    try:
        run(main())
    finally:
        proxy.close()


def test_connect_with_socket(params):
    async def main():
        sock = socket.create_connection((params["host"], params["port"]))
        p = {k: v for k, v in params.items() if k not in ("host", "port")}
        # refused options: the socket stays the caller's
        with pytest.raises(swiftamqp.LibraryError):
            await swiftamqp.connect(sock=sock, frame_max=100, **p)
        assert sock.fileno() >= 0
        connection = await swiftamqp.connect(sock=sock, **p)
        assert sock.fileno() == -1  # handed over
        channel = await connection.open_channel()
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        assert await queue.get() is None
        await connection.close()

    run(main())


def test_library_log_records_go_to_logging(params):
    import logging
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("swiftamqp")
    handler = Collect(level=logging.DEBUG)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    async def main():
        connection = await open_connection(params)
        await connection.close()

    try:
        run(main())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert records, "no log record from the library"
    assert all(r.name == "swiftamqp" for r in records)
    assert all(params["password"] not in r.getMessage() or params["password"] == params["username"]
               for r in records)
