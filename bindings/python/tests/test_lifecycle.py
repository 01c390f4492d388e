"""Connection life cycle against a real broker: async with, connect_url, authentication, secrets,
heartbeats under a blocked loop, connection.blocked, cleanup at loop end and on collection."""

import asyncio
import gc
import logging
import os
import time

import pytest

import swiftamqp
from conftest import (
    Forwarder, broker_connection_names, broker_ctl, close_broker_connection, run, wait_until,
)


def thread_count():
    return len(os.listdir("/proc/self/task"))


def settle_threads(baseline, timeout=10.0):
    # The connection's I/O thread is joined by close/free; glibc's resolver helper threads
    # (getaddrinfo_a) end on their own after about a second idle.
    return wait_until(lambda: thread_count() <= baseline, timeout) and thread_count()


def test_async_with_connection_and_channel(params):
    async def main():
        async with swiftamqp.connect(**params, connection_name="pytest async-with") as connection:
            assert isinstance(connection, swiftamqp.Connection)
            assert connection.connection_name == "pytest async-with"
            assert "pytest async-with" in repr(connection)
            async with await connection.open_channel() as channel:
                queue = await channel.declare_queue("", exclusive=True, durable=False)
                assert await queue.get() is None
            assert channel.is_closed() and not connection.is_closed()
            async with connection:
                pass
            assert connection.is_closed()
        # an exception inside the block still closes
        with pytest.raises(KeyError):
            async with swiftamqp.connect(**params) as connection:
                raise KeyError("boom")
        assert connection.is_closed()
        assert isinstance(connection.closed.exception(), swiftamqp.ConnectionClosed)

    run(main())


def test_connect_url(amqp_url, params):
    async def main():
        connection = await swiftamqp.connect_url(amqp_url, heartbeat=10)
        assert connection.host == params["host"] and connection.port == params["port"]
        assert connection.virtual_host == params["virtual_host"]
        channel = await connection.open_channel()
        await channel.declare_queue("", exclusive=True, durable=False)
        await connection.close()
        # URL query parameters
        sep = "&" if "?" in amqp_url else "?"
        async with swiftamqp.connect_url(amqp_url + sep + "heartbeat=5&channel_max=16") as connection:
            assert not connection.is_closed()
        for bad in ("http://guest:guest@localhost/", "amqp://guest:guest@localhost:99999/",
                    amqp_url + sep + "heartbeat=soon"):
            with pytest.raises(ValueError):
                await swiftamqp.connect_url(bad)
        with pytest.raises(TypeError):
            await swiftamqp.connect_url(amqp_url, no_such_option=1)

    run(main())


def test_auth_mechanisms(params):
    async def main():
        for mechanism in ("PLAIN", "AMQPLAIN", "plain", None):
            async with swiftamqp.connect(**params, auth_mechanism=mechanism) as connection:
                channel = await connection.open_channel()
                await channel.declare_queue("", exclusive=True, durable=False)
        with pytest.raises(ValueError):
            await swiftamqp.connect(**params, auth_mechanism="CRAM-MD5")
        # EXTERNAL needs a TLS client certificate and the broker's plugin: refused, not hung
        with pytest.raises(swiftamqp.AuthenticationError):
            await swiftamqp.connect(**params, auth_mechanism="EXTERNAL", connect_timeout=10)
        # a wrong password with AMQPLAIN too
        with pytest.raises(swiftamqp.AuthenticationError):
            await swiftamqp.connect(**dict(params, password="wrong-%d" % os.getpid()),
                                    auth_mechanism="AMQPLAIN", connect_timeout=10)

    run(main())


def test_passwords_never_shown(amqp_url, params):
    secret = "Zq-%d-not-the-password" % os.getpid()
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("swiftamqp")
    handler = Collect(level=logging.DEBUG)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    texts = []

    async def main():
        host_port = "%s:%d" % (params["host"], params["port"])
        urls = [
            "amqp://%s:%s@%s/%%2f" % (params["username"], secret, host_port),  # wrong password
            "amqp://%s:%s@%s:99999/" % (params["username"], secret, params["host"]),  # bad port
            "amqp://%s:%s@%s/%%2f?heartbeat=x" % (params["username"], secret, host_port),
            "amqp://%s:%s@127.0.0.1:%d/%%2f" % (params["username"], secret, 1),  # refused
        ]
        for url in urls:
            with pytest.raises(Exception) as info:
                await swiftamqp.connect_url(url, connect_timeout=5)
            texts.extend([str(info.value), repr(info.value)] + [str(a) for a in info.value.args])
        with pytest.raises(swiftamqp.AuthenticationError) as info:
            await swiftamqp.connect(**dict(params, password=secret), connect_timeout=5)
        texts.extend([str(info.value), repr(info.value)])
        connection = await swiftamqp.connect_url(amqp_url)
        texts.append(repr(connection))
        await connection.update_secret(params["password"], "same secret again")
        await connection.close()

    try:
        run(main())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    texts += [r.getMessage() for r in records]
    assert records  # the library did log (connects, failures)
    leaks = [t for t in texts if secret in t]
    assert not leaks, leaks
    if params["password"] not in (params["username"], "guest"):
        assert not [t for t in texts if params["password"] in t]


def test_update_secret_stats_and_server_properties(params):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        before = connection.stats()
        assert isinstance(before, swiftamqp.ConnectionStats)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        exchange = await channel.declare_exchange("", "direct")
        for i in range(10):
            exchange.publish(swiftamqp.Message(b"%d" % i), queue.name)
        got = []
        await queue.consume(got.append, no_ack=True)
        for _ in range(200):
            if len(got) == 10:
                break
            await asyncio.sleep(0.01)
        after = connection.stats()
        assert after.publishes - before.publishes == 10
        assert after.deliveries - before.deliveries == 10
        assert after.frames_out > before.frames_out and after.bytes_in > before.bytes_in
        # RabbitMQ's internal users accept a new secret that is their password
        await connection.update_secret(params["password"], "rotation")
        assert not connection.is_closed()
        server = connection.server_properties()
        assert server["product"] == "RabbitMQ" and server["capabilities"]["publisher_confirms"] is True
        await connection.close()
        with pytest.raises(swiftamqp.ConnectionClosed):
            connection.stats()
        with pytest.raises(swiftamqp.ConnectionClosed):
            connection.server_properties()
        with pytest.raises(swiftamqp.ConnectionClosed):
            await connection.update_secret("x")

    run(main())


def test_cancelled_rpc_does_not_take_the_next_reply(params, unique):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        for i in range(5):
            # a timeout that fires before the reply arrives
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(
                    channel.declare_queue(unique("slow%d" % i), exclusive=True, durable=False), 1e-6)
            queue = await channel.declare_queue(unique("fast%d" % i), exclusive=True, durable=False)
            assert queue.name == unique("fast%d" % i)
        await connection.close()

    run(main())


def test_blocked_event_loop_keeps_the_connection(params, broker):
    name = "pytest heartbeat %d" % os.getpid()

    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(
            **params, heartbeat=1, connection_name=name)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        # Three heartbeat intervals during which the loop runs no callback at all.
        time.sleep(3.5)
        await asyncio.sleep(0.1)
        assert not connection.is_closed()
        assert await queue.get() is None
        stats = connection.stats()
        assert stats.heartbeats_out >= 2 and stats.heartbeats_in >= 2, stats
        assert name in broker_connection_names()
        await connection.close()

    run(main())


def _memory_alarm(on):
    broker_ctl("set_vm_memory_high_watermark", "0.000001" if on else "0.4")


def test_connection_blocked_and_unblocked(params, broker):
    events = []

    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)

        async def on_unblocked():
            events.append("unblocked")

        connection.set_blocked_handler(lambda reason: events.append(("blocked", reason)), on_unblocked)
        with pytest.raises(TypeError):
            connection.set_blocked_handler("no")
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        exchange = await channel.declare_exchange("", "direct")
        await asyncio.get_running_loop().run_in_executor(None, _memory_alarm, True)
        try:
            # The broker blocks a connection once it publishes during the alarm.
            deadline = time.monotonic() + 20
            while not connection.blocked and time.monotonic() < deadline:
                try:
                    exchange.publish(swiftamqp.Message(b"during alarm"), queue.name, timeout=0)
                except swiftamqp.WouldBlock:
                    pass
                await asyncio.sleep(0.2)
            assert connection.blocked
            assert events and events[0][0] == "blocked" and "memory" in events[0][1].lower()
            with pytest.raises(swiftamqp.WouldBlock):
                exchange.publish(swiftamqp.Message(b"blocked"), queue.name, timeout=0)
            # a plain publish waits for the block to end, up to its timeout
            started = time.monotonic()
            with pytest.raises(swiftamqp.PublishTimeout):
                exchange.publish(swiftamqp.Message(b"blocked"), queue.name, timeout=0.3)
            assert time.monotonic() - started >= 0.25
            with pytest.raises(swiftamqp.PublishTimeout):
                await exchange.publish_async(swiftamqp.Message(b"blocked"), queue.name, timeout=0.3)
            waiting = asyncio.ensure_future(
                exchange.publish_confirmed(swiftamqp.Message(b"waits"), queue.name))
            await asyncio.sleep(0.5)
            assert not waiting.done()
        finally:
            await asyncio.get_running_loop().run_in_executor(None, _memory_alarm, False)
        await asyncio.wait_for(waiting, 20)
        assert events[-1] == "unblocked" and not connection.blocked
        exchange.publish(swiftamqp.Message(b"after"), queue.name)
        await channel.wait_for_confirms()
        await connection.close()

    try:
        run(main(), timeout=60)
    finally:
        _memory_alarm(False)


def test_connection_left_open_at_loop_end_is_closed(params, broker):
    name = "pytest loop-end %d" % os.getpid()
    kept = []
    baseline = thread_count()

    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params, connection_name=name)
        await channel.declare_queue("", exclusive=True, durable=False)
        assert name in broker_connection_names()
        kept.append(connection)  # still referenced after the loop: no finalizer helps here

    run(main())
    connection = kept[0]
    assert connection.is_closed()
    assert isinstance(connection.closed.exception(), swiftamqp.ConnectionClosed)
    assert connection._native.handle is None
    assert settle_threads(baseline) <= baseline
    assert wait_until(lambda: name not in broker_connection_names())


def test_collected_connection_is_closed(params, broker):
    name = "pytest collected %d" % os.getpid()
    baseline = thread_count()

    async def main():
        loop = asyncio.get_running_loop()
        connection, channel = await swiftamqp.connect_and_open_channel(**params, connection_name=name)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        await queue.consume(lambda m: None)
        fd = connection._native.fd
        assert fd in loop._selector.get_map()
        assert name in broker_connection_names()
        del connection, channel, queue
        # (the loop's current handle still holds the consume future, whose result references
        # the channel, until this step ends)
        await asyncio.sleep(0)
        gc.collect()
        assert fd not in loop._selector.get_map()
        assert await loop.run_in_executor(None, wait_until,
                                          lambda: name not in broker_connection_names())

    run(main())
    assert settle_threads(baseline) <= baseline


def test_on_connection_close_callback(params):
    calls = []

    async def main():
        connection = await swiftamqp.connect(**params, on_connection_close=calls.append)
        await connection.close()
        await asyncio.sleep(0.05)
        assert calls == [None]
        with pytest.raises(TypeError):
            await swiftamqp.connect(**params, on_connection_close="nope")

    run(main())


def test_broker_closes_the_connection(params, broker):
    name = "pytest forced %d" % os.getpid()
    closed_with, errors = [], []

    class Callback:
        def __call__(self, message):
            pass

        def on_error(self, exc):
            errors.append(exc)

    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(
            **params, connection_name=name, on_connection_close=closed_with.append)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        await queue.consume(Callback())
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, close_broker_connection, name, "pytest says goodbye")
        await asyncio.wait({connection.closed}, timeout=10)
        exc = connection.closed.exception()
        assert isinstance(exc, swiftamqp.ConnectionClosed), repr(exc)
        assert exc.reply_code == 320 and "pytest says goodbye" in exc.reply_text
        await asyncio.sleep(0.05)
        assert closed_with == [exc] and errors == [exc]
        assert channel.is_closed()
        with pytest.raises(swiftamqp.ConnectionClosed):
            await queue.get()
        await connection.close()

    run(main())


def test_silent_broker_is_detected_by_heartbeats(params):
    forwarder = Forwarder((params["host"], params["port"]))

    async def main():
        connection = await swiftamqp.connect(**dict(params, host="127.0.0.1", port=forwarder.port),
                                             heartbeat=1)
        channel = await connection.open_channel()
        start = time.monotonic()
        forwarder.hold_inbound = forwarder.hold_outbound = True  # a silent peer
        await asyncio.wait({connection.closed}, timeout=10)
        elapsed = time.monotonic() - start
        assert connection.closed.done(), "a silent peer was not detected in 10 s"
        exc = connection.closed.exception()
        assert isinstance(exc, swiftamqp.ConnectionLostError), repr(exc)
        assert exc.status_name == "SWAMQP_ERR_HEARTBEAT_TIMEOUT"
        assert 1.5 <= elapsed <= 4.0, elapsed  # two heartbeat intervals
        assert channel.is_closed()
        await connection.close()

    try:
        run(main())
    finally:
        forwarder.close()
