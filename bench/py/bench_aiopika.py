"""The workloads of bench/c/bench.h with aio-pika (installed by bench/run into bench/.venv).

Same structure as bench_swiftamqp.py: plain publishes on a channel without publisher confirms,
publishes on a confirming channel awaited by at most WINDOW tasks, Queue.consume with an async
callback acking with multiple=True every ACK_EVERY messages, and a no-ack consumer for round trips."""

import asyncio
import time

import aio_pika

from benchcommon import Clock, body, die, parse_args, report

TIMEOUT = 30.0


async def queue_count(channel, name):
    q = await channel.declare_queue(name, passive=True)
    return q.declaration_result.message_count


async def await_count(channel, name, n):
    deadline = time.monotonic() + TIMEOUT
    while True:
        c = await queue_count(channel, name)
        if c == n:
            return
        if time.monotonic() > deadline:
            die("queue holds %d messages, expected %d" % (c, n))
        await asyncio.sleep(0.005)


async def run(a):
    loop = asyncio.get_running_loop()
    url = a.url + ("&" if "?" in a.url else "?") + "heartbeat=0"
    connection = await aio_pika.connect(url, client_properties={"connection_name": "bench-aio-pika"})
    channel = await connection.channel(publisher_confirms=(a.workload == "confirm"))
    queue = await channel.declare_queue("", durable=False, exclusive=True, auto_delete=True)
    exchange = channel.default_exchange
    payload = body(a.size)
    key = queue.name
    clock = Clock()
    latencies = None
    extra = {}

    if a.workload == "publish":
        clock.start()
        for _ in range(a.count):
            await exchange.publish(aio_pika.Message(payload), key, mandatory=False)
        seen = await queue_count(channel, key)  # an RPC behind every publish
        clock.stop()
        extra["count_at_stop"] = seen
        await await_count(channel, key, a.count)

    elif a.workload == "confirm":
        sem = asyncio.Semaphore(a.window)
        failures = []
        pending = set()

        async def one():
            try:
                await exchange.publish(aio_pika.Message(payload), key, mandatory=False)
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
        await await_count(channel, key, a.count)

    elif a.workload == "consume":
        if not a.prefilled:
            for _ in range(a.count):
                await exchange.publish(aio_pika.Message(payload), key, mandatory=False)
        await await_count(channel, key, a.count)
        if not a.no_ack:
            await channel.set_qos(prefetch_count=a.prefetch)
        done = loop.create_future()
        state = {"n": 0, "bad": 0}
        n_total, every, no_ack, size = a.count, a.ack_every, a.no_ack, a.size

        async def on_message(msg):
            state["n"] += 1
            n = state["n"]
            if len(msg.body) != size:
                state["bad"] += 1
            if not no_ack and (n % every == 0 or n == n_total):
                await msg.ack(multiple=True)
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

        async def on_message(msg):
            if len(msg.body) != a.size:
                die("body of %d bytes" % len(msg.body))
            w = waiter[0]
            if w is None or w.done():
                die("a delivery nobody waited for")
            w.set_result(None)

        await queue.consume(on_message, no_ack=True)
        latencies = []
        perf = time.perf_counter
        for i in range(-a.warmup, a.count):
            if i == 0:
                clock.start()
            waiter[0] = loop.create_future()
            t0 = perf()
            await exchange.publish(aio_pika.Message(payload), key, mandatory=False)
            await waiter[0]  # bench/run's per-run timeout bounds this
            if i >= 0:
                latencies.append(perf() - t0)
        clock.stop()

    report(a, clock, a.count, latencies, **extra)
    await connection.close()


def main():
    a = parse_args("aio-pika")
    asyncio.run(run(a))


if __name__ == "__main__":
    main()
