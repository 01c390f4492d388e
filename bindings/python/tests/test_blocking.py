"""swiftamqp.blocking against the real broker: connecting, a connection's callbacks, timers,
timeouts and alarms, and how it ends; pika's exception names. Channel calls:
test_blocking_calls.py; consumers: test_blocking_consume.py."""

import threading
import time

import pytest

import swiftamqp
from swiftamqp import blocking
from swiftamqp.blocking import exceptions

from blocking_helpers import connect, drain, exclusive_queue, hang_guard  # noqa: F401 - fixtures
from conftest import Forwarder, broker_ctl


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


def test_endpoint_ports_are_checked_before_connecting():
    """The blocking connect parses endpoints as the asyncio one does: a port out of range is a
    ValueError, not a silently wrapped port (70000 once became 4464)."""
    for bad in (["127.0.0.1:70000"], [("127.0.0.1", -1)], [("127.0.0.1", 0)], ["127.0.0.1:x"]):
        with pytest.raises(ValueError):
            blocking.connect(host="127.0.0.1", port=1, endpoints=bad, connect_timeout=1)
