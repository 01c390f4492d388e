"""Plain publishing under backpressure: Exchange.publish waits for room in the outbound buffer
(bounded by publish_timeout), Exchange.publish_async waits without blocking the loop."""

import asyncio
import time

import pytest

import swiftamqp
from conftest import Forwarder, run


async def setup(params, **connect_kwargs):
    connection = await swiftamqp.connect(**params, **connect_kwargs)
    channel = await connection.open_channel()
    queue = await channel.declare_queue("", exclusive=True, durable=False)
    exchange = await channel.declare_exchange("", "direct")
    return connection, channel, queue, exchange


async def depth(channel, name):
    return (await channel.declare_queue(name, passive=True)).message_count


async def until_depth(channel, name, n, timeout=60.0):
    deadline = time.monotonic() + timeout
    count = await depth(channel, name)
    while count != n and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        count = await depth(channel, name)
    return count


def test_tight_loop_of_plain_publishes_all_arrive(params):
    """200,000 plain publishes of 4 KiB (800 MB, 50 times the default 16 MiB outbound limit)
    in a loop that never yields: each waits for room when the buffer is full, none fails."""
    n = 200_000

    async def main():
        connection, channel, queue, exchange = await setup(params)
        body = b"x" * 4096
        message = swiftamqp.Message(body)
        for i in range(n):
            exchange.publish(message, queue.name)
        assert await until_depth(channel, queue.name, n) == n
        assert await queue.purge() == n
        await connection.close()

    run(main(), timeout=240)


def test_publish_arguments_past_int_range(params):
    """A publish_timeout beyond 2**31 ms and the handle reach the library intact (the publish
    call converts no argument itself: see _ffi._unchecked)."""
    async def main():
        connection, channel, queue, exchange = await setup(params)
        connection.publish_timeout = 3_000_000  # 3e9 ms: past a C int
        exchange.publish(swiftamqp.Message(b"far"), queue.name)
        exchange.publish(swiftamqp.Message(b"near"), queue.name, timeout=0.5)
        await exchange.publish_async(swiftamqp.Message(b"async"), queue.name)
        await exchange.publish_confirmed(swiftamqp.Message(b"confirmed"), queue.name, timeout=5)
        bodies = []
        for _ in range(4):
            msg = await queue.get(no_ack=True)
            bodies.append(msg.body)
        assert bodies == [b"far", b"near", b"async", b"confirmed"]
        await connection.close()
        with pytest.raises(swiftamqp.AMQPError):
            exchange.publish(swiftamqp.Message(b"closed"), queue.name)

    run(main())


def test_publish_timeout_and_publish_async(params):
    """Through a forwarder that stops passing our bytes to the broker, the outbound buffer fills:
    a plain publish then waits publish_timeout and raises PublishTimeout (WouldBlock at once with
    a timeout of 0); publish_async waits without blocking the loop and completes when the bytes
    flow again. Every publish that returned arrives, none that raised does."""
    forwarder = Forwarder((params["host"], params["port"]))

    async def main():
        connection, channel, queue, exchange = await setup(
            dict(params, host="127.0.0.1", port=forwarder.port), outbound_limit=256 * 1024,
            publish_timeout=0.3)
        assert connection.publish_timeout == 0.3
        message = swiftamqp.Message(b"y" * 4096)
        forwarder.hold_outbound = True
        sent = 0
        with pytest.raises(swiftamqp.WouldBlock) as info:
            for _ in range(100_000):  # the socket buffers take a few MB first
                exchange.publish(message, queue.name, timeout=0)
                sent += 1
        assert info.value.status_name == "SWAMQP_ERR_WOULD_BLOCK"
        assert not isinstance(info.value, swiftamqp.PublishTimeout)
        assert sent > 0

        started = time.monotonic()
        with pytest.raises(swiftamqp.PublishTimeout) as info:
            exchange.publish(message, queue.name)
        waited = time.monotonic() - started
        assert 0.25 < waited < 3, waited
        assert isinstance(info.value, swiftamqp.WouldBlock)
        assert isinstance(info.value, swiftamqp.AMQPTimeoutError)
        assert "publish_timeout" in str(info.value) and "outbound" in str(info.value)
        with pytest.raises(swiftamqp.PublishTimeout):
            exchange.publish(message, queue.name, timeout=0.05)

        # publish_async gives up after its timeout too, without blocking the loop
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick = asyncio.ensure_future(ticker())
        started = time.monotonic()
        with pytest.raises(swiftamqp.PublishTimeout):
            await exchange.publish_async(message, queue.name)
        assert time.monotonic() - started > 0.25 and ticks >= 10, ticks

        # and completes once the bytes flow again
        waiting = asyncio.ensure_future(exchange.publish_async(message, queue.name, timeout=30))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        ticks_before = ticks
        forwarder.hold_outbound = False
        await asyncio.wait_for(waiting, 20)
        sent += 1
        assert ticks > ticks_before
        tick.cancel()
        # a tight loop of publish_async calls loses nothing
        for i in range(2000):
            await exchange.publish_async(swiftamqp.Message(b"%d" % i), queue.name)
        sent += 2000
        assert await until_depth(channel, queue.name, sent) == sent
        await connection.close()

    try:
        run(main(), timeout=120)
    finally:
        forwarder.close()


def test_publish_timeout_option_is_checked(params):
    async def main():
        for bad in (-1, "5", True):
            with pytest.raises((TypeError, ValueError)):
                await swiftamqp.connect(**params, publish_timeout=bad)
        connection, channel, queue, exchange = await setup(params)
        assert connection.publish_timeout == 5.0  # the default
        with pytest.raises(ValueError):
            connection.publish_timeout = -0.5
        connection.publish_timeout = 0
        with pytest.raises(TypeError):
            exchange.publish(swiftamqp.Message(b""), queue.name, timeout="1")
        await connection.close()

    run(main())


def test_messages_sharing_encoded_properties_arrive_with_theirs(params):
    """New Messages with repeated properties (whose C properties are shared) and with other
    properties arrive each with its own properties and body."""
    async def main():
        connection, channel, queue, exchange = await setup(params)
        sent = [swiftamqp.Message(b"a", content_type="text/plain", app_id="x"),
                swiftamqp.Message(b"b", content_type="text/plain", app_id="x"),
                swiftamqp.Message(b"c", content_type="text/plain", app_id="y", priority=4),
                swiftamqp.Message(b"d", content_type="text/plain", app_id="x")]
        for message in sent:
            exchange.publish(message, queue.name)
        got = []
        for _ in sent:
            msg = await queue.get(no_ack=True)
            got.append((msg.body, msg.content_type, msg.app_id, msg.priority, msg.timestamp))
        assert got == [(m.body, "text/plain", m.app_id, m.priority, m.timestamp) for m in sent]
        await connection.close()

    run(main())
