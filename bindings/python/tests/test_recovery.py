"""Automatic recovery through a TCP forwarder that cuts the connection."""

import asyncio
import socket
import time

import pytest

import swiftamqp
from conftest import Forwarder, run


async def until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %.0fs" % timeout)
        await asyncio.sleep(0.02)


def test_automatic_recovery_restores_consumers(params, unique):
    forwarder = Forwarder((params["host"], params["port"]))
    started, recovered = [], []

    async def main():
        connection = await swiftamqp.connect_robust(
            **dict(params, host="127.0.0.1", port=forwarder.port),
            recovery_initial_delay=0.05, recovery_max_delay=0.5, heartbeat=5)
        connection.set_recovery_handler(started.append, recovered.append)
        with pytest.raises(TypeError):
            connection.set_recovery_handler("no")
        channel = await connection.open_channel()
        await channel.set_qos(prefetch_count=50)
        queue = await channel.declare_queue(unique("recover"), exclusive=True, durable=False)
        exchange = await channel.declare_exchange("", "direct")
        got = []
        consumer = await queue.consume(got.append)
        exchange.publish(swiftamqp.Message(b"before"), queue.name)
        await until(lambda: got)
        before = got[0]

        forwarder.cut()
        await until(lambda: started)
        assert isinstance(started[0], swiftamqp.AMQPError)
        await until(lambda: recovered)
        assert recovered == [0] and not connection.recovering
        assert not connection.is_closed() and not channel.is_closed()
        assert forwarder.accepted == 2
        # the consumer (same tag) and the queue (same name) are back
        exchange.publish(swiftamqp.Message(b"after"), queue.name)
        await until(lambda: len(got) == 2)
        assert got[1].body == b"after" and got[1].consumer_tag == consumer.tag
        got[1].ack()
        # a delivery from before the loss cannot be acknowledged any more: nothing is sent
        with pytest.raises(swiftamqp.StaleDeliveryTag) as info:
            before.ack()
        assert info.value.status_name == "SWAMQP_ERR_STALE_DELIVERY_TAG"
        assert not channel.is_closed()
        await exchange.publish_confirmed(swiftamqp.Message(b"confirmed"), queue.name)
        await connection.close()
        assert isinstance(connection.closed.exception(), swiftamqp.ConnectionClosed)

    try:
        run(main(), timeout=60)
    finally:
        forwarder.close()


def test_server_named_queue_follows_its_new_name(params):
    forwarder = Forwarder((params["host"], params["port"]))
    recovered = []

    async def main():
        connection = await swiftamqp.connect(
            **dict(params, host="127.0.0.1", port=forwarder.port), automatic_recovery=True,
            recovery_initial_delay=0.05)
        connection.set_recovery_handler(None, recovered.append)
        channel = await connection.open_channel()
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        old_name = queue.name
        exchange = await channel.declare_exchange("", "direct")
        got = []
        await queue.consume(got.append, no_ack=True)
        forwarder.cut()
        await until(lambda: recovered)
        assert queue.name != old_name and queue.name.startswith("amq.gen-")
        exchange.publish(swiftamqp.Message(b"to the new name"), queue.name)
        await until(lambda: got)
        assert got[0].body == b"to the new name" and got[0].routing_key == queue.name
        await connection.close()

    try:
        run(main(), timeout=60)
    finally:
        forwarder.close()


def test_recovery_gives_up_after_max_attempts(params):
    forwarder = Forwarder((params["host"], params["port"]))

    async def main():
        connection = await swiftamqp.connect(
            **dict(params, host="127.0.0.1", port=forwarder.port), automatic_recovery=True,
            recovery_initial_delay=0.05, recovery_max_delay=0.1, recovery_max_attempts=2,
            connect_timeout=2)
        channel = await connection.open_channel()
        forwarder.close()  # nothing listens any more
        await asyncio.wait({connection.closed}, timeout=20)
        assert connection.closed.done()
        exc = connection.closed.exception()
        assert isinstance(exc, (swiftamqp.ConnectionLostError, swiftamqp.ConnectError)), repr(exc)
        assert channel.is_closed()
        await connection.close()

    run(main(), timeout=60)


def test_connect_url_list_and_endpoints(amqp_url, params):
    async def main():
        # the first URL names a port where nothing listens: the list's second one is used
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))
        port = dead.getsockname()[1]
        dead.close()
        first = "amqp://%s:%s@127.0.0.1:%d/%%2f" % (params["username"], params["password"], port)
        connection = await swiftamqp.connect_url([first, amqp_url], connect_timeout=10)
        await (await connection.open_channel()).declare_queue("", exclusive=True, durable=False)
        await connection.close()
        connection = await swiftamqp.connect_url(first + "," + amqp_url, connect_timeout=10)
        await connection.close()
        connection = await swiftamqp.connect(**dict(params, host="127.0.0.1", port=port),
                                             endpoints=["%s:%d" % (params["host"], params["port"])],
                                             automatic_recovery=True, connect_timeout=10)
        await connection.close()
        with pytest.raises(ValueError):
            await swiftamqp.connect(**params, endpoints=["host:notaport"])

    run(main())


def test_plain_connect_keeps_asynqp_behaviour_and_stays_lost(params):
    forwarder = Forwarder((params["host"], params["port"]))

    async def main():
        connection = await swiftamqp.connect(**dict(params, host="127.0.0.1", port=forwarder.port))
        forwarder.cut()
        with pytest.raises(swiftamqp.ConnectionLostError):
            await asyncio.wait_for(asyncio.shield(connection.closed), 10)
        assert connection.is_closed()
        assert forwarder.accepted == 1

    try:
        run(main(), timeout=30)
    finally:
        forwarder.close()
