"""Exchanges, queues and bindings against a real broker, with their error paths."""

import asyncio

import pytest

import swiftamqp
from conftest import broker_ctl, run


def test_queue_unbind_purge_delete(params, unique):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        exchange = await channel.declare_exchange(unique("ex"), "topic", durable=False,
                                                  auto_delete=False)
        queue = await channel.declare_queue(unique("q"), durable=False, exclusive=True)
        binding = await queue.bind(exchange, "a.*", arguments={"x-note": "pytest"})
        assert "QueueBinding" in repr(binding)
        exchange.publish(swiftamqp.Message(b"1"), "a.b")
        exchange.publish(swiftamqp.Message(b"2"), "a.c")
        await asyncio.sleep(0.1)
        assert await queue.purge() == 2
        assert await queue.get() is None
        await binding.unbind()
        assert binding.deleted
        with pytest.raises(swiftamqp.Deleted):
            await binding.unbind()
        returned = []
        channel.set_return_handler(returned.append)
        exchange.publish(swiftamqp.Message(b"3"), "a.b")
        for _ in range(100):
            if returned:
                break
            await asyncio.sleep(0.02)
        assert [m.body for m in returned] == [b"3"]  # no binding any more: returned
        # delete: if_empty refuses a queue with messages (406), if_unused one with consumers
        default = await channel.declare_exchange("", "direct")
        default.publish(swiftamqp.Message(b"4"), queue.name)
        await asyncio.sleep(0.1)
        with pytest.raises(swiftamqp.PreconditionFailed):
            await queue.delete()
        channel = await connection.open_channel()
        queue = await channel.declare_queue(queue.name, passive=True)
        consumer = await queue.consume(lambda m: None, no_ack=True)  # takes the message
        await asyncio.sleep(0.1)
        with pytest.raises(swiftamqp.PreconditionFailed):
            await queue.delete(if_empty=False)
        channel = await connection.open_channel()
        queue = await channel.declare_queue(queue.name, passive=True)
        assert await queue.delete(if_unused=False) == 0
        assert queue.deleted
        for call in (queue.get(), queue.purge(), queue.delete(), queue.bind(exchange, "x"),
                     queue.consume(lambda m: None)):
            with pytest.raises(swiftamqp.Deleted):
                await call
        assert not consumer.cancelled  # its channel was closed by the 406, not the consumer
        # purge of a queue that is gone: 404
        with pytest.raises(swiftamqp.NotFound):
            await swiftamqp.Queue(channel, unique("gone"), False, False, False, {}).purge()
        await connection.close()

    run(main())


def test_exchange_delete_and_exchange_bindings(params, unique):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        source = await channel.declare_exchange(unique("src"), "fanout", durable=False)
        dest = await channel.declare_exchange(unique("dst"), "direct", durable=False)
        queue = await channel.declare_queue("", durable=False, exclusive=True)
        await queue.bind(dest, "k")
        binding = await dest.bind(source, "ignored-by-fanout")
        assert isinstance(binding, swiftamqp.ExchangeBinding)
        assert (binding.destination, binding.source) == (dest, source)
        source.publish(swiftamqp.Message(b"via source"), "k")
        await asyncio.sleep(0.1)
        msg = await queue.get(no_ack=True)
        assert msg is not None and msg.body == b"via source" and msg.exchange_name == source.name
        # source given by name, then unbound by the Exchange method
        await dest.bind(source.name, "second")
        await dest.unbind(source.name, "second")
        await binding.unbind()
        with pytest.raises(swiftamqp.Deleted):
            await binding.unbind()
        source.publish(swiftamqp.Message(b"dropped"), "k", mandatory=False)
        await asyncio.sleep(0.1)
        assert await queue.get() is None
        # the default exchange takes no bindings and is never deleted
        default = await channel.declare_exchange("", "direct")
        with pytest.raises(swiftamqp.InvalidExchangeName):
            await default.bind(source)
        with pytest.raises(swiftamqp.InvalidExchangeName):
            await dest.bind(default)
        with pytest.raises(swiftamqp.InvalidExchangeName):
            await default.delete()
        # if_unused: dest still has the queue bound (406 closes the channel)
        with pytest.raises(swiftamqp.PreconditionFailed):
            await dest.delete()
        assert channel.is_closed()
        channel = await connection.open_channel()
        dest = await channel.declare_exchange(dest.name, "direct", passive=True)
        await dest.delete(if_unused=False)
        source = await channel.declare_exchange(source.name, "fanout", passive=True)
        await source.delete()
        with pytest.raises(swiftamqp.NotFound):
            await channel.declare_exchange(source.name, "fanout", passive=True)
        # binding to a missing exchange: 404
        channel = await connection.open_channel()
        dest = await channel.declare_exchange(unique("dst2"), "direct", durable=False, auto_delete=True)
        with pytest.raises(swiftamqp.NotFound):
            await dest.bind(unique("nowhere"), "k")
        await connection.close()

    run(main())


def test_declare_options_and_nowait(params, unique):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        ex = await channel.declare_exchange(unique("nw"), "fanout", durable=False, auto_delete=True,
                                            nowait=True, arguments={"alternate-exchange": "none"})
        q = await channel.declare_queue(unique("nwq"), durable=False, exclusive=True, nowait=True,
                                        arguments={"x-max-length": 10, "x-message-ttl": 60000})
        assert q.name == unique("nwq") and q.arguments["x-max-length"] == 10
        assert q.message_count is None and q.consumer_count is None  # nowait: no declare-ok
        default = await channel.declare_exchange("", "direct")
        for i in range(3):
            await default.publish_confirmed(swiftamqp.Message(b"%d" % i), q.name)
        again = await channel.declare_queue(q.name, passive=True)
        assert (again.message_count, again.consumer_count) == (3, 0)
        await q.consume(lambda m: None, no_ack=True)
        again = await channel.declare_queue(q.name, passive=True)
        assert (again.message_count, again.consumer_count) == (0, 1)
        await q.bind(ex, "")
        internal = await channel.declare_exchange(unique("int"), "direct", internal=True,
                                                  durable=False, auto_delete=True)
        assert internal.internal
        # publishing to an internal exchange is refused (403)
        internal.publish(swiftamqp.Message(b"x"), "k")
        with pytest.raises(swiftamqp.AccessRefused):
            await channel.declare_queue("", exclusive=True)  # the close arrives first
        # redeclaring with other arguments: 406
        channel = await connection.open_channel()
        with pytest.raises(swiftamqp.PreconditionFailed):
            await channel.declare_queue(unique("nwq"), durable=False, exclusive=True,
                                        arguments={"x-max-length": 11})
        await connection.close()

    run(main())


def test_resource_locked_and_access_refused(params, unique, broker):
    user, password = unique("user").replace(".", "_"), "pw-%s" % unique("pw")[-12:]
    broker_ctl("add_user", user, password)
    try:
        # may configure and read nothing, and write nothing
        broker_ctl("set_permissions", "-p", params["virtual_host"], user, "^$", "^$", "^$")

        async def main():
            owner, ch = await swiftamqp.connect_and_open_channel(**params)
            queue = await ch.declare_queue(unique("excl"), exclusive=True, durable=False)
            other, ch2 = await swiftamqp.connect_and_open_channel(**params)
            with pytest.raises(swiftamqp.ResourceLocked) as info:
                await ch2.declare_queue(queue.name, exclusive=True, durable=False)
            assert info.value.reply_code == 405
            limited, ch3 = await swiftamqp.connect_and_open_channel(
                **dict(params, username=user, password=password))
            with pytest.raises(swiftamqp.AccessRefused) as info:
                await ch3.declare_queue(unique("denied"), durable=False, exclusive=True)
            assert info.value.reply_code == 403 and password not in str(info.value)
            for c in (owner, other, limited):
                await c.close()

        run(main())
    finally:
        broker_ctl("delete_user", user, check=False)
