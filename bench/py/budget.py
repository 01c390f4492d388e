"""The per-message budget of the asyncio binding: what each Python-side step of a publish, a
delivery, an ack and a confirm costs, measured one step at a time against a broker (the null
broker, bench/c/nullbroker.c, so that the broker's own speed does not count).

Each line is the median of five runs of N calls: the main thread's CPU time per call
(time.thread_time: the Python work and what the library does on the caller's thread) and the
process's (every thread: the I/O thread's share of the same calls too).

    SWIFTAMQP_LIBRARY=build/lib/libswiftamqp.so PYTHONPATH=bindings/python \\
        python3 bench/py/budget.py --url amqp://guest:guest@127.0.0.1:PORT/%2f
"""

import argparse
import asyncio
import ctypes
import statistics
import struct
import time

import swiftamqp
from swiftamqp import _ffi
from swiftamqp._reader import DELIVERY_RECORD
from swiftamqp.message import IncomingMessage


def measure(label, fn, n, rows, repeat=5):
    """Runs fn(n) `repeat` times; records the median thread and process CPU per call."""
    thread, process = [], []
    for _ in range(repeat):
        t0, p0 = time.thread_time(), time.process_time()
        fn(n)
        thread.append((time.thread_time() - t0) / n * 1e6)
        process.append((time.process_time() - p0) / n * 1e6)
    rows.append((label, statistics.median(thread), statistics.median(process)))


async def ameasure(label, fn, n, rows, repeat=5):
    thread, process = [], []
    for _ in range(repeat):
        t0, p0 = time.thread_time(), time.process_time()
        await fn(n)
        thread.append((time.thread_time() - t0) / n * 1e6)
        process.append((time.process_time() - p0) / n * 1e6)
    rows.append((label, statistics.median(thread), statistics.median(process)))


def packed_record(body):
    """A swamqp_deliveries_pack record of a delivery without properties (as the library writes
    it), for timing the Python side of a delivery alone."""
    tag, exchange, key = b"ctag", b"", b"queue"
    head = DELIVERY_RECORD.pack(0, 0, 7, 0, 0, 0, 0, len(tag), len(exchange), len(key), 0, 0, len(body))
    data = head + tag + exchange + key + body
    data += b"\0" * (-len(data) % 8)
    return struct.pack("=I", len(data)) + data[4:]


async def run(a):
    rows = []
    connection = await swiftamqp.connect_url(a.url, heartbeat=0)
    channel = await connection.open_channel()
    exchange = await channel.declare_exchange("", "direct")
    message = swiftamqp.Message(b"x" * a.size)
    lib = _ffi.lib
    n = a.count

    # --- the call floor
    version = lib.swamqp_version_number
    measure("a ctypes call without arguments (swamqp_version_number)",
            lambda k: [version() for _ in range(k)], n, rows)

    # --- publish: the library call alone, then the whole Exchange.publish
    c_message = message._c_message()
    key = exchange._routing_key("queue")[0]
    handle, err = connection._native.handle, connection._err_ref
    publish = lib.swamqp_basic_publish

    def bad_handle(k):
        for _ in range(k):
            publish(None, 1, exchange._c_name, key, 0, c_message.pointer, c_message.body, None, 0, None)
    measure("swamqp_basic_publish, NULL handle (argtypes: 10 arguments converted)", bad_handle, n, rows)
    unchecked = _ffi.unchecked_basic_publish

    def bad_handle_unchecked(k):
        for _ in range(k):
            unchecked(None, 1, exchange._c_name, key, 0, c_message.pointer, c_message.body, None, 0, None)
    measure("the same without argtypes (what the binding calls)", bad_handle_unchecked, n, rows)

    async def direct(k):
        i = 0
        while i < k:
            if publish(handle, channel.id, exchange._c_name, key, 0, c_message.pointer, c_message.body,
                       None, 0, err):
                await asyncio.sleep(0.0005)  # the outbound buffer is over its limit
                continue
            i += 1
    await ameasure("swamqp_basic_publish (the call: engine, outbound buffer, I/O thread)", direct, n, rows)

    async def whole(k):
        i = 0
        while i < k:
            try:
                exchange.publish(message, "queue", mandatory=False)
                i += 1
            except swiftamqp.WouldBlock:
                await asyncio.sleep(0.0005)
    await ameasure("Exchange.publish (checks, cached routing key and message, the call)", whole, n, rows)
    measure("Message._c_message() of an unchanged message (the cache check)",
            lambda k: [message._c_message() for _ in range(k)], n, rows)
    body = b"x" * a.size
    measure("Message(body) (a new message: default properties, timestamp now)",
            lambda k: [swiftamqp.Message(body) for _ in range(k)], n, rows)
    measure("Message(body)._c_message() (its C properties and body built)",
            lambda k: [swiftamqp.Message(body)._c_message() for _ in range(k)], n, rows)

    async def fresh(k):
        i = 0
        while i < k:
            try:
                exchange.publish(swiftamqp.Message(body), "queue", mandatory=False)
                i += 1
            except swiftamqp.WouldBlock:
                await asyncio.sleep(0.0005)
    await ameasure("Exchange.publish of a new Message each time (the usual program)", fresh, n, rows)
    await asyncio.sleep(0.5)

    # --- a delivery's Python side, from a packed record (no broker)
    record_bytes = packed_record(b"x" * a.size)
    record = DELIVERY_RECORD.unpack_from(record_bytes, 0)
    from_packed = IncomingMessage._from_packed
    measure("IncomingMessage from a packed record (the drain's work per delivery)",
            lambda k: [from_packed(record, record_bytes, 56, channel, "ctag") for _ in range(k)], n, rows)
    measure("DELIVERY_RECORD.unpack_from (the fixed fields of a record)",
            lambda k: [DELIVERY_RECORD.unpack_from(record_bytes, 0) for _ in range(k)], n, rows)

    # --- an ack: the call (the broker ignores acks of unknown tags on a null broker)
    ack = lib.swamqp_basic_ack
    measure("swamqp_basic_ack (the call)", lambda k: [ack(handle, channel.id, 1, 0, err) for _ in range(k)],
            n // 10, rows)
    incoming = from_packed(record, record_bytes, 56, channel, "ctag")
    measure("IncomingMessage.ack() (checks and the call)", lambda k: [incoming.ack() for _ in range(k)],
            n // 10, rows)

    # --- a confirm: the asyncio floor of awaiting one future per message
    loop = asyncio.get_running_loop()

    async def futures(k):
        for _ in range(k):
            fut = loop.create_future()
            loop.call_soon(fut.set_result, None)
            await fut
    await ameasure("await of a future resolved by the loop (the floor of any awaited confirm)",
                   futures, n // 4, rows)

    async def confirmed(k):
        window = asyncio.Semaphore(1000)

        async def one():
            try:
                await exchange.publish_confirmed(message, "queue", mandatory=False)
            finally:
                window.release()
        tasks = set()
        for _ in range(k):
            await window.acquire()
            task = loop.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    await ameasure("publish_confirmed in a window of 1000 tasks (bench_swiftamqp.py's way)",
                   confirmed, n // 4, rows)

    async def floor(k):
        window = asyncio.Semaphore(1000)
        pending = []

        def settle():
            for fut in pending:
                fut.set_result(None)
            pending.clear()

        async def one():
            try:
                fut = loop.create_future()
                if not pending:
                    loop.call_soon(settle)
                pending.append(fut)
                await fut
            finally:
                window.release()
        tasks = set()
        for _ in range(k):
            await window.acquire()
            task = loop.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    await ameasure("the same window of tasks awaiting futures the loop resolves (no library)",
                   floor, n // 4, rows)
    await connection.close()

    width = max(len(r[0]) for r in rows)
    print("%-*s  %10s  %10s" % (width, "step (µs per call, median of 5)", "thread", "process"))
    for label, thread, process in rows:
        print("%-*s  %10.2f  %10.2f" % (width, label, thread, process))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--count", type=int, default=100000)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
