"""The workloads of bench/c/bench.h through the swiftamqp Python binding's public API
(asynqp's: Exchange.publish, Queue.consume, IncomingMessage.ack; publish_confirmed for confirms).

Needs the binding on PYTHONPATH and SWIFTAMQP_LIBRARY (bench/run sets both)."""

import asyncio

import swiftamqp

from benchcommon import Clock, body, die, parse_args, report

TIMEOUT = 30.0


async def publish_all(exchange, key, message, n):
    """Exchange.publish never waits; when the outbound buffer is over its limit it raises
    WouldBlock, and a publisher then lets the I/O thread catch up."""
    publish = exchange.publish
    i = 0
    while i < n:
        try:
            publish(message, key, mandatory=False)
            i += 1
        except swiftamqp.WouldBlock:
            await asyncio.sleep(0.0005)


async def settle(channel, queue):
    """An RPC on the channel behind every publish. (The binding does not expose queue.declare's
    message_count, so unlike the C clients this cannot wait for an exact count.)"""
    await channel.declare_queue(queue.name, passive=True)


async def run(a):
    loop = asyncio.get_running_loop()
    connection = await swiftamqp.connect_url(a.url, heartbeat=0, connection_name="bench-swiftamqp-py")
    channel = await connection.open_channel()
    queue = await channel.declare_queue("", durable=False, exclusive=True, auto_delete=True)
    exchange = await channel.declare_exchange("", "direct")
    message = swiftamqp.Message(body(a.size))
    key = queue.name
    clock = Clock()
    extra = {}
    latencies = None

    if a.workload == "publish":
        clock.start()
        await publish_all(exchange, key, message, a.count)
        await settle(channel, queue)
        clock.stop()
        purged = await queue.purge()
        if purged != a.count:
            die("queue held %d messages, expected %d" % (purged, a.count))

    elif a.workload == "confirm":
        sem = asyncio.Semaphore(a.window)
        failures = []
        pending = set()

        async def one():
            try:
                await exchange.publish_confirmed(message, key, mandatory=False)
            except Exception as e:  # noqa: BLE001 - counted and reported
                failures.append(e)
            finally:
                sem.release()

        clock.start()
        for _ in range(a.count):
            await sem.acquire()
            t = loop.create_task(one())
            pending.add(t)
            t.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending)
        clock.stop()
        if failures:
            die("%d confirmed publishes failed: %r" % (len(failures), failures[0]))
        purged = await queue.purge()
        if purged != a.count:
            die("queue held %d messages, expected %d" % (purged, a.count))

    elif a.workload == "consume":
        if not a.prefilled:
            await publish_all(exchange, key, message, a.count)
            await settle(channel, queue)
            await asyncio.sleep(0.2)
        if not a.no_ack:
            await channel.set_qos(prefetch_count=a.prefetch)
        done = loop.create_future()
        state = {"n": 0, "bad": 0}
        n_total, every, no_ack, size = a.count, a.ack_every, a.no_ack, a.size

        def on_message(msg):
            state["n"] += 1
            n = state["n"]
            if len(msg.body) != size:
                state["bad"] += 1
            if not no_ack and (n % every == 0 or n == n_total):
                msg.ack(multiple=True)
            if n == n_total and not done.done():
                done.set_result(None)

        clock.start()
        await queue.consume(on_message, no_ack=a.no_ack)
        await asyncio.wait_for(done, TIMEOUT)
        clock.stop()
        if state["bad"]:
            die("%d bodies of the wrong size" % state["bad"])
        if state["n"] != a.count:
            die("received %d, expected %d" % (state["n"], a.count))

    elif a.workload == "roundtrip":
        waiter = [None]

        def on_message(msg):
            if len(msg.body) != a.size:
                die("body of %d bytes" % len(msg.body))
            w = waiter[0]
            if w is None or w.done():
                die("a delivery nobody waited for")
            w.set_result(None)

        await queue.consume(on_message, no_ack=True)
        latencies = []
        perf = __import__("time").perf_counter
        for i in range(-a.warmup, a.count):
            if i == 0:
                clock.start()
            waiter[0] = loop.create_future()
            t0 = perf()
            exchange.publish(message, key, mandatory=False)
            await waiter[0]  # bench/run's per-run timeout bounds this
            if i >= 0:
                latencies.append(perf() - t0)
        clock.stop()

    report(a, clock, a.count, latencies, **extra)
    await connection.close()


def main():
    a = parse_args("swiftamqp-py")
    asyncio.run(run(a))


if __name__ == "__main__":
    main()
