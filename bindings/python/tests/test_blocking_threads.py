"""swiftamqp.blocking with threads, long callbacks, recovery and Ctrl-C, against the broker."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from swiftamqp import blocking
from swiftamqp.blocking import exceptions

from blocking_helpers import connect, count_is, exclusive_queue, hang_guard  # noqa: F401 - fixtures
from conftest import BINDING_DIR, broker_connection_names, close_broker_connection, sigint_default, wait_until

THREADS = 8
PER_THREAD = 400


def _consume_all(channel, queue, n, timeout=30.0):
    bodies = []

    def on_message(ch, method, properties, body):
        bodies.append(body)
        if len(bodies) % 100 == 0 or len(bodies) == n:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if len(bodies) == n:
            ch.stop_consuming()

    channel.basic_qos(prefetch_count=1000)
    channel.basic_consume(queue, on_message)
    timer = threading.Timer(timeout, lambda: channel.connection.add_callback_threadsafe(
        lambda: channel.stop_consuming()))
    timer.start()
    try:
        channel.start_consuming()
    finally:
        timer.cancel()
    return bodies


@pytest.mark.parametrize("shared_channel", [False, True], ids=["channel-per-thread", "one-shared-channel"])
def test_eight_threads_publish_with_confirms_none_lost(connect, shared_channel):
    connection = connect()
    setup = connection.channel()
    queue = exclusive_queue(setup)
    shared = connection.channel() if shared_channel else None
    if shared is not None:
        shared.confirm_delivery()
    errors = []
    barrier = threading.Barrier(THREADS)

    def publisher(index):
        try:
            channel = shared
            if channel is None:
                channel = connection.channel()
                channel.confirm_delivery()
            barrier.wait()
            for i in range(PER_THREAD):
                # each basic_publish returns only once the broker confirmed that message
                channel.basic_publish("", queue, b"%d:%d" % (index, i),
                                      blocking.BasicProperties(delivery_mode=2), mandatory=True)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=publisher, args=(k,)) for k in range(THREADS)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    elapsed = time.monotonic() - start
    assert not errors, errors[:3]
    total = THREADS * PER_THREAD
    assert count_is(setup, queue, total)
    bodies = _consume_all(setup, queue, total)
    assert len(bodies) == total and len(set(bodies)) == total
    assert set(bodies) == {b"%d:%d" % (k, i) for k in range(THREADS) for i in range(PER_THREAD)}
    # per thread, the broker got its messages in the order the thread published them
    order = {}
    for body in bodies:
        k, i = body.split(b":")
        order.setdefault(k, []).append(int(i))
    assert all(seq == sorted(seq) for seq in order.values())
    stats = connection.stats()
    assert stats["confirms_acked"] >= total
    print("%d confirmed publishes from %d threads in %.2fs" % (total, THREADS, elapsed))


def test_consumer_publishers_and_requests_share_a_connection(connect, unique):
    """One connection: a thread in start_consuming, four publisher threads in confirm mode, a
    thread making requests; the callbacks run on the consuming thread only."""
    connection = connect()
    consumer_channel = connection.channel()
    queue = exclusive_queue(consumer_channel)
    total = 4 * 300
    received = []
    callback_threads = set()
    done = threading.Event()

    def on_message(ch, method, properties, body):
        callback_threads.add(threading.get_ident())
        received.append(body)
        ch.basic_ack(method.delivery_tag)
        if len(received) == total:
            done.set()

    consumer_channel.basic_consume(queue, on_message)
    consumer_ident = []

    def consume():
        consumer_ident.append(threading.get_ident())
        consumer_channel.start_consuming()

    consumer = threading.Thread(target=consume)
    consumer.start()
    errors = []

    def publish(k):
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for i in range(300):
                channel.basic_publish("", queue, b"%d.%d" % (k, i))
        except BaseException as exc:
            errors.append(exc)

    def requests():
        try:
            channel = connection.channel()
            for i in range(50):
                name = channel.queue_declare("", exclusive=True).method.queue
                channel.queue_delete(name)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=publish, args=(k,)) for k in range(4)] + [threading.Thread(target=requests)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not errors, errors[:3]
    assert done.wait(30), "received %d of %d" % (len(received), total)
    consumer_channel.stop_consuming()  # from this thread: start_consuming returns there
    consumer.join(10)
    assert not consumer.is_alive()
    assert callback_threads == set(consumer_ident)
    assert len(set(received)) == total


def test_two_consuming_threads_each_run_their_own_channel(connect):
    connection = connect()
    channels = [connection.channel(), connection.channel()]
    queues = [exclusive_queue(ch) for ch in channels]
    seen = {0: set(), 1: set()}
    idents = {}
    counts = [0, 0]

    def run(k):
        idents[k] = threading.get_ident()

        def on_message(ch, method, properties, body):
            seen[k].add(threading.get_ident())
            counts[k] += 1
            if counts[k] == 50:
                ch.stop_consuming()

        channels[k].basic_consume(queues[k], on_message, auto_ack=True)
        channels[k].start_consuming()

    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    publisher = connection.channel()
    for i in range(50):
        for q in queues:
            publisher.basic_publish("", q, b"x")
    for t in threads:
        t.join(30)
    assert counts == [50, 50]
    assert seen[0] == {idents[0]} and seen[1] == {idents[1]}


def test_a_five_second_callback_at_heartbeat_one(connect, broker, unique):
    """The library's I/O thread keeps heartbeats going while a callback sleeps for 5 s (5
    heartbeat intervals: the broker would close a silent connection after about 2)."""
    name = unique("slow-callback")
    connection = connect(heartbeat=1, connection_name=name)
    channel = connection.channel()
    queue = exclusive_queue(channel)
    for i in range(3):
        channel.basic_publish("", queue, b"%d" % i)
    handled = []
    before = connection.stats()["heartbeats_out"]

    def on_message(ch, method, properties, body):
        if body == b"0":
            time.sleep(5.0)
        handled.append((body, time.monotonic()))
        ch.basic_ack(method.delivery_tag)
        if len(handled) == 3:
            ch.stop_consuming()

    channel.basic_consume(queue, on_message)
    start = time.monotonic()
    channel.start_consuming()
    assert [b for b, _ in handled] == [b"0", b"1", b"2"]
    assert handled[0][1] - start >= 5.0
    assert connection.is_open
    assert name in broker_connection_names()
    assert connection.stats()["heartbeats_out"] - before >= 3
    channel.basic_publish("", queue, b"still fine")
    assert count_is(channel, queue, 1)


def test_recovery_restores_consumers(connect, broker, unique):
    """rabbitmqctl close_connection with recovery on: start_consuming goes on, the consumer is
    restored (same tag) and gets what is published after the recovery."""
    name = unique("recovery")
    connection = connect(recovery=True, recovery_initial_delay=0.05, recovery_max_delay=0.5,
                         connection_name=name, heartbeat=5)
    channel = connection.channel()
    channel.basic_qos(prefetch_count=10)
    queue = exclusive_queue(channel, unique("recovered-queue"))
    got = []
    tags = set()

    def on_message(ch, method, properties, body):
        got.append(body)
        tags.add(method.consumer_tag)
        ch.basic_ack(method.delivery_tag)
        if body == b"after":
            ch.stop_consuming()

    tag = channel.basic_consume(queue, on_message)
    publisher = connection.channel()
    publisher.confirm_delivery()
    publisher.basic_publish("", queue, b"before")
    assert connection.recoveries == 0

    failures = []

    def disturb():
        try:
            assert wait_until(lambda: got, 10), "nothing consumed"
            close_broker_connection(name)
            assert wait_until(lambda: connection.recoveries == 1, 30), "no recovery"
            deadline = time.monotonic() + 30
            while True:
                try:
                    publisher.basic_publish("", queue, b"after")  # confirmed: it got there
                    return
                except exceptions.AMQPError:
                    assert time.monotonic() < deadline, "no publish succeeded after the recovery"
                    time.sleep(0.1)
        except BaseException as exc:
            failures.append(exc)
            channel.stop_consuming()

    t = threading.Thread(target=disturb)
    t.start()
    channel.start_consuming()
    t.join(30)
    assert not failures, failures
    assert connection.recoveries == 1
    assert got[0] == b"before" and got[-1] == b"after"
    assert tags == {tag}
    assert connection.is_open and channel.is_open
    assert wait_until(lambda: name in broker_connection_names(), 10)
    # requests work again on the recovered connection
    assert channel.queue_declare(queue, passive=True).method.queue == queue


CTRL_C_PROGRAM = textwrap.dedent("""
    import sys, time
    from swiftamqp import blocking as pika

    connection = pika.connect(sys.argv[1])
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.basic_publish("", queue, b"one")

    def on_message(ch, method, properties, body):
        print("got", body.decode(), flush=True)
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(queue, on_message)
    print("consuming", flush=True)
    try:
        channel.start_consuming()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        channel.stop_consuming()
        print("consumers", len(channel.consumer_tags), flush=True)
        # the channel and connection are still usable
        channel.basic_publish("", queue, b"after")
        method, _, body = channel.basic_get(queue, auto_ack=True)
        print("get", body.decode(), flush=True)
    connection.close()
    print("closed", flush=True)
""")


def test_ctrl_c_in_start_consuming_stops_cleanly(amqp_url):
    env = dict(os.environ, PYTHONPATH=BINDING_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_PROGRAM, amqp_url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=sigint_default)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("got one"):
                break
        time.sleep(0.3)  # well inside start_consuming's wait
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        lines += out.split()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    text = " ".join(lines)
    assert "interrupted consumers 0 get after closed" in text, (text, err)
    assert time.monotonic() - sent < 10


LONG_CALLBACK_PROGRAM = textwrap.dedent("""
    import sys, time
    from swiftamqp import blocking as pika

    connection = pika.connect(sys.argv[1])
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.basic_publish("", queue, b"slow")

    def on_message(ch, method, properties, body):
        print("working", flush=True)
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            print("interrupted in the callback", flush=True)
            raise

    channel.basic_consume(queue, on_message)
    try:
        channel.start_consuming()
    except KeyboardInterrupt:
        print("out of start_consuming", flush=True)
    connection.close()
    print("closed", flush=True)
""")


def test_ctrl_c_interrupts_a_long_callback(amqp_url):
    env = dict(os.environ, PYTHONPATH=BINDING_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", LONG_CALLBACK_PROGRAM, amqp_url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=sigint_default)
    try:
        assert proc.stdout.readline().strip() == "working"
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.splitlines() == ["interrupted in the callback", "out of start_consuming", "closed"], (out, err)
    assert time.monotonic() - sent < 10  # not the 60 s of the callback
