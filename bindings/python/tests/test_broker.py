"""End-to-end tests against a real broker (AMQP_URL is required: missing means FAIL): messages,
queues, exchanges and channels. Connecting, and how a connection ends: test_broker_connect.py."""

import asyncio
import datetime
import decimal
import os
import subprocess
import sys
import time

import pytest

import swiftamqp
from conftest import BINDING_DIR, open_connection, run

UTC = datetime.timezone.utc


def test_seed_flow_roundtrip(params, unique):
    headers = {
        "bool": True,
        "int": -42,
        "long": 1 << 40,
        "float": 3.5,
        "str": "héllo",
        "bytes": b"\x00\x01\xff",
        "list": [1, "two", None, [False]],
        "table": {"nested": {"n": 1}, "s": "x"},
        "void": None,
        "decimal": decimal.Decimal("12.345"),
        "time": datetime.datetime(2021, 6, 7, 8, 9, 10, tzinfo=UTC),
    }
    ts = datetime.datetime(2022, 2, 3, 4, 5, 6)

    async def main():
        connection = await open_connection(params)
        channel = await connection.open_channel()
        exchange = await channel.declare_exchange(unique("ex"), "direct", durable=False,
                                                  auto_delete=True)
        assert (exchange.name, exchange.type) == (unique("ex"), "direct")
        queue = await channel.declare_queue(unique("q"), durable=False, exclusive=True)
        assert (queue.name, queue.durable, queue.exclusive, queue.auto_delete) == (
            unique("q"), False, True, False)
        binding = await queue.bind(exchange, "routing.key")
        assert isinstance(binding, swiftamqp.QueueBinding)
        assert (binding.queue, binding.exchange, binding.routing_key) == (queue, exchange, "routing.key")

        sent = swiftamqp.Message(
            {"test_body": "content"}, headers=headers, content_encoding="utf-8",
            delivery_mode=2, priority=5, correlation_id="corr-1", reply_to="reply.here",
            expiration="60000", message_id="msg-1", timestamp=ts, type="test.type",
            user_id=params["username"], app_id="pytest")
        exchange.publish(sent, "routing.key")

        received = await queue.get()
        assert received is not None
        assert received.json() == {"test_body": "content"}
        assert received.body == sent.body
        for name in ("content_type", "content_encoding", "delivery_mode", "priority",
                     "correlation_id", "reply_to", "expiration", "message_id", "timestamp",
                     "type", "user_id", "app_id"):
            assert getattr(received, name) == getattr(sent, name), name
        assert received.content_type == "application/json"
        assert received.headers == headers
        assert received.exchange_name == exchange.name
        assert received.routing_key == "routing.key"
        assert received.redelivered is False
        assert received.delivery_tag >= 1
        assert received.consumer_tag is None
        received.ack()

        assert await queue.get() is None
        await channel.close()
        assert channel.is_closed()
        await connection.close()
        assert connection.is_closed()

    run(main())


def test_seed_example_script(amqp_url):
    env = dict(os.environ, AMQP_URL=amqp_url, PYTHONPATH=BINDING_DIR)
    proc = subprocess.run([sys.executable, os.path.join(BINDING_DIR, "examples", "basic.py")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "{'test_body': 'content'}"


def test_confirm_and_consume_example(amqp_url):
    env = dict(os.environ, AMQP_URL=amqp_url, PYTHONPATH=BINDING_DIR)
    proc = subprocess.run([sys.executable, os.path.join(BINDING_DIR, "examples", "confirm_and_consume.py")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "5 messages confirmed"
    assert lines[1:] == ["received {'n': %d}" % i for i in range(5)]


def test_get_on_empty_queue(params):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        assert queue.name.startswith("amq.gen-")
        assert await queue.get() is None
        assert await queue.get(no_ack=True) is None
        await connection.close()

    run(main())


def test_exchange_names(params):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        for bad in ("amq.direct", "amq.mine", "has space", "slash/no"):
            with pytest.raises(ValueError):
                await channel.declare_exchange(bad, "direct")
        with pytest.raises(ValueError):
            await channel.declare_queue("amq.mine")
        with pytest.raises(ValueError):
            await channel.declare_queue("", nowait=True)
        # nothing was sent: the channel is still fine
        default = await channel.declare_exchange("", "direct")
        assert (default.name, default.type) == ("", "direct")
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        default.publish(swiftamqp.Message(b"via default"), queue.name)
        msg = await queue.get(no_ack=True)
        assert msg.body == b"via default"
        assert msg.exchange_name == "" and msg.routing_key == queue.name
        with pytest.raises(swiftamqp.InvalidExchangeName):
            await queue.bind("", "x")
        await connection.close()

    run(main())


def test_passive_declare_of_missing_queue(params, unique):
    async def main():
        connection = await open_connection(params)
        channel = await connection.open_channel()
        with pytest.raises(swiftamqp.NotFound) as info:
            await channel.declare_queue(unique("missing"), passive=True)
        assert info.value.reply_code == 404
        assert isinstance(info.value, swiftamqp.AMQPError)
        # the channel is closed now, the connection is not
        with pytest.raises(swiftamqp.AMQPError):
            await channel.declare_queue(unique("other"), exclusive=True)
        assert not connection.is_closed()
        channel2 = await connection.open_channel()
        queue = await channel2.declare_queue(unique("q2"), exclusive=True, durable=False)
        assert await queue.get() is None
        with pytest.raises(swiftamqp.NotFound):
            await channel2.declare_exchange(unique("missing-ex"), "direct", passive=True)
        channel3 = await connection.open_channel()
        await channel3.declare_exchange(unique("ex"), "fanout", auto_delete=True, durable=False)
        with pytest.raises(swiftamqp.PreconditionFailed):
            await channel3.declare_exchange(unique("ex"), "direct", auto_delete=True, durable=False)
        await connection.close()

    run(main())


def test_cancelled_get_does_not_take_the_next_reply(params):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        default = await channel.declare_exchange("", "direct")
        default.publish(swiftamqp.Message(b"first"), queue.name)
        default.publish(swiftamqp.Message(b"second"), queue.name)
        task = asyncio.ensure_future(queue.get())
        await asyncio.sleep(0)  # the request is sent
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The cancelled request's reply was not handed to the next get, and its message was
        # requeued rather than lost: whatever the timing, both messages arrive once each, "first"
        # (if the cancelled get had taken it) marked redelivered.
        got = []
        for _ in range(50):
            msg = await queue.get()
            if msg is None:
                if len(got) == 2:
                    break
                await asyncio.sleep(0.02)
                continue
            assert msg.body != b"first" or msg.redelivered or not got
            got.append(msg.body)
            msg.ack()
        assert sorted(got) == [b"first", b"second"]
        await connection.close()

    run(main())


def test_cancelled_no_ack_get_keeps_its_message_for_the_next_get(params):
    """A no-ack basic.get whose caller gave up cannot be requeued: its message is kept on the
    Queue object and handed to the next no-ack get, in the broker's order."""
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        default = await channel.declare_exchange("", "direct")
        for body in (b"first", b"second", b"third"):
            default.publish(swiftamqp.Message(body), queue.name)
        for _ in range(100):
            if (await channel.declare_queue(queue.name, passive=True)).message_count == 3:
                break
            await asyncio.sleep(0.01)
        task = asyncio.ensure_future(queue.get(no_ack=True))
        await asyncio.sleep(0)  # the task ran: its basic.get is sent; the reply cannot be in yet
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the next get is sent before the cancelled one's reply was read: it still gets "first"
        got = [(await queue.get(no_ack=True)).body for _ in range(3)]
        assert got == [b"first", b"second", b"third"]
        assert queue.unclaimed == 0
        assert await queue.get(no_ack=True) is None
        # kept messages are handed out even once the channel is gone (they are the application's)
        default.publish(swiftamqp.Message(b"fourth"), queue.name)
        for _ in range(100):
            if (await channel.declare_queue(queue.name, passive=True)).message_count == 1:
                break
            await asyncio.sleep(0.01)
        task = asyncio.ensure_future(queue.get(no_ack=True))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):
            if queue.unclaimed:
                break
            await asyncio.sleep(0.01)
        assert queue.unclaimed == 1
        await channel.close()
        assert (await queue.get(no_ack=True)).body == b"fourth"
        with pytest.raises(swiftamqp.ChannelClosed):
            await queue.get(no_ack=True)
        await connection.close()

    run(main())


def test_loop_never_blocked(params):
    gaps = []

    async def ticker(stop):
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async def main():
        stop = asyncio.Event()
        tick = asyncio.ensure_future(ticker(stop))
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        ex = await channel.declare_exchange("", "direct")
        for i in range(200):
            ex.publish(swiftamqp.Message(b"x%d" % i), queue.name)
        for _ in range(200):
            (await queue.get(no_ack=True))
        await channel.close()
        stop.set()
        await tick
        await connection.close()

    run(main())
    assert max(gaps) < 0.25, max(gaps)


def test_publish_on_closed_channel_raises(params):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        ex = await channel.declare_exchange("", "direct")
        await channel.close()
        with pytest.raises(swiftamqp.ChannelClosed):
            ex.publish(swiftamqp.Message(b"x"), "nowhere")
        await connection.close()
        with pytest.raises(swiftamqp.AMQPError):
            ex.publish(swiftamqp.Message(b"x"), "nowhere")

    run(main())


def test_channel_number_reuse(params, unique):
    async def main():
        connection = await open_connection(params)
        ch1 = await connection.open_channel()
        number = ch1.id
        await ch1.close()
        ch2 = await connection.open_channel()
        queue = await ch2.declare_queue("", exclusive=True, durable=False)
        await asyncio.sleep(0.2)  # any late event about ch1 has been drained by now
        assert not ch2.is_closed()
        assert await queue.get() is None
        with pytest.raises(swiftamqp.NotFound):
            await ch2.declare_queue(unique("missing"), passive=True)
        ch3 = await connection.open_channel()
        await asyncio.sleep(0.2)
        assert not ch3.is_closed()
        await ch3.declare_queue("", exclusive=True, durable=False)
        assert number in (ch2.id, ch3.id) or True  # numbers are the library's choice
        await connection.close()

    run(main())


def test_returns_reach_the_return_handler_in_batches(params, unique):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        returned = []
        channel.set_return_handler(returned.append)
        ex = await channel.declare_exchange(unique("ex"), "direct", durable=False, auto_delete=True)
        n = 1000  # several swamqp_next_events batches of 256
        for i in range(n):
            ex.publish(swiftamqp.Message(b"%d" % i, headers={"i": i}), "no.queue.bound")
        ex.publish(swiftamqp.Message(b"not mandatory"), "no.queue.bound", mandatory=False)
        deadline = time.monotonic() + 10
        while len(returned) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert len(returned) == n
        assert [m.body for m in returned] == [b"%d" % i for i in range(n)]
        assert returned[0].headers == {"i": 0}
        assert returned[0].exchange_name == ex.name and returned[0].routing_key == "no.queue.bound"
        with pytest.raises(TypeError):
            channel.set_return_handler("not callable")
        await connection.close()

    run(main())


def test_large_empty_bodies_and_concurrent_gets(params):
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        ex = await channel.declare_exchange("", "direct")
        big = os.urandom(1 << 20)  # spans many body frames
        ex.publish(swiftamqp.Message(big), queue.name)
        ex.publish(swiftamqp.Message(b""), queue.name)
        got = await queue.get(no_ack=True)
        assert got.body == big
        got = await queue.get(no_ack=True)
        assert got.body == b""
        for i in range(50):
            ex.publish(swiftamqp.Message(b"%d" % i), queue.name)
        results = await asyncio.gather(*[queue.get() for _ in range(60)])
        bodies = [m.body for m in results if m is not None]
        assert sorted(bodies, key=int) == [b"%d" % i for i in range(50)]
        assert results.count(None) == 10
        for m in results:
            if m is not None:
                m.ack()
        await connection.close()

    run(main())
