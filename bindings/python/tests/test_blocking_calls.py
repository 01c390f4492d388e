"""swiftamqp.blocking against the real broker: the channel's calls (exchanges, queues, publishing
with properties, basic.get and acks, confirms, transactions), their results, their errors and
pika's exception names."""

import datetime
import threading
import time

import pytest

import swiftamqp
from swiftamqp import blocking
from swiftamqp.blocking import BasicProperties, exceptions

from blocking_helpers import connect, count_is, drain, exclusive_queue, hang_guard  # noqa: F401 - fixtures


def test_exchange_calls(connect, unique):
    channel = connect().channel()
    src, dst = unique("src"), unique("dst")
    result = channel.exchange_declare(src, blocking.ExchangeType.topic)
    assert isinstance(result, blocking.frame.Method) and isinstance(result.method, blocking.spec.Exchange.DeclareOk)
    channel.exchange_declare(exchange=dst, exchange_type="fanout")
    channel.exchange_declare(dst, "fanout", passive=True)
    assert isinstance(channel.exchange_bind(dst, src, "a.*").method, blocking.Exchange.BindOk)
    queue = exclusive_queue(channel)
    channel.queue_bind(queue, dst)
    channel.basic_publish(src, "a.b", b"routed through two exchanges")
    (m, p, body), = drain(channel, queue, 1)
    assert body == b"routed through two exchanges" and m.exchange == src and m.routing_key == "a.b"
    assert isinstance(channel.exchange_unbind(dst, src, "a.*").method, blocking.Exchange.UnbindOk)
    channel.basic_publish(src, "a.b", b"not routed any more")
    channel.basic_publish("", queue, b"marker")
    assert count_is(channel, queue, 1)
    assert [b for _, _, b in drain(channel, queue, 1)] == [b"marker"]
    assert isinstance(channel.exchange_delete(src).method, blocking.Exchange.DeleteOk)
    channel.exchange_delete(exchange=dst, if_unused=False)
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        channel.exchange_declare(dst, "fanout", passive=True)
    assert info.value.reply_code == 404 and "NOT_FOUND" in info.value.reply_text
    assert isinstance(info.value, swiftamqp.NotFound) and isinstance(info.value, exceptions.AMQPChannelError)
    assert channel.is_closed


def test_queue_calls(connect, unique):
    channel = connect().channel()
    name = unique("q")
    declared = channel.queue_declare(name, exclusive=True, arguments={"x-max-length": 100})
    assert declared.method.queue == name
    assert declared.method.message_count == 0 and declared.method.consumer_count == 0
    assert declared.channel_number == channel.channel_number
    server_named = channel.queue_declare("", exclusive=True).method.queue
    assert server_named.startswith("amq.gen-")
    for i in range(3):
        channel.basic_publish("", name, b"m%d" % i)
    assert count_is(channel, name, 3)
    purged = channel.queue_purge(name)
    assert isinstance(purged.method, blocking.Queue.PurgeOk) and purged.method.message_count == 3
    exchange = unique("x")
    channel.exchange_declare(exchange, "direct", auto_delete=True)
    channel.queue_bind(name, exchange)  # routing key None: the queue's name, as pika does
    channel.queue_bind(queue=name, exchange=exchange, routing_key="other")
    channel.basic_publish(exchange, name, b"by name")
    channel.basic_publish(exchange, "other", b"by key")
    assert sorted(b for _, _, b in drain(channel, name, 2)) == [b"by key", b"by name"]
    assert isinstance(channel.queue_unbind(name, exchange, "other").method, blocking.Queue.UnbindOk)
    channel.basic_publish(exchange, "other", b"unbound")
    channel.basic_publish("", name, b"direct")
    assert count_is(channel, name, 1)
    deleted = channel.queue_delete(name)
    assert isinstance(deleted.method, blocking.Queue.DeleteOk) and deleted.method.message_count == 1
    channel.exchange_delete(exchange)
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        channel.queue_declare(name, passive=True)
    assert info.value.reply_code == 404
    # A later call on the closed channel names the broker's reason again.
    with pytest.raises(exceptions.ChannelClosedByBroker):
        channel.queue_declare(server_named, passive=True)
    with pytest.raises(TypeError):
        connect().channel().queue_declare(None)


def test_properties_round_trip(connect):
    channel = connect().channel()
    queue = exclusive_queue(channel)
    props = BasicProperties(content_type="application/json", content_encoding="utf-8",
                            headers={"i": 7, "s": "text", "b": b"\x00\xff", "l": [1, "two"], "t": {"n": None},
                                     "f": 1.5, "flag": True},
                            delivery_mode=blocking.DeliveryMode.Persistent, priority=3, correlation_id="corr",
                            reply_to="reply", expiration="60000", message_id="mid", timestamp=1700000000,
                            type="kind", user_id="guest", app_id="app")
    assert props.delivery_mode == 2
    channel.basic_publish("", queue, '{"k": "\u00e9"}', props)
    channel.basic_publish("", queue, b"", None)
    (m, p, body), (m2, p2, body2) = drain(channel, queue, 2)
    assert body == '{"k": "\u00e9"}'.encode("utf-8")
    for name in ("content_type", "content_encoding", "delivery_mode", "priority", "correlation_id",
                 "reply_to", "expiration", "message_id", "timestamp", "type", "user_id", "app_id"):
        assert getattr(p, name) == getattr(props, name), name
    assert p.headers == {"i": 7, "s": "text", "b": b"\x00\xff", "l": [1, "two"], "t": {"n": None},
                         "f": 1.5, "flag": True}
    assert p.cluster_id is None
    assert isinstance(m, blocking.Basic.GetOk) and m.message_count == 1 and not m.redelivered
    assert "content_type=application/json" in repr(p)
    assert body2 == b"" and p2 == BasicProperties() and p2.headers is None
    # a datetime timestamp is accepted when publishing (seconds)
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    channel.basic_publish("", queue, b"t", BasicProperties(timestamp=when))
    (_, p3, _), = drain(channel, queue, 1)
    assert p3.timestamp == int(when.timestamp())
    # the cached encoding follows changes made to the object
    reused = BasicProperties(app_id="one", headers={"n": 1})
    channel.basic_publish("", queue, b"1", reused)
    reused.app_id = "two"
    reused.headers["n"] = 2
    channel.basic_publish("", queue, b"2", reused)
    (_, a, _), (_, b, _) = drain(channel, queue, 2)
    assert (a.app_id, a.headers, b.app_id, b.headers) == ("one", {"n": 1}, "two", {"n": 2})
    with pytest.raises(TypeError):
        channel.basic_publish("", queue, 12345)
    with pytest.raises(ValueError):
        channel.basic_publish("", queue, b"x", BasicProperties(priority=300))


def test_basic_get_ack_nack_reject_recover(connect):
    channel = connect().channel()
    queue = exclusive_queue(channel)
    assert channel.basic_get(queue) == (None, None, None)
    for i in range(4):
        channel.basic_publish("", queue, b"m%d" % i)
    channel.queue_declare(queue, passive=True)
    m0, _, b0 = channel.basic_get(queue)
    assert b0 == b"m0" and m0.message_count == 3 and m0.routing_key == queue and m0.exchange == ""
    channel.basic_nack(m0.delivery_tag, requeue=True)
    m1, _, b1 = channel.basic_get(queue)
    assert m1.redelivered  # m0 came back (requeued at the head)
    channel.basic_reject(m1.delivery_tag, requeue=False)  # dropped
    tags = [channel.basic_get(queue)[0].delivery_tag for _ in range(3)]
    channel.basic_ack(tags[0])
    channel.basic_recover(requeue=True)  # the other two come back
    again = drain(channel, queue, 2)
    assert all(m.redelivered for m, _, _ in again)
    channel.basic_ack(delivery_tag=0, multiple=True)  # nothing outstanding: no error
    assert count_is(channel, queue, 0)
    # acking a tag the broker never gave closes the channel (406), reported on the next call
    channel.basic_ack(999)
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        for _ in range(100):
            channel.queue_declare(queue, passive=True)
            time.sleep(0.02)
    assert info.value.reply_code == 406 and isinstance(info.value, swiftamqp.PreconditionFailed)


def test_confirms_unroutable_and_nack(connect, unique):
    channel = connect().channel()
    channel.confirm_delivery()
    channel.confirm_delivery()  # again: logged, nothing sent
    queue = exclusive_queue(channel)
    channel.basic_publish("", queue, b"confirmed")  # returns once acked
    assert count_is(channel, queue, 1)
    channel.basic_publish("", unique("nowhere"), b"dropped")  # not mandatory: acked, dropped
    returned = []
    channel.add_on_return_callback(lambda ch, method, props, body: returned.append((method, body)))
    with pytest.raises(exceptions.UnroutableError) as info:
        channel.basic_publish("", unique("nowhere"), b"returned", BasicProperties(app_id="a"), mandatory=True)
    assert len(info.value.messages) == 1
    message = info.value.messages[0]
    assert message.body == b"returned" and message.method.reply_code == 312 and message.properties.app_id == "a"
    assert isinstance(info.value, swiftamqp.UndeliverableMessage)
    # the return callback runs too, on a thread that processes events
    channel.connection.process_data_events(time_limit=1)
    assert [b for _, b in returned] == [b"returned"]
    # a queue that refuses publishes when full nacks them
    full = unique("full")
    channel.queue_declare(full, exclusive=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    channel.basic_publish("", full, b"fits")
    with pytest.raises(exceptions.NackError) as info:
        channel.basic_publish("", full, b"refused")
    assert isinstance(info.value, swiftamqp.PublishNacked) and info.value.messages == []
    # publishing to a missing exchange closes the channel: raised by that publish
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        channel.basic_publish(unique("no-exchange"), "k", b"x")
    assert info.value.reply_code == 404


def test_transactions(connect):
    channel = connect().channel()
    queue = exclusive_queue(channel)
    assert isinstance(channel.tx_select().method, blocking.Tx.SelectOk)
    channel.basic_publish("", queue, b"rolled back")
    assert isinstance(channel.tx_rollback().method, blocking.Tx.RollbackOk)
    channel.basic_publish("", queue, b"committed")
    assert isinstance(channel.tx_commit().method, blocking.Tx.CommitOk)
    assert count_is(channel, queue, 1)
    assert [b for _, _, b in drain(channel, queue, 1)] == [b"committed"]


def test_message_readers():
    """Messages with properties and returns are read field by field from the library's
    swamqp_message (deliveries come packed, one copy per batch: see test_calls)."""
    import ctypes
    from swiftamqp import _ffi, _reader
    from swiftamqp.blocking import _properties as b
    data = ctypes.create_string_buffer(b"0123456789abcdef" * 8)
    at = ctypes.addressof(data)
    msg = _ffi.swamqp_message(channel=3, redelivered=True, delivery_tag=77, message_count=5)
    msg.body = _ffi.swamqp_bytes(at + 4, 9)
    fields = b._fields_at(ctypes.addressof(msg))
    assert fields == _reader.read_message(ctypes.addressof(msg))
    assert fields[b._F_DELIVERY_TAG] == 77 and fields[b._F_REDELIVERED] is True
    assert b._bytes_at(fields[b._F_BODY], fields[b._F_BODY_LEN]) == b"456789abc"
    assert b._bytes_at(0, 0) == b""


def test_threads_publishing_without_confirms_on_one_channel(connect):
    connection = connect()
    channel = connection.channel()
    queue = exclusive_queue(channel)
    errors = []

    def publish(k):
        try:
            for i in range(500):
                channel.basic_publish("", queue, b"%d-%d" % (k, i), BasicProperties(message_id="%d" % k))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert count_is(channel, queue, 3000)
    got = drain(channel, queue, 3000)
    assert len({b for _, _, b in got}) == 3000
    assert all(b.startswith(p.message_id.encode() + b"-") for _, p, b in got)
