"""Consumers against a real broker: consume/cancel, hooks, server cancel, async for, qos, recover,
ack/nack/reject."""

import asyncio
import datetime
import time

import pytest

import swiftamqp
from conftest import run


async def setup(params, **connect_kwargs):
    connection = await swiftamqp.connect(**params, **connect_kwargs)
    channel = await connection.open_channel()
    queue = await channel.declare_queue("", exclusive=True, durable=False)
    exchange = await channel.declare_exchange("", "direct")
    return connection, channel, queue, exchange


async def until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %.1fs" % timeout)
        await asyncio.sleep(0.01)


def test_consume_delivers_in_order_with_attributes(params):
    async def main():
        connection, channel, queue, exchange = await setup(params)
        got = []
        consumer = await queue.consume(got.append)
        assert isinstance(consumer, swiftamqp.Consumer)
        assert consumer.tag.startswith("amq.ctag-") and consumer.callback == got.append
        assert consumer.cancelled is False
        n = 600  # more than one batch of events
        for i in range(n):
            exchange.publish(swiftamqp.Message(b"%d" % i, headers={"i": i}, priority=3), queue.name)
        await until(lambda: len(got) == n)
        assert [m.body for m in got] == [b"%d" % i for i in range(n)]
        # properties are copied encoded with the batch and decoded on first use, after many
        # later batches here
        last = got[-1]
        with pytest.raises(AttributeError):
            object.__getattribute__(last, "_properties")
        assert last.decode_errors is None
        assert object.__getattribute__(last, "_properties")["headers"] == {"i": n - 1}
        assert [m.headers for m in got] == [{"i": i} for i in range(n)]
        assert {(m.priority, m.content_type, m.content_encoding, m.delivery_mode) for m in got} == {
            (3, "application/octet-stream", "utf-8", None)}
        assert all(isinstance(m.timestamp, datetime.datetime) for m in got)
        first = got[0]
        assert isinstance(first, swiftamqp.IncomingMessage)
        assert first.consumer_tag == consumer.tag
        assert first.headers == {"i": 0} and first.priority == 3
        assert first.exchange_name == "" and first.routing_key == queue.name
        assert first.redelivered is False and first.sender is channel
        assert [m.delivery_tag for m in got] == list(range(1, n + 1))
        got[-1].ack(multiple=True)
        await consumer.cancel()
        assert consumer.cancelled and consumer.cancelled_future.done()
        assert consumer.cancelled_future.result() is consumer
        # after cancel, new messages stay in the queue
        exchange.publish(swiftamqp.Message(b"later"), queue.name)
        msg = await queue.get()
        assert msg.body == b"later"
        msg.ack()
        assert len(got) == n
        await consumer.cancel()  # again: no-op
        await connection.close()

    run(main())


def test_consume_options_and_errors(params, unique):
    async def main():
        connection, channel, queue, exchange = await setup(params)
        with pytest.raises(TypeError):
            await queue.consume("not callable")
        got = []
        consumer = await queue.consume(got.append, no_ack=True, exclusive=True,
                                       consumer_tag="pytest-tag", arguments={"x-priority": 5})
        assert consumer.tag == "pytest-tag"
        exchange.publish(swiftamqp.Message(b"x"), queue.name)
        await until(lambda: got)
        # no_ack: nothing to acknowledge, the queue is empty already
        assert await queue.get() is None
        # a second consumer on an exclusive consumer's queue: 403 ACCESS_REFUSED closes the channel
        other = await connection.open_channel()
        q2 = await other.declare_queue(queue.name, passive=True)
        with pytest.raises(swiftamqp.AccessRefused) as info:
            await q2.consume(lambda m: None)
        assert info.value.reply_code == 403
        assert other.is_closed() and not channel.is_closed()
        # a duplicate consumer tag on one channel: 530 NOT_ALLOWED is a connection error
        with pytest.raises(swiftamqp.AMQPError):
            await queue.consume(lambda m: None, consumer_tag="pytest-tag")
        await asyncio.wait({connection.closed}, timeout=5)
        assert isinstance(connection.closed.exception(), swiftamqp.ConnectionClosed)
        assert connection.closed.exception().reply_code == 530
        await connection.close()

    run(main())


def test_callback_hooks_on_cancel_and_on_error(params):
    class Callback:
        def __init__(self):
            self.messages, self.cancels, self.errors = [], 0, []

        def __call__(self, msg):
            self.messages.append(msg)

        def on_cancel(self):
            self.cancels += 1

        def on_error(self, exc):
            self.errors.append(exc)

    async def main():
        connection, channel, queue, exchange = await setup(params)
        cb = Callback()
        consumer = await queue.consume(cb)
        await consumer.cancel()
        assert cb.cancels == 1 and not cb.errors
        cb2 = Callback()
        await queue.consume(cb2)
        await channel.close()
        # as asynqp: the consumers of a channel closed by the application get on_error(ChannelClosed)
        assert len(cb2.errors) == 1 and isinstance(cb2.errors[0], swiftamqp.ChannelClosed)
        # a channel error reaches on_error with the broker's exception
        channel = await connection.open_channel()
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        cb3 = Callback()
        await queue.consume(cb3)
        with pytest.raises(swiftamqp.NotFound):
            await channel.declare_queue("pytest.no.such.queue.%d" % id(cb3), passive=True)
        await until(lambda: cb3.errors)
        assert isinstance(cb3.errors[0], swiftamqp.NotFound)
        # and a connection's end reaches every consumer
        channel = await connection.open_channel()
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        cb4 = Callback()
        await queue.consume(cb4)
        await connection.close()
        assert len(cb4.errors) == 1 and isinstance(cb4.errors[0], swiftamqp.ConnectionClosed)

    run(main())


def test_coroutine_callback_and_callback_exceptions(params):
    async def main():
        loop = asyncio.get_running_loop()
        errors = []
        loop.set_exception_handler(lambda loop, context: errors.append(context))
        connection, channel, queue, exchange = await setup(params)
        handled = []

        async def handler(msg):
            await asyncio.sleep(0)
            handled.append(msg.body)
            msg.ack()

        await queue.consume(handler)

        def broken(msg):
            raise RuntimeError("callback failed")

        q2 = await channel.declare_queue("", exclusive=True, durable=False)
        await q2.consume(broken, no_ack=True)
        for i in range(3):
            exchange.publish(swiftamqp.Message(b"%d" % i), queue.name)
            exchange.publish(swiftamqp.Message(b"%d" % i), q2.name)
        await until(lambda: len(handled) == 3 and len(errors) == 3)
        assert handled == [b"0", b"1", b"2"]
        assert all(isinstance(c["exception"], RuntimeError) for c in errors)
        # the connection keeps working
        assert not connection.is_closed()
        await connection.close()

    run(main())


def test_server_cancel_reaches_hooks_and_cancel_handler(params, unique):
    async def main():
        connection, channel, _, exchange = await setup(params)
        name = unique("server-cancel")
        queue = await channel.declare_queue(name, durable=False, exclusive=True)
        cancels, handled = [], []

        class Callback:
            def __call__(self, msg):
                pass

            def on_cancel(self):
                cancels.append("hook")

        channel.set_cancel_handler(handled.append)
        with pytest.raises(TypeError):
            channel.set_cancel_handler(42)
        consumer = await queue.consume(Callback())
        # deleting the queue from another channel makes the broker cancel the consumer
        other = await connection.open_channel()
        q_other = await other.declare_queue(name, passive=True)
        await q_other.delete(if_unused=False, if_empty=False)
        await until(lambda: handled)
        assert handled == [consumer] and cancels == ["hook"]
        assert consumer.cancelled and consumer.cancelled_by_server
        assert consumer.cancelled_future.done()
        await consumer.cancel()  # already cancelled: no request
        assert not channel.is_closed()
        await connection.close()

    run(main())


def test_async_for_over_a_queue(params):
    async def main():
        connection, channel, queue, exchange = await setup(params)
        for i in range(10):
            exchange.publish(swiftamqp.Message(b"%d" % i), queue.name)
        seen = []
        async with queue.iterate() as messages:
            async for msg in messages:
                seen.append(msg.body)
                msg.ack()
                if len(seen) == 4:
                    break
        assert seen == [b"0", b"1", b"2", b"3"]
        assert messages.consumer.cancelled
        # buffered but untaken messages went back to the queue
        rest = []
        async for msg in queue:
            rest.append(msg.body)
            msg.ack()
            if len(rest) == 6:
                break
        assert sorted(rest, key=int) == [b"%d" % i for i in range(4, 10)]
        # the iteration ends when the broker cancels the consumer
        q2 = await channel.declare_queue("", exclusive=True, durable=False)
        exchange.publish(swiftamqp.Message(b"last"), q2.name)
        got = []

        async def drain():
            async for msg in q2.iterate(no_ack=True):
                got.append(msg.body)
            return "ended"

        task = asyncio.ensure_future(drain())
        await until(lambda: got)
        other = await connection.open_channel()
        await (await other.declare_queue(q2.name, passive=True)).delete(if_unused=False)
        assert await asyncio.wait_for(task, 5) == "ended"
        assert got == [b"last"]
        # and raises the error when the channel fails
        q3 = await channel.declare_queue("", exclusive=True, durable=False)

        async def drain_error():
            async for _ in q3.iterate():
                pass

        task = asyncio.ensure_future(drain_error())
        await asyncio.sleep(0.1)
        with pytest.raises(swiftamqp.NotFound):
            await channel.declare_exchange("pytest-missing-%d" % id(task), "direct", passive=True)
        with pytest.raises(swiftamqp.NotFound):
            await asyncio.wait_for(task, 5)
        await connection.close()

    run(main())


def test_requests_pipelined_behind_consume_and_cancel(params, unique):
    """RabbitMQ answers basic.consume and basic.cancel from the queue's process, so the reply to
    a request sent right behind one on the same channel can arrive first: each reply still
    reaches its own request, and the connection stays up."""
    async def main():
        connection, channel, queue, exchange = await setup(params)
        other = await channel.declare_queue(unique("q"), exclusive=True, durable=False)
        for _ in range(50):
            consumer, declared, second = await asyncio.gather(
                queue.consume(lambda m: None), channel.declare_queue(queue.name, passive=True),
                other.consume(lambda m: None, consumer_tag=unique("tag")))
            assert declared.name == queue.name
            assert consumer.tag.startswith("amq.ctag-") and not second.tag.startswith("amq.ctag-")
            results = await asyncio.gather(consumer.cancel(), second.cancel(),
                                           channel.declare_queue(other.name, passive=True))
            assert results[2].name == other.name
            assert consumer.cancelled and second.cancelled
        check = await channel.declare_queue(queue.name, passive=True)
        assert check.consumer_count == 0
        assert not channel.is_closed() and not connection.is_closed()
        await connection.close()

    run(main())


def test_qos_prefetch_limits_unacked_deliveries(params):
    async def main():
        connection, channel, queue, exchange = await setup(params)
        await channel.set_qos(prefetch_count=3)
        with pytest.raises(ValueError):
            await channel.set_qos(prefetch_count=1 << 16)
        for i in range(10):
            exchange.publish(swiftamqp.Message(b"%d" % i), queue.name)
        got = []
        await queue.consume(got.append)
        await asyncio.sleep(0.3)
        assert len(got) == 3  # no more until acked
        got[-1].ack(multiple=True)
        await until(lambda: len(got) == 6)
        await asyncio.sleep(0.2)
        assert len(got) == 6
        await channel.set_qos(prefetch_count=0, apply_globally=True)
        await connection.close()

    run(main())


def test_reject_nack_and_recover(params):
    async def main():
        connection, channel, queue, exchange = await setup(params)
        for i in range(4):
            exchange.publish(swiftamqp.Message(b"%d" % i), queue.name)
        m0 = await queue.get()
        m0.reject(requeue=False)  # dropped
        m1 = await queue.get()
        m1.reject()  # requeued (asynqp's default)
        again = await queue.get()
        assert again.body == b"1" and again.redelivered
        m2 = await queue.get()
        m3 = await queue.get()
        assert (m2.body, m3.body) == (b"2", b"3")
        m3.nack(multiple=True)  # requeues 1, 2 and 3
        bodies = sorted([(await queue.get(no_ack=True)).body for _ in range(3)])
        assert bodies == [b"1", b"2", b"3"]
        assert await queue.get() is None
        exchange.publish(swiftamqp.Message(b"n"), queue.name)
        m = await queue.get()
        m.nack(requeue=False)
        assert await queue.get() is None
        # recover: unacknowledged deliveries come again
        exchange.publish(swiftamqp.Message(b"r"), queue.name)
        got = []
        await queue.consume(got.append)
        await until(lambda: len(got) == 1)
        await channel.recover(requeue=True)
        await until(lambda: len(got) == 2)
        assert got[1].body == b"r" and got[1].redelivered
        got[1].ack()
        # acknowledging an unknown delivery tag is a channel error (406)
        m_bad = swiftamqp.IncomingMessage(b"", sender=channel, delivery_tag=999)
        m_bad.ack()
        await until(lambda: channel.is_closed())
        with pytest.raises(swiftamqp.PreconditionFailed):
            m_bad.ack()
        # a returned message cannot be acknowledged
        ch2 = await connection.open_channel()
        returned = []
        ch2.set_return_handler(returned.append)
        ex2 = await ch2.declare_exchange("", "direct")
        ex2.publish(swiftamqp.Message(b"r"), "pytest.nobody.here")
        await until(lambda: returned)
        assert returned[0].reply_code == 312 and returned[0].reply_text == "NO_ROUTE"
        with pytest.raises(ValueError):
            returned[0].ack()
        await connection.close()
        with pytest.raises(swiftamqp.AMQPError):
            again.ack()

    run(main())


def test_cancelled_consume_leaves_no_consumer(params):
    async def main():
        connection, channel, queue, exchange = await setup(params)
        got = []
        task = asyncio.ensure_future(queue.consume(got.append))
        await asyncio.sleep(0)  # the request is sent
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for i in range(5):
            exchange.publish(swiftamqp.Message(b"%d" % i), queue.name)
        await asyncio.sleep(0.3)
        assert got == []
        # every message is still in the queue (any delivered to the orphan consumer was requeued)
        bodies = []
        while len(bodies) < 5:
            m = await queue.get(no_ack=True)
            if m is None:
                await asyncio.sleep(0.05)
                continue
            bodies.append(m.body)
        assert sorted(bodies) == [b"%d" % i for i in range(5)]
        await connection.close()

    run(main())


def test_cancelled_get_requeues_its_message(params):
    async def main():
        connection, channel, queue, exchange = await setup(params)
        exchange.publish(swiftamqp.Message(b"only"), queue.name)
        await asyncio.sleep(0.1)
        task = asyncio.ensure_future(queue.get())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.2)
        msg = await queue.get()
        assert msg is not None and msg.body == b"only" and msg.redelivered
        msg.ack()
        await connection.close()

    run(main())


def test_cancelled_no_ack_consume_keeps_what_reached_it(params):
    """Deliveries to a no-ack consumer whose consume() was cancelled cannot be requeued: they
    wait on the Queue for the next no-ack get, so none is lost and the order holds."""
    async def main():
        connection, channel, queue, exchange = await setup(params)
        n = 50
        for i in range(n):
            exchange.publish(swiftamqp.Message(b"%d" % i), queue.name)
        for _ in range(100):
            if (await channel.declare_queue(queue.name, passive=True)).message_count == n:
                break
            await asyncio.sleep(0.01)
        got = []
        task = asyncio.ensure_future(queue.consume(got.append, no_ack=True))
        await asyncio.sleep(0)  # the request is sent
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the broker delivers the ready messages right after its consume-ok, before our cancel
        for _ in range(100):
            if queue.unclaimed:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the cancel-ok came: nothing more reaches the orphan consumer
        assert got == [] and queue.unclaimed > 0
        bodies = []
        while len(bodies) < n:
            m = await queue.get(no_ack=True)
            assert m is not None, bodies
            bodies.append(m.body)
        assert bodies == [b"%d" % i for i in range(n)]
        assert queue.unclaimed == 0 and await queue.get(no_ack=True) is None
        await connection.close()

    run(main())


def test_coroutine_callback_tasks_are_kept_referenced(params):
    """asyncio keeps only weak references to tasks: the task running a coroutine callback
    (or handler) must be referenced by the binding, or a garbage collection mid-run ends it."""
    import gc
    import weakref

    async def main():
        connection, channel, queue, exchange = await setup(params)
        loop = asyncio.get_running_loop()
        waiting, done = [], []

        async def callback(message):
            fut = loop.create_future()  # referenced only by this coroutine's task
            waiting.append(weakref.ref(fut))
            await fut
            done.append(message.body)

        await queue.consume(callback, no_ack=True)
        exchange.publish(swiftamqp.Message(b"kept alive"), queue.name)
        await until(lambda: waiting)
        await asyncio.sleep(0.05)
        gc.collect()
        fut = waiting[0]()
        assert fut is not None, "the callback's task was garbage collected while it ran"
        fut.set_result(None)
        await until(lambda: done)
        assert done == [b"kept alive"]
        await connection.close()

    run(main())
