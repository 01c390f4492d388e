"""swiftamqp.blocking against the real broker: consumers (callbacks with start_consuming, the
consume generator, cancels by the program and by the broker)."""

import threading
import time

import pytest

from swiftamqp import blocking
from swiftamqp.blocking import exceptions

from blocking_helpers import connect, drain, exclusive_queue, hang_guard  # noqa: F401 - fixtures


def test_consume_callbacks_cancel_and_stop(connect):
    connection = connect()
    channel = connection.channel()
    queue = exclusive_queue(channel)
    channel.basic_qos(prefetch_count=10)
    for i in range(20):
        channel.basic_publish("", queue, b"%d" % i)
    seen = []
    threads = set()

    def on_message(ch, method, properties, body):
        assert ch is channel
        assert isinstance(method, blocking.spec.Basic.Deliver)
        assert method.consumer_tag == tag and method.routing_key == queue and method.exchange == ""
        seen.append(int(body))
        threads.add(threading.get_ident())
        ch.basic_ack(method.delivery_tag)
        if len(seen) == 15:
            ch.stop_consuming()

    tag = channel.basic_consume(queue, on_message)
    assert tag.startswith("ctag1.") and channel.consumer_tags == [tag]
    with pytest.raises(exceptions.DuplicateConsumerTag):
        channel.basic_consume(queue, on_message, consumer_tag=tag)
    channel.start_consuming()
    assert seen == list(range(15))
    assert threads == {threading.get_ident()}  # the thread in start_consuming ran them
    assert channel.consumer_tags == []
    # what was prefetched but not dispatched went back to the queue (requeued by the cancel)
    rest = drain(channel, queue, 5)
    assert sorted(int(b) for _, _, b in rest) == list(range(15, 20))
    # auto_ack consumer: basic_cancel returns what it had not dispatched
    for i in range(5):
        channel.basic_publish("", queue, b"a%d" % i)
    channel.queue_declare(queue, passive=True)
    tag2 = channel.basic_consume(queue, lambda *a: None, auto_ack=True, consumer_tag="mine")
    assert tag2 == "mine"
    deadline = time.monotonic() + 10
    while channel.queue_declare(queue, passive=True).method.message_count and time.monotonic() < deadline:
        time.sleep(0.01)
    left = channel.basic_cancel("mine")
    assert sorted(b for _, _, b in left) == [b"a%d" % i for i in range(5)]
    assert channel.basic_cancel("unknown") == []
    with pytest.raises(TypeError):
        channel.basic_consume(queue, "not callable")


def test_start_consuming_reentrancy_and_channel_close_in_callback(connect):
    channel = connect().channel()
    queue = exclusive_queue(channel)
    channel.basic_publish("", queue, b"x")
    errors = []

    def on_message(ch, method, properties, body):
        try:
            ch.start_consuming()
        except exceptions.ReentrancyError as exc:
            errors.append(exc)
        ch.close()  # returns start_consuming, as in pika's direct reply-to example

    channel.basic_consume(queue, on_message, auto_ack=True)
    channel.start_consuming()
    assert len(errors) == 1 and channel.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        channel.close()
    with pytest.raises(exceptions.ChannelWrongStateError):
        channel.basic_publish("", queue, b"y")


def test_consume_generator(connect):
    channel = connect().channel()
    queue = exclusive_queue(channel)
    for i in range(6):
        channel.basic_publish("", queue, b"g%d" % i)
    got = []
    for method, properties, body in channel.consume(queue, inactivity_timeout=5):
        got.append(body)
        channel.basic_ack(method.delivery_tag)
        if method.delivery_tag == 3:
            break
    assert got == [b"g0", b"g1", b"g2"]
    time.sleep(0.2)
    waiting = channel.get_waiting_message_count()
    assert waiting == 3
    with pytest.raises(ValueError):
        next(channel.consume(queue, auto_ack=True))
    # the same parameters resume the same consumer
    method, _, body = next(channel.consume(queue, inactivity_timeout=5))
    assert body == b"g3"
    channel.basic_ack(method.delivery_tag)
    assert channel.cancel() == 2  # g4 and g5 were held: requeued
    assert channel.cancel() == 0
    assert sorted(b for _, _, b in drain(channel, queue, 2)) == [b"g4", b"g5"]
    # inactivity: (None, None, None) after the timeout
    start = time.monotonic()
    it = channel.consume(queue, auto_ack=True, inactivity_timeout=0.3)
    assert next(it) == (None, None, None)
    assert 0.25 <= time.monotonic() - start < 3
    channel.basic_publish("", queue, b"late")
    m, _, b = next(it)
    assert b == b"late"
    channel.cancel()
    assert list(it) == []  # the generator ends once its consumer is cancelled


def test_broker_cancel_ends_consumers(connect):
    connection = connect()
    channel = connection.channel()
    queue = exclusive_queue(channel)
    cancels = []
    channel.add_on_cancel_callback(cancels.append)
    channel.basic_consume(queue, lambda *a: None)
    other = connection.channel()
    connection.call_later(0.2, lambda: other.queue_delete(queue))
    channel.start_consuming()  # returns: the broker cancelled the only consumer
    assert len(cancels) == 1 and isinstance(cancels[0].method, blocking.Basic.Cancel)
    assert channel.consumer_tags == [] and channel.is_open
    # the generator ends too
    queue2 = exclusive_queue(channel)
    connection.call_later(0.2, lambda: other.queue_delete(queue2))
    assert list(channel.consume(queue2)) == []
