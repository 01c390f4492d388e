"""Publisher confirms and transactions against a real broker."""

import asyncio

import pytest

import swiftamqp
from conftest import Forwarder, run


async def setup(params, **connect_kwargs):
    connection = await swiftamqp.connect(**params, **connect_kwargs)
    channel = await connection.open_channel()
    queue = await channel.declare_queue("", exclusive=True, durable=False)
    exchange = await channel.declare_exchange("", "direct")
    return connection, channel, queue, exchange


def test_publish_confirmed_acks_and_returns(params):
    async def main():
        connection, channel, queue, exchange = await setup(params)
        assert not channel.confirm_mode
        assert await exchange.publish_confirmed(swiftamqp.Message(b"one"), queue.name) is None
        assert channel.confirm_mode and channel.unconfirmed == 0
        # many at once
        await asyncio.gather(*[exchange.publish_confirmed(swiftamqp.Message(b"%d" % i), queue.name)
                               for i in range(500)])
        assert channel.unconfirmed == 0
        assert await queue.purge() == 501
        # an unroutable mandatory publish raises with the returned message, and does not reach
        # the return handler
        handled = []
        channel.set_return_handler(handled.append)
        msg = swiftamqp.Message(b"nobody", message_id="m-1")
        with pytest.raises(swiftamqp.UndeliverableMessage) as info:
            await exchange.publish_confirmed(msg, "pytest.no.such.queue")
        returned = info.value.message
        assert isinstance(returned, swiftamqp.IncomingMessage)
        assert returned.body == b"nobody" and returned.message_id == "m-1"
        assert returned.reply_code == 312 and returned.routing_key == "pytest.no.such.queue"
        assert handled == []
        # mixed: routable and unroutable ones in flight together resolve each to its own outcome
        calls = [exchange.publish_confirmed(swiftamqp.Message(b"%d" % i),
                                            queue.name if i % 2 else "pytest.nowhere")
                 for i in range(40)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        for i, result in enumerate(results):
            if i % 2:
                assert result is None, (i, result)
            else:
                assert isinstance(result, swiftamqp.UndeliverableMessage), (i, result)
                assert result.message.body == b"%d" % i
        # not mandatory: an unroutable message is simply confirmed
        await exchange.publish_confirmed(swiftamqp.Message(b"lost"), "pytest.nowhere", mandatory=False)
        # plain publishes on a confirm channel still work, and wait_for_confirms covers them
        for i in range(10):
            exchange.publish(swiftamqp.Message(b"p%d" % i), queue.name)
        await channel.wait_for_confirms()
        assert handled == []
        await connection.close()

    run(main())


def test_nacks_raise_publish_nacked(params):
    async def main():
        connection, channel, _, exchange = await setup(params)
        # a full queue that rejects publishes makes the broker nack them
        queue = await channel.declare_queue("", exclusive=True, durable=False, arguments={
            "x-max-length": 1, "x-overflow": "reject-publish"})
        await exchange.publish_confirmed(swiftamqp.Message(b"fits"), queue.name)
        msg = swiftamqp.Message(b"too many")
        with pytest.raises(swiftamqp.PublishNacked) as info:
            await exchange.publish_confirmed(msg, queue.name)
        assert info.value.message is msg and info.value.sequence == 2
        # wait_for_confirms reports a nack of a plain publish since the previous wait
        exchange.publish(swiftamqp.Message(b"also too many"), queue.name)
        with pytest.raises(swiftamqp.PublishNacked):
            await channel.wait_for_confirms()
        await channel.wait_for_confirms()  # nothing nacked since
        await connection.close()

    run(main())


def test_wait_for_confirms_needs_confirm_mode(params):
    async def main():
        connection, channel, queue, exchange = await setup(params)
        with pytest.raises(swiftamqp.LibraryError) as info:
            await channel.wait_for_confirms()
        assert info.value.status_name == "SWAMQP_ERR_NOT_CONFIRM_MODE"
        await channel.confirm_select()
        await channel.confirm_select()  # idempotent
        await channel.wait_for_confirms()
        # tx and confirms exclude each other: 406
        with pytest.raises(swiftamqp.PreconditionFailed):
            await channel.tx_select()
        await connection.close()

    run(main())


def test_outstanding_confirms_are_bounded(params):
    # Through a forwarder that can hold the broker's confirms back.
    forwarder = Forwarder((params["host"], params["port"]))

    async def main():
        connection, channel, queue, exchange = await setup(
            dict(params, host="127.0.0.1", port=forwarder.port), max_unconfirmed=4)
        await channel.confirm_select()
        forwarder.hold_inbound = True
        # publish_confirmed waits (instead of failing) while 4 publishes await their confirms
        tasks = [asyncio.ensure_future(
            exchange.publish_confirmed(swiftamqp.Message(b"%d" % i), queue.name)) for i in range(10)]
        await asyncio.sleep(0.3)
        assert channel.unconfirmed == 4 and not any(t.done() for t in tasks)
        # a plain publish waits publish_timeout for room, then raises PublishTimeout; with a
        # timeout of 0 it raises WouldBlock at once
        connection.publish_timeout = 0.2
        with pytest.raises(swiftamqp.PublishTimeout) as info:
            exchange.publish(swiftamqp.Message(b"plain"), queue.name)
        assert info.value.status_name == "SWAMQP_ERR_TIMEOUT"
        assert "max_unconfirmed" in str(info.value) or "confirm" in str(info.value)
        with pytest.raises(swiftamqp.WouldBlock) as info:
            exchange.publish(swiftamqp.Message(b"plain"), queue.name, timeout=0)
        assert info.value.status_name == "SWAMQP_ERR_WOULD_BLOCK"
        forwarder.hold_inbound = False
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert channel.unconfirmed == 0
        # many at once, all eventually confirmed, never more than 4 outstanding
        peak = 0

        async def watch():
            nonlocal peak
            while True:
                peak = max(peak, channel.unconfirmed)
                await asyncio.sleep(0)

        watcher = asyncio.ensure_future(watch())
        await asyncio.gather(*[exchange.publish_confirmed(swiftamqp.Message(b"%d" % i), queue.name)
                               for i in range(300)])
        watcher.cancel()
        assert 1 <= peak <= 300
        assert await queue.purge() == 310
        await connection.close()

    try:
        run(main())
    finally:
        forwarder.close()


def test_confirm_waiters_fail_when_the_channel_ends(params, unique):
    async def main():
        connection, channel, queue, exchange = await setup(params)
        await channel.confirm_select()
        # a publish to a missing exchange closes the channel (404) before its confirm
        missing = swiftamqp.Exchange(channel, unique("missing"), "direct", False, False, False)
        with pytest.raises(swiftamqp.NotFound):
            await missing.publish_confirmed(swiftamqp.Message(b"x"), "k")
        assert channel.is_closed()
        with pytest.raises(swiftamqp.NotFound):
            await exchange.publish_confirmed(swiftamqp.Message(b"x"), queue.name)
        # a cancelled waiter does not disturb the others
        channel = await connection.open_channel()
        exchange = await channel.declare_exchange("", "direct")
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        task = asyncio.ensure_future(exchange.publish_confirmed(swiftamqp.Message(b"a"), queue.name))
        await asyncio.sleep(0)
        task.cancel()
        await exchange.publish_confirmed(swiftamqp.Message(b"b"), queue.name)
        await asyncio.sleep(0.1)
        assert await queue.purge() in (1, 2)
        await connection.close()
        with pytest.raises(swiftamqp.ConnectionClosed):
            await exchange.publish_confirmed(swiftamqp.Message(b"c"), queue.name)

    run(main())


def test_transactions(params):
    async def main():
        connection, channel, queue, exchange = await setup(params)
        await channel.tx_select()
        exchange.publish(swiftamqp.Message(b"rolled back"), queue.name)
        await channel.tx_rollback()
        assert await queue.get() is None
        exchange.publish(swiftamqp.Message(b"committed"), queue.name)
        await asyncio.sleep(0.1)
        assert await queue.get() is None  # not before the commit
        await channel.tx_commit()
        msg = await queue.get()
        assert msg.body == b"committed"
        msg.ack()
        await channel.tx_rollback()  # the ack is undone: the message is unacknowledged again
        await channel.recover()
        msg = await queue.get()
        assert msg is not None and msg.redelivered
        msg.ack()
        await channel.tx_commit()
        assert await queue.get() is None
        # confirm.select on a transactional channel: 406
        with pytest.raises(swiftamqp.PreconditionFailed):
            await channel.confirm_select()
        # commit without select: 406
        channel = await connection.open_channel()
        with pytest.raises(swiftamqp.PreconditionFailed):
            await channel.tx_commit()
        await connection.close()

    run(main())
