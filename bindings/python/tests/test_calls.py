"""What a publish and a delivery cost on the Python side, counted in library calls."""

import asyncio
import collections
import sys

import pytest

import swiftamqp
import swiftamqp.blocking
from swiftamqp import _ffi
from conftest import run


@pytest.fixture
def calls(monkeypatch):
    """Counts every call into libswiftamqp by function name."""
    counts = collections.Counter()
    for name in _ffi.FUNCTIONS:
        fn = getattr(_ffi.lib, name)

        def counting(*args, _fn=fn, _name=name):
            counts[_name] += 1
            return _fn(*args)

        monkeypatch.setattr(_ffi.lib, name, counting)
    # The per-message functions called without argtypes, bound by the modules that call them
    # (exchange, channel, blocking._channel: every module of the package is looked at).
    unchecked = {id(_ffi.unchecked_basic_publish): "swamqp_basic_publish"}
    modules = [m for n, m in sorted(sys.modules.items())
               if m is not None and (n == "swiftamqp" or n.startswith("swiftamqp."))]
    assert swiftamqp.exchange in modules and swiftamqp.blocking._channel in modules
    for module in modules:
        for attr, value in list(vars(module).items()):
            name = unchecked.get(id(value))
            if name is not None:
                def counting(*args, _fn=value, _name=name):
                    counts[_name] += 1
                    return _fn(*args)

                monkeypatch.setattr(module, attr, counting)
    return counts


def test_publish_is_one_library_call(params, calls):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        exchange = await channel.declare_exchange("", "direct")
        message = swiftamqp.Message({"a": 1}, headers={"h": [1, "two"]}, message_id="id")
        calls.clear()
        for _ in range(1000):
            exchange.publish(message, queue.name)
        assert dict(calls) == {"swamqp_basic_publish": 1000}
        assert message._c_message() is message._c_message()  # properties encoded once
        # a new routing key or a changed property re-encodes in Python, still one library call
        message.priority = 1
        calls.clear()
        exchange.publish(message, "another.key", mandatory=False)
        assert dict(calls) == {"swamqp_basic_publish": 1}
        await connection.close()

    run(main())


def test_deliveries_are_drained_in_batches(params, calls):
    n = 5000

    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        exchange = await channel.declare_exchange("", "direct")
        for i in range(n - 1):
            exchange.publish(swiftamqp.Message(b"%d" % i), queue.name)
        # confirmed last: the others are in the queue before the consumer starts
        await exchange.publish_confirmed(swiftamqp.Message(b"%d" % (n - 1)), queue.name)
        got = []
        done = asyncio.get_running_loop().create_future()

        def callback(message):
            got.append(message)
            if len(got) == n:
                done.set_result(None)

        calls.clear()
        await queue.consume(callback, no_ack=True)
        await asyncio.wait_for(done, 30)
        consumed = dict(calls)
        drains = consumed.pop("swamqp_next_events")
        packs = consumed.pop("swamqp_deliveries_pack")
        assert packs <= drains  # one copy of a batch's deliveries, no call per message
        # the consume, and its deadline (the library's: rpc_timeout)
        assert consumed == {"swamqp_basic_consume_async": 1, "swamqp_request_set_timeout": 1}
        # Batches: far fewer calls than messages. How many deliveries a read brings depends on
        # how the broker's pushes and the loop interleave: 10-110 per call measured here, so the
        # bound is 4 (a drain per delivery would make 5000 calls).
        assert drains <= n // 4, drains
        print("%d deliveries in %d swamqp_next_events calls" % (n, drains))
        assert [m.body for m in got] == [b"%d" % i for i in range(n)]
        await connection.close()

    run(main())


def test_blocking_deliveries_are_read_in_batches(amqp_url, calls):
    """swiftamqp.blocking reads a batch of deliveries with one copy (swamqp_deliveries_pack),
    with and without properties, and no library call per message besides the acks."""
    from swiftamqp import blocking
    n = 2000
    with blocking.connect(amqp_url) as connection:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        for i in range(n):
            properties = blocking.BasicProperties(content_type="text/plain") if i % 2 else None
            channel.basic_publish("", queue, b"%d" % i, properties)
        channel.queue_declare(queue, passive=True)  # behind every publish
        calls.clear()
        got = []
        for method, properties, body in channel.consume(queue, auto_ack=True, inactivity_timeout=5):
            if method is None:
                break
            got.append((body, properties.content_type))
            if len(got) == n:
                break
        consumed = dict(calls)
        channel.cancel()
    assert got == [(b"%d" % i, "text/plain" if i % 2 else None) for i in range(n)]
    drains = consumed.pop("swamqp_next_events", 0) + consumed.pop("swamqp_next_events_batch", 0)
    packs = consumed.pop("swamqp_deliveries_pack")
    assert packs <= drains <= n // 4, (packs, drains)  # 5-60 deliveries per drain measured here
    assert consumed.pop("swamqp_basic_consume_async", 0) + consumed.pop("swamqp_basic_consume", 0) == 1
    assert set(consumed) <= {"swamqp_connection_event_fd"}, consumed
