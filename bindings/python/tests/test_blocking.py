"""swiftamqp.blocking against the real broker: every call of the pika-style API, its results,
its errors and pika's exception names."""

import datetime
import threading
import time

import pytest

import swiftamqp
from swiftamqp import blocking
from swiftamqp.blocking import BasicProperties, exceptions

from blocking_helpers import connect, hang_guard  # noqa: F401 - fixtures
from conftest import Forwarder, broker_ctl


def exclusive_queue(channel, name=""):
    return channel.queue_declare(name, exclusive=True).method.queue


def drain(channel, queue, n, timeout=10.0):
    """n (method, properties, body) from queue via basic_get, waiting for them to arrive."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        m, p, b = channel.basic_get(queue, auto_ack=True)
        if m is None:
            assert time.monotonic() < deadline, "only %d of %d messages arrived" % (len(out), n)
            time.sleep(0.01)
            continue
        out.append((m, p, b))
    return out


def count_is(channel, queue, n, timeout=10.0):
    """True once the passive declare reports n messages (RabbitMQ counts them a little later)."""
    deadline = time.monotonic() + timeout
    while True:
        c = channel.queue_declare(queue, passive=True).method.message_count
        if c == n:
            return True
        if time.monotonic() > deadline:
            raise AssertionError("queue holds %d messages, expected %d" % (c, n))
        time.sleep(0.01)


def test_connect_forms(connect, params, amqp_url):
    c1 = connect()
    assert c1.is_open and not c1.is_closed
    c2 = connect(None, host=params["host"], port=params["port"], virtual_host=params["virtual_host"],
                 credentials=blocking.PlainCredentials(params["username"], params["password"]),
                 heartbeat=5)
    assert c2.is_open
    assert c2.stats()["frames_in"] > 0
    with blocking.connect(amqp_url) as c3:
        channel = c3.channel()
        assert channel.is_open and channel.channel_number == int(channel) == 1
    assert c3.is_closed and channel.is_closed
    with pytest.raises(TypeError):
        blocking.BlockingConnection()
    with pytest.raises(TypeError):
        blocking.connect(amqp_url, no_such_option=1)


def test_connect_errors(params):
    with pytest.raises(exceptions.ProbableAuthenticationError) as info:
        blocking.connect(None, host=params["host"], port=params["port"],
                         credentials=blocking.PlainCredentials(params["username"], "wrong password"))
    assert isinstance(info.value, exceptions.AMQPConnectionError)
    assert isinstance(info.value, swiftamqp.AuthenticationError)  # one except catches both APIs
    assert "wrong password" not in str(info.value)
    # a port nobody listens on
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(exceptions.AMQPConnectionError) as info:
        blocking.connect(None, host="127.0.0.1", port=port, connect_timeout=5)
    assert isinstance(info.value, swiftamqp.ConnectError)
    with pytest.raises(ValueError):
        blocking.connect("http://not-amqp/")


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


def test_connection_callbacks_and_timers(connect):
    connection = connect()
    ran = []
    start = time.monotonic()
    connection.call_later(0.2, lambda: ran.append(("timer", time.monotonic() - start)))
    cancelled = connection.call_later(0.1, lambda: ran.append("cancelled"))
    connection.remove_timeout(cancelled)
    threading.Thread(target=lambda: connection.add_callback_threadsafe(
        lambda: ran.append(("threadsafe", threading.get_ident())))).start()
    connection.sleep(0.5)
    kinds = [r if isinstance(r, str) else r[0] for r in ran]
    assert sorted(kinds) == ["threadsafe", "timer"]
    assert dict(ran)["threadsafe"] == threading.get_ident()
    assert 0.15 <= dict(ran)["timer"] < 2
    connection.process_data_events()  # time_limit 0: returns at once
    t0 = time.monotonic()
    connection.process_data_events(time_limit=0.3)
    assert 0.25 <= time.monotonic() - t0 < 2
    connection.close()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.close()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.add_callback_threadsafe(lambda: None)
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.channel()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.process_data_events()


def test_flow_and_channel_number_not_offered(connect):
    connection = connect()
    channel = connection.channel()
    with pytest.raises(NotImplementedError):
        channel.flow(False)
    with pytest.raises(ValueError):
        connection.channel(5)


def test_rpc_timeout(params):
    """A broker that stops answering: requests give up after rpc_timeout; publishes in confirm
    mode after it too."""
    forwarder = Forwarder((params["host"], params["port"]))
    try:
        connection = blocking.connect(None, host="127.0.0.1", port=forwarder.port, heartbeat=0, rpc_timeout=0.5,
                                      credentials=blocking.PlainCredentials(params["username"], params["password"]))
        channel = connection.channel()
        channel.confirm_delivery()
        forwarder.hold_inbound = True
        start = time.monotonic()
        with pytest.raises(exceptions.AMQPTimeoutError):
            channel.queue_declare("", exclusive=True)
        assert 0.4 <= time.monotonic() - start < 3
        start = time.monotonic()
        with pytest.raises(exceptions.AMQPTimeoutError):
            channel.basic_publish("", "nowhere", b"x")
        assert 0.4 <= time.monotonic() - start < 3
        forwarder.hold_inbound = False
        connection.close()
    finally:
        forwarder.close()


def test_connection_closed_by_broker(connect, broker, unique):
    from conftest import close_broker_connection
    name = unique("closed-by-broker")
    connection = connect(connection_name=name)
    channel = connection.channel()
    queue = exclusive_queue(channel)
    channel.basic_consume(queue, lambda *a: None)
    timer = threading.Timer(0.3, close_broker_connection, args=(name,))
    timer.start()
    with pytest.raises(exceptions.ConnectionClosedByBroker) as info:
        channel.start_consuming()
    timer.join()
    assert info.value.reply_code == 320 and isinstance(info.value, swiftamqp.ConnectionClosed)
    assert isinstance(info.value, exceptions.AMQPConnectionError)
    assert connection.is_closed and channel.is_closed
    with pytest.raises(exceptions.ConnectionClosedByBroker):
        channel.basic_publish("", queue, b"x")
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.close()


def test_blocked_callbacks(connect, broker):
    """A memory alarm: connection.blocked after a publish, the callbacks run, a publish waits at
    most blocked_connection_timeout."""
    original = broker_ctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").strip()
    restore = [original] if not original.startswith("{") else ["0.4"]
    connection = connect(blocked_connection_timeout=0.5)
    events = []
    connection.add_on_connection_blocked_callback(lambda c, m: events.append(("blocked", m.method.reason)))
    connection.add_on_connection_unblocked_callback(lambda c, m: events.append(("unblocked", None)))
    channel = connection.channel()
    queue = exclusive_queue(channel)
    try:
        broker_ctl("set_vm_memory_high_watermark", "0.0000001")
        deadline = time.monotonic() + 30
        while not connection.blocked:
            assert time.monotonic() < deadline, "never blocked"
            channel.basic_publish("", queue, b"during the alarm")
            connection.process_data_events(0.05)
        assert events and events[0][0] == "blocked"
        start = time.monotonic()
        with pytest.raises(exceptions.ConnectionBlockedTimeout):
            for _ in range(100000):  # fills the outbound buffer, then waits
                channel.basic_publish("", queue, b"x" * 65536)
        assert time.monotonic() - start < 30
    finally:
        broker_ctl("set_vm_memory_high_watermark", *restore)
    deadline = time.monotonic() + 30
    while ("unblocked", None) not in events:
        assert time.monotonic() < deadline, "never unblocked"
        connection.process_data_events(0.1)
    assert not connection.blocked


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


def test_channel_number_reused_after_close(connect):
    """A closed channel's number comes back for the next channel; the library's close event of
    the old one does not touch the new one."""
    connection = connect()
    first = connection.channel()
    queue = exclusive_queue(first)
    first.close()
    second = connection.channel()
    assert second.channel_number == first.channel_number
    connection.process_data_events(time_limit=0.2)
    assert second.is_open and first.is_closed
    second.basic_publish("", queue, b"on the new channel")
    assert [b for _, _, b in drain(second, queue, 1)] == [b"on the new channel"]


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


def test_endpoint_ports_are_checked_before_connecting():
    """The blocking connect parses endpoints as the asyncio one does: a port out of range is a
    ValueError, not a silently wrapped port (70000 once became 4464)."""
    for bad in (["127.0.0.1:70000"], [("127.0.0.1", -1)], [("127.0.0.1", 0)], ["127.0.0.1:x"]):
        with pytest.raises(ValueError):
            blocking.connect(host="127.0.0.1", port=1, endpoints=bad, connect_timeout=1)
