"""A broker that never answers: every coroutine that waits for a reply gives up at its timeout
(the rpc_timeout connect option, or timeout= per call) with AMQPTimeoutError; the late reply,
when it comes, reaches no one else and what it left at the broker is undone."""

import asyncio
import time

import pytest

import swiftamqp
from conftest import Forwarder, run


async def gives_up(awaitable, at_least, at_most=5.0):
    started = time.monotonic()
    with pytest.raises(swiftamqp.AMQPTimeoutError) as info:
        await asyncio.wait_for(awaitable, 30)  # the test's own guard: a hang fails here
    waited = time.monotonic() - started
    assert at_least * 0.9 <= waited < at_most, waited
    assert info.value.status_name == "SWAMQP_ERR_TIMEOUT"
    assert "no reply" in str(info.value)
    return info.value


def test_every_broker_wait_has_a_timeout(params, unique):
    forwarder = Forwarder((params["host"], params["port"]))

    async def main():
        connection = await swiftamqp.connect(**dict(params, host="127.0.0.1", port=forwarder.port),
                                             rpc_timeout=0.4, heartbeat=0)
        assert connection.rpc_timeout == 0.4
        channel = await connection.open_channel()
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        exchange = await channel.declare_exchange(unique("ex"), "fanout", durable=False,
                                                  auto_delete=True)
        binding = await queue.bind(exchange, "k")
        default = await channel.declare_exchange("", "direct")
        default.publish(swiftamqp.Message(b"kept"), queue.name)
        await asyncio.sleep(0.2)

        forwarder.hold_inbound = True  # from now on the broker's replies do not reach us
        # a per-call timeout overrides the connection's rpc_timeout
        await gives_up(queue.get(no_ack=True, timeout=0.8), 0.8)
        await gives_up(queue.consume(lambda m: None, timeout=0.1), 0.1, 0.4)
        # the connection's rpc_timeout (the requests do reach the broker, which acts on them)
        await gives_up(channel.declare_queue(unique("q"), exclusive=True), 0.4)
        await gives_up(connection.open_channel(), 0.4)
        await gives_up(queue.bind(exchange, "k2"), 0.4)
        await gives_up(binding.unbind(), 0.4)
        await gives_up(channel.declare_exchange(unique("ex2"), "fanout", auto_delete=True), 0.4)
        await gives_up(channel.set_qos(prefetch_count=5), 0.4)
        await gives_up(queue.purge(), 0.4)
        await gives_up(channel.recover(), 0.4)
        connection.rpc_timeout = 0.2
        assert connection.rpc_timeout == 0.2
        await gives_up(exchange.delete(if_unused=False), 0.2)

        forwarder.hold_inbound = False
        # the late replies reached no one: later calls get their own replies
        again = await channel.declare_queue(queue.name, passive=True)
        assert again.name == queue.name
        # the timed-out no-ack get's message was kept for the next no-ack get
        for _ in range(100):
            if queue.unclaimed:
                break
            await asyncio.sleep(0.01)
        msg = await queue.get(no_ack=True)
        assert msg is not None and msg.body == b"kept"
        # the timed-out consume's consumer was cancelled at the broker
        for _ in range(100):
            check = await channel.declare_queue(queue.name, passive=True)
            if check.consumer_count == 0:
                break
            await asyncio.sleep(0.02)
        assert check.consumer_count == 0
        assert not channel.is_closed()

        # a consumer whose cancel timed out counts as cancelled once the late cancel-ok came
        consumer = await queue.consume(lambda m: None, timeout=5)
        forwarder.hold_inbound = True
        await gives_up(consumer.cancel(timeout=0.2), 0.2)
        assert not consumer.cancelled
        forwarder.hold_inbound = False
        await asyncio.wait_for(consumer.cancelled_future, 5)
        assert consumer.cancelled
        await consumer.cancel()  # nothing more to do

        # confirms: publish_confirmed and wait_for_confirms
        await channel.confirm_select(timeout=5)
        forwarder.hold_inbound = True
        await gives_up(default.publish_confirmed(swiftamqp.Message(b"c"), queue.name), 0.2)
        await gives_up(channel.wait_for_confirms(timeout=0.3), 0.3)
        # close() gives up waiting too, without raising: the channel is over either way
        started = time.monotonic()
        await channel.close(timeout=0.3)
        assert 0.25 < time.monotonic() - started < 5
        assert channel.is_closed()
        started = time.monotonic()
        await connection.close(timeout=0.3)
        assert time.monotonic() - started < 5
        assert connection.is_closed()

    try:
        run(main(), timeout=60)
    finally:
        forwarder.close()


def test_each_publish_confirmed_gives_up_at_its_own_deadline(params):
    """Unconfirmed publishes expire in deadline order, whatever order they were made in; the
    confirms that come late reach no one, and later publishes are confirmed as usual."""
    forwarder = Forwarder((params["host"], params["port"]))

    async def main():
        connection = await swiftamqp.connect(**dict(params, host="127.0.0.1", port=forwarder.port),
                                             heartbeat=0)
        channel = await connection.open_channel()
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        default = await channel.declare_exchange("", "direct")
        await default.publish_confirmed(swiftamqp.Message(b"first"), queue.name, timeout=5)
        forwarder.hold_inbound = True
        finished = []

        async def publish(timeout):
            try:
                await default.publish_confirmed(swiftamqp.Message(b"x"), queue.name, timeout=timeout)
            except swiftamqp.AMQPTimeoutError as exc:
                assert "no reply" in str(exc)
                finished.append(timeout)

        started = time.monotonic()
        # later deadlines first, then an earlier one: the earliest still fires first
        await asyncio.wait_for(asyncio.gather(publish(0.9), publish(0.6), publish(0.3)), 30)
        assert finished == [0.3, 0.6, 0.9], finished
        assert 0.8 <= time.monotonic() - started < 5
        assert channel.unconfirmed == 3  # their confirms have not come yet
        forwarder.hold_inbound = False
        await default.publish_confirmed(swiftamqp.Message(b"last"), queue.name, timeout=5)
        assert channel.unconfirmed == 0
        assert not channel._confirm_deadlines and channel._confirm_timer is None
        assert (await queue.purge()) == 5
        await connection.close()

    try:
        run(main(), timeout=60)
    finally:
        forwarder.close()


def test_open_is_bounded_by_connect_timeout_not_rpc_timeout(params):
    """The handshake is bounded by connect_timeout (the library's), whatever rpc_timeout says."""
    forwarder = Forwarder((params["host"], params["port"]))

    async def main():
        forwarder.hold_inbound = True
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, setattr, forwarder, "hold_inbound", False)
        connection = await swiftamqp.connect(**dict(params, host="127.0.0.1", port=forwarder.port),
                                             rpc_timeout=0.1, connect_timeout=10)
        assert not connection.is_closed()
        await connection.close()

    try:
        run(main())
    finally:
        forwarder.close()


def test_timeout_options_are_checked(params):
    async def main():
        for bad in (-1, "1", True):
            with pytest.raises((TypeError, ValueError)):
                await swiftamqp.connect(**params, rpc_timeout=bad)
        connection, channel = await swiftamqp.connect_and_open_channel(**params, rpc_timeout=None)
        assert connection.rpc_timeout is None  # no bound
        connection.rpc_timeout = 30
        with pytest.raises(ValueError):
            await channel.declare_queue("", exclusive=True, timeout=-1)
        await connection.close()
        connection = await swiftamqp.connect(**params)
        assert connection.rpc_timeout == 60.0  # the default
        await connection.close()

    run(main())
