"""The workloads of bench/c/bench.h as one pika BlockingConnection program, run either on pika
(``--client pika``, pika installed by bench/run into bench/.venv) or on swiftamqp.blocking
(``--client python-blocking``, the default): the two runs differ only in the import and the line
that connects, as a ported program would.

publish: basic_publish N times (no confirms), then a passive queue_declare on the same channel.
consume: basic_qos(prefetch), basic_consume with a callback acking with multiple=True every
ACK_EVERY deliveries (auto_ack with --no-ack), start_consuming until the N-th delivery.
roundtrip: an auto_ack consumer; N times: publish one message, process_data_events until its
delivery ran the callback. confirm-mode publishing in a blocking API waits for each confirm (one
outstanding), which is not the confirm workload (a window of 1000): not offered here."""

import time

from benchcommon import Clock, body, die, parse_args, report

TIMEOUT = 30.0


def connect(a):
    if a.client == "pika":
        import pika
        url = a.url + ("&" if "?" in a.url else "?") + "heartbeat=0"
        return pika, pika.BlockingConnection(pika.URLParameters(url))
    from swiftamqp import blocking as pika
    return pika, pika.connect(a.url, heartbeat=0, connection_name="bench-" + a.client)


def await_count(channel, queue, n):
    deadline = time.monotonic() + TIMEOUT
    while True:
        c = channel.queue_declare(queue, passive=True).method.message_count
        if c == n:
            return
        if time.monotonic() > deadline:
            die("queue holds %d messages, expected %d" % (c, n))
        time.sleep(0.005)


def main():
    a = parse_args("python-blocking")
    pika, connection = connect(a)
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
    payload = body(a.size)
    clock = Clock()
    latencies = None
    extra = {}
    publish = channel.basic_publish

    if a.workload == "publish":
        clock.start()
        for _ in range(a.count):
            publish("", queue, payload)
        seen = channel.queue_declare(queue, passive=True).method.message_count  # a request behind them
        clock.stop()
        extra["count_at_stop"] = seen
        await_count(channel, queue, a.count)

    elif a.workload == "consume":
        if not a.prefilled:
            for _ in range(a.count):
                publish("", queue, payload)
            await_count(channel, queue, a.count)
        if not a.no_ack:
            channel.basic_qos(prefetch_count=a.prefetch)
        state = {"n": 0, "bad": 0, "last": 0}
        n_total, every, no_ack, size = a.count, a.ack_every, a.no_ack, a.size

        def on_message(ch, method, properties, body_):
            state["n"] += 1
            n = state["n"]
            if len(body_) != size:
                state["bad"] += 1
            tag = method.delivery_tag
            if tag <= state["last"]:
                state["bad"] += 1
            state["last"] = tag
            if not no_ack and (n % every == 0 or n == n_total):
                ch.basic_ack(tag, multiple=True)
            if n == n_total:
                ch.stop_consuming()

        clock.start()
        channel.basic_consume(queue, on_message, auto_ack=a.no_ack)
        channel.start_consuming()
        clock.stop()
        if state["bad"]:
            die("%d deliveries with the wrong size or a tag out of order" % state["bad"])
        if state["n"] != a.count:
            die("received %d, expected %d" % (state["n"], a.count))

    elif a.workload == "roundtrip":
        got = [0]

        def on_message(ch, method, properties, body_):
            if len(body_) != a.size:
                die("body of %d bytes" % len(body_))
            got[0] += 1

        channel.basic_consume(queue, on_message, auto_ack=True)
        latencies = []
        perf = time.perf_counter
        for i in range(-a.warmup, a.count):
            if i == 0:
                clock.start()
            before = got[0]
            t0 = perf()
            publish("", queue, payload)
            while got[0] == before:
                connection.process_data_events(time_limit=TIMEOUT)
            if got[0] != before + 1:
                die("%d deliveries for one publish" % (got[0] - before))
            if i >= 0:
                latencies.append(perf() - t0)
        clock.stop()

    else:
        die("the %s workload is not offered by a blocking client (one confirm at a time)" % a.workload)

    report(a, clock, a.count, latencies, **extra)
    connection.close()


if __name__ == "__main__":
    main()
