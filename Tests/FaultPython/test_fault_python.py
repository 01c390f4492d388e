"""Fault injection from Python: swiftamqp.connect_robust through the faults of the C suite
(Tests/C/c_fault_*.c), with the fault proxy's Python twin (Tests/FaultProxy/faultproxy.py).

Needs AMQP_URL and SWIFTAMQP_BROKER_NAME (rabbitmqctl through scripts/broker ctl NAME; default
swiftamqp-test, the broker of scripts/test). test_broker_stop_and_start starts a broker of its own
(SWIFTAMQP_FAULT_BROKER_NAME, default swiftamqp-fault-restart-py). test_cluster_failover needs
AMQP_CLUSTER_URLS and SWIFTAMQP_CLUSTER_NAME (scripts/broker cluster start NAME) and is skipped
without them.

    python3 -m pytest -q Tests/FaultPython
"""

import asyncio
import os
import time

import pytest

from fault_helpers import (BROKER_SCRIPT, Recovery, amqp_params, broker, connection_pid, ctl, guardian, run,
                           unique, until, url_params)

import swiftamqp  # noqa: E402  (path set by fault_helpers)
from faultproxy import FaultProxy, SERVER_TO_CLIENT  # noqa: E402

FAST = dict(recovery_initial_delay=0.1, recovery_max_delay=1.0)


def via(proxy, params):
    return dict(params, host="127.0.0.1", port=proxy.port)


def test_close_connection_restores_topology_qos_confirms_and_tx():
    """rabbitmqctl close_connection: the server-named queue gets its new name (bindings and the
    consumer follow), qos, confirm and tx modes are back, delivery tags keep increasing."""
    params = amqp_params()
    cname, xname = unique("close"), unique("x")

    async def main():
        conn = await swiftamqp.connect_robust(**params, connection_name=cname, **FAST)
        rec = Recovery(conn)
        ch = await conn.open_channel()
        await ch.set_qos(prefetch_count=3)
        exchange = await ch.declare_exchange(xname, "direct", durable=False)
        queue = await ch.declare_queue("", exclusive=True, durable=False)
        old_name = queue.name
        await queue.bind(exchange, "k1")
        got = []
        consumer = await queue.consume(got.append, consumer_tag=unique("ctag"))
        pch = await conn.open_channel()
        default = await pch.declare_exchange("", "direct")
        await default.publish_confirmed(swiftamqp.Message(b"before"), old_name)
        tch = await conn.open_channel()
        await tch.tx_select()
        tx_default = await tch.declare_exchange("", "direct")
        await until(lambda: got)
        got[0].ack()

        pid = await asyncio.to_thread(connection_pid, cname)
        await asyncio.to_thread(ctl, "close_connection", pid, "pyfault close_connection")
        started_at, exc, recovered_at, failed = await rec.wait(1)
        assert isinstance(exc, swiftamqp.AMQPError) and exc.reply_code == 320, repr(exc)
        assert failed == 0 and not conn.recovering and not conn.is_closed()
        assert queue.name != old_name and queue.name.startswith("amq.gen-")
        assert await asyncio.to_thread(connection_pid, cname) != pid

        # the consumer follows the new name; the binding too; confirms work
        await default.publish_confirmed(swiftamqp.Message(b"after-direct"), queue.name)
        await until(lambda: any(m.body == b"after-direct" for m in got))
        exchange.publish(swiftamqp.Message(b"after-exchange"), "k1")
        await until(lambda: any(m.body == b"after-exchange" for m in got))
        for m in got[1:]:
            assert m.consumer_tag == consumer.tag
            m.ack()
        # tx mode: nothing before the commit, nothing rolled back
        tx_default.publish(swiftamqp.Message(b"rolled-back"), queue.name)
        await tch.tx_rollback()
        tx_default.publish(swiftamqp.Message(b"committed"), queue.name)
        await asyncio.sleep(0.5)
        assert not any(m.body == b"committed" for m in got), "tx mode lost: delivered before the commit"
        await tch.tx_commit()
        await until(lambda: any(m.body == b"committed" for m in got))
        got[-1].ack()
        assert not any(m.body == b"rolled-back" for m in got)
        # qos: 3 of 5 unacked messages
        mark = len(got)
        for i in range(5):
            await default.publish_confirmed(swiftamqp.Message(b"qos-%d" % i), queue.name)
        await asyncio.sleep(1.0)
        assert len(got) - mark == 3, "prefetch 3 after recovery, %d delivered" % (len(got) - mark)
        got[-1].ack(multiple=True)
        await until(lambda: len(got) - mark == 5)
        got[-1].ack(multiple=True)
        tags = [m.delivery_tag for m in got]
        assert tags == sorted(set(tags)), tags
        await exchange.delete(if_unused=False)
        await conn.close()

    run(main())


def test_unconfirmed_publishes_fail_back_and_publishing_waits_during_recovery():
    """Publishes unconfirmed when the connection is lost fail (the application republishes);
    requests during the recovery raise Recovering; publish_confirmed waits through it."""
    params = amqp_params()
    qname = unique("loss")

    async def main():
        with FaultProxy(params["host"], params["port"]) as proxy:
            conn = await swiftamqp.connect_robust(**via(proxy, params), **FAST)
            rec = Recovery(conn)
            ch = await conn.open_channel()
            queue = await ch.declare_queue(qname, durable=True)
            default = await ch.declare_exchange("", "direct")
            for i in range(5):
                await default.publish_confirmed(swiftamqp.Message(b"confirmed-%d" % i), qname)
            proxy.stall()
            lost = [asyncio.ensure_future(default.publish_confirmed(swiftamqp.Message(b"lost-%d" % i), qname))
                    for i in range(10)]
            await asyncio.sleep(0.3)
            assert not any(f.done() for f in lost)
            assert proxy.refuse()
            assert proxy.cut_all() == 1
            await until(lambda: rec.started, what="RECOVERY_STARTED")
            done, _ = await asyncio.wait(lost, timeout=5)
            assert len(done) == 10
            errors = [f.exception() for f in lost]
            assert all(isinstance(e, swiftamqp.AMQPError) for e in errors), errors
            # during the recovery
            with pytest.raises(swiftamqp.Recovering):
                await ch.declare_queue(qname, durable=True, passive=True)
            waiting = asyncio.ensure_future(default.publish_confirmed(swiftamqp.Message(b"during"), qname))
            await asyncio.sleep(1.0)
            assert not waiting.done() and not rec.recovered
            proxy.resume()
            await rec.wait(1)
            await asyncio.wait_for(waiting, 15)
            for i in range(10):  # the application republishes what failed
                await default.publish_confirmed(swiftamqp.Message(b"lost-%d" % i), qname)
            check = await ch.declare_queue(qname, durable=True, passive=True)
            assert check.message_count == 16, check.message_count
            await queue.delete(if_unused=False, if_empty=False)
            await conn.close()

    run(main())


def test_cut_in_the_middle_of_a_frame():
    """The proxy cuts after 50 000 bytes of a 200 000-byte delivery: no partial message, recovery,
    then the whole message again with the redelivered flag."""
    params = amqp_params()
    qname = unique("midframe")
    body = bytes((i * 7) % 251 for i in range(200000))

    async def main():
        direct = await swiftamqp.connect(**params)
        dch = await direct.open_channel()
        ddefault = await dch.declare_exchange("", "direct")
        with FaultProxy(params["host"], params["port"]) as proxy:
            conn = await swiftamqp.connect_robust(**via(proxy, params), **FAST)
            rec = Recovery(conn)
            ch = await conn.open_channel()
            queue = await ch.declare_queue(qname, durable=True)
            got = []
            await queue.consume(got.append)
            proxy.cut_after(50000, SERVER_TO_CLIENT)
            await ddefault.publish_confirmed(swiftamqp.Message(body), qname)
            await rec.wait(1)
            assert proxy.cut_fired
            await until(lambda: got)
            assert len(got) == 1 and got[0].body == body and got[0].redelivered
            got[0].ack()
            await asyncio.sleep(0.3)
            assert len(got) == 1
            await queue.delete(if_unused=False, if_empty=False)
            await conn.close()
        await direct.close()

    run(main())


def test_silent_peer_found_by_heartbeats():
    """heartbeat 1 s; the proxy stalls: the loss is noticed within 2 x 1 s + 1 s of the last byte
    received, the recovery waits while the proxy stays silent and succeeds once it resumes."""
    params = amqp_params()

    async def main():
        with FaultProxy(params["host"], params["port"]) as proxy:
            conn = await swiftamqp.connect_robust(**via(proxy, params), heartbeat=1, connect_timeout=1.5, **FAST)
            rec = Recovery(conn)
            ch = await conn.open_channel()
            queue = await ch.declare_queue("", exclusive=True, durable=False)
            got = []
            await queue.consume(got.append, no_ack=True)
            await asyncio.sleep(3)  # heartbeats flow
            assert not rec.started
            proxy.stall()
            stalled_at = time.monotonic()
            await until(lambda: rec.started, 8, "RECOVERY_STARTED")
            detected_at, exc = rec.started[0]
            last = proxy.stats()["last_s2c"]
            silent = detected_at - last
            print("silent peer detected %.2f s after the last byte (%.2f s after the stall): %r"
                  % (silent, detected_at - stalled_at, exc))
            assert isinstance(exc, swiftamqp.ConnectionLostError), repr(exc)
            assert exc.status_name == "SWAMQP_ERR_HEARTBEAT_TIMEOUT", exc.status_name
            assert 1.5 <= silent <= 3.0, silent
            await asyncio.sleep(3)
            assert not rec.recovered and conn.recovering
            proxy.resume()
            await rec.wait(1)
            direct = await swiftamqp.connect(**params)
            dch = await direct.open_channel()
            await (await dch.declare_exchange("", "direct")).publish_confirmed(
                swiftamqp.Message(b"after the silence"), queue.name)
            await until(lambda: got)
            await direct.close()
            await conn.close()

    run(main())


def test_memory_alarm_blocks_without_a_recovery():
    """A memory alarm while publishing on a robust connection with heartbeat 1 s: blocked, then
    unblocked, publish_confirmed waits through it, and no recovery starts. The watermark is
    restored on every exit path (finally, and a guardian process if this one dies)."""
    amqp_params()
    name = os.environ.get("SWIFTAMQP_BROKER_NAME") or "swiftamqp-test"
    original = ctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").strip()
    if original.startswith("{absolute,"):
        restore = ["absolute", original[len("{absolute,"):].rstrip("}")]
    else:
        assert 0.001 < float(original) < 1.5, "unexpected watermark %s (left over by an interrupted test?)" % original
        restore = [original]
    code = "import subprocess\nsubprocess.run([%r, 'ctl', %r, 'set_vm_memory_high_watermark'] + %r)\n" % (
        BROKER_SCRIPT, name, restore)
    keeper = guardian(code)

    def alarm():
        return "memory" in ctl("eval", "rabbit_alarm:get_alarms().")

    async def main():
        params = amqp_params()
        conn = await swiftamqp.connect_robust(**params, heartbeat=1, **FAST)
        rec = Recovery(conn)
        blocked, unblocked = [], []
        conn.set_blocked_handler(blocked.append, lambda: unblocked.append(time.monotonic()))
        ch = await conn.open_channel()
        queue = await ch.declare_queue("", exclusive=True, durable=False)
        default = await ch.declare_exchange("", "direct")
        await asyncio.to_thread(ctl, "set_vm_memory_high_watermark", "0.0000001")
        deadline = time.monotonic() + 20
        while not await asyncio.to_thread(alarm):
            assert time.monotonic() < deadline, "no memory alarm"
            await asyncio.sleep(0.25)
        default.publish(swiftamqp.Message(b"first"), queue.name)
        await until(lambda: blocked, 15, "blocked")
        waiting = asyncio.ensure_future(default.publish_confirmed(swiftamqp.Message(b"waits"), queue.name))
        await asyncio.sleep(6)  # six heartbeat intervals while blocked
        assert not rec.started, "a recovery started while blocked"
        assert not waiting.done()
        cleared = time.monotonic()
        await asyncio.to_thread(ctl, "set_vm_memory_high_watermark", *restore)
        await until(lambda: unblocked, 20, "unblocked")
        await asyncio.wait_for(waiting, 15)
        assert unblocked[0] >= cleared
        await ch.wait_for_confirms()
        check = await ch.declare_queue(queue.name, exclusive=True, durable=False, passive=True)
        assert check.message_count == 2
        assert not rec.started
        await conn.close()

    try:
        run(main(), timeout=90)
    finally:
        ctl("set_vm_memory_high_watermark", *restore, check=False)
        keeper.stdin.close()  # the guardian restores once more and ends
        keeper.wait(60)


def test_consumer_cancelled_by_the_broker_stays_cancelled():
    """The queue under a consumer is deleted: the cancel handler runs; after a recovery the
    consumer is not registered again."""
    params = amqp_params()
    cname, qname = unique("cancel"), unique("cancelq")

    async def main():
        conn = await swiftamqp.connect_robust(**params, connection_name=cname, **FAST)
        rec = Recovery(conn)
        other = await swiftamqp.connect(**params)
        och = await other.open_channel()
        odefault = await och.declare_exchange("", "direct")
        ch = await conn.open_channel()
        cancelled = []
        ch.set_cancel_handler(cancelled.append)
        queue = await ch.declare_queue(qname, durable=True)
        got = []
        consumer = await queue.consume(got.append, no_ack=True)
        oqueue = await och.declare_queue(qname, durable=True, passive=True)
        await oqueue.delete(if_unused=False, if_empty=False)
        await until(lambda: cancelled, 10, "the cancel handler")
        assert cancelled[0].tag == consumer.tag and not ch.is_closed()
        pid = await asyncio.to_thread(connection_pid, cname)
        await asyncio.to_thread(ctl, "close_connection", pid, "pyfault consumer cancelled")
        await rec.wait(1)
        await och.declare_queue(qname, durable=True)
        await odefault.publish_confirmed(swiftamqp.Message(b"after"), qname)
        await asyncio.sleep(1.0)
        assert not got, "the cancelled consumer was registered again"
        consumers = await asyncio.to_thread(ctl, "-q", "list_consumers", "--no-table-headers", "consumer_tag")
        assert consumer.tag not in consumers
        await (await och.declare_queue(qname, durable=True, passive=True)).delete(if_unused=False, if_empty=False)
        await other.close()
        await conn.close()

    run(main())


def test_broker_stop_and_start():
    """The broker's application stops (rabbitmqctl stop_app: 320 CONNECTION_FORCED, the port
    refuses) and starts again: the connection recovers, persistent messages are still there and
    the consumer is back. Uses a broker of its own."""
    amqp_params()
    name = os.environ.get("SWIFTAMQP_FAULT_BROKER_NAME") or "swiftamqp-fault-restart-py"
    keeper = guardian("import subprocess\nsubprocess.run([%r, 'stop', %r])\n" % (BROKER_SCRIPT, name))
    try:
        out = broker("start", name)
        url = [line.split("=", 1)[1] for line in out.splitlines() if line.startswith("AMQP_URL=")][0]
        params = url_params(url)
        stored, consumed = unique("stored"), unique("consumed")

        async def main():
            conn = await swiftamqp.connect_robust(**params, recovery_initial_delay=0.2, recovery_max_delay=1.0,
                                                  recovery_max_attempts=200)
            rec = Recovery(conn)
            ch = await conn.open_channel()
            q1 = await ch.declare_queue(stored, durable=True)
            q2 = await ch.declare_queue(consumed, durable=True)
            default = await ch.declare_exchange("", "direct")
            for i in range(20):
                await default.publish_confirmed(swiftamqp.Message(b"persistent-%d" % i, delivery_mode=2), stored)
            got = []
            await q2.consume(got.append, no_ack=True)
            await asyncio.to_thread(ctl, "stop_app", name=name)
            await until(lambda: rec.started, 15, "RECOVERY_STARTED")
            await asyncio.sleep(2)
            assert not rec.recovered and conn.recovering
            await asyncio.to_thread(ctl, "start_app", name=name)
            _, exc, _, failed = await rec.wait(1, 30)
            assert failed == 0 and exc.reply_code == 320, repr(exc)
            for i in range(20):
                m = await q1.get(no_ack=True)
                assert m is not None and m.body == b"persistent-%d" % i
            await default.publish_confirmed(swiftamqp.Message(b"after", delivery_mode=2), consumed)
            await until(lambda: got, 10, "the restored consumer")
            await q1.delete(if_unused=False, if_empty=False)
            await q2.delete(if_unused=False, if_empty=False)
            await conn.close()

        run(main(), timeout=90)
    finally:
        broker("stop", name, check=False)
        keeper.stdin.close()
        keeper.wait(60)


def test_cluster_failover():
    """A quorum queue on a three-node cluster; the node the connection is on stops while
    publishing with confirms; the connection moves to another node and every confirmed message is
    consumed."""
    urls = os.environ.get("AMQP_CLUSTER_URLS")
    if not urls:
        if os.environ.get("SWIFTAMQP_REQUIRE_CLUSTER") == "1":
            pytest.fail("AMQP_CLUSTER_URLS is not set but SWIFTAMQP_REQUIRE_CLUSTER=1 (did the cluster start?)")
        pytest.skip("AMQP_CLUSTER_URLS is not set (scripts/broker cluster start NAME)")
    cluster = os.environ.get("SWIFTAMQP_CLUSTER_NAME") or "swiftamqp-cluster"
    cname, qname = unique("cluster"), unique("quorum")

    def node_of(ask):
        return connection_pid(cname, name=ask)[1:].split("@", 1)[0]

    async def main():
        conn = await swiftamqp.connect_url(urls, connection_name=cname, **FAST)
        rec = Recovery(conn)
        before = await asyncio.to_thread(node_of, cluster + "-1")
        keeper = guardian("import subprocess\nsubprocess.run([%r, 'ctl', %r, 'start_app'])\n" % (BROKER_SCRIPT, before))
        try:
            ch = await conn.open_channel()
            queue = await ch.declare_queue(qname, durable=True, arguments={"x-queue-type": "quorum"})
            default = await ch.declare_exchange("", "direct")
            cch = await conn.open_channel()
            await cch.set_qos(prefetch_count=100)
            seen = set()

            def on_message(m):
                seen.add(m.body)
                try:
                    m.ack()
                except (swiftamqp.StaleDeliveryTag, swiftamqp.Recovering):
                    pass  # redelivered
            cqueue = await cch.declare_queue(qname, durable=True, arguments={"x-queue-type": "quorum"})
            await cqueue.consume(on_message)
            confirmed, failed = set(), 0
            stopper = None
            n = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                n += 1
                body = b"msg-%d" % n
                try:
                    await asyncio.wait_for(default.publish_confirmed(swiftamqp.Message(body, delivery_mode=2), qname), 10)
                    confirmed.add(body)
                except (swiftamqp.AMQPError, asyncio.TimeoutError):
                    failed += 1
                if n == 200:
                    stopper = asyncio.ensure_future(asyncio.to_thread(ctl, "stop_app", name=before))
                if rec.recovered and n >= 200 and len(confirmed) >= 400:
                    break
            assert stopper is not None
            await stopper
            await rec.wait(1)
            ask = cluster + ("-2" if before == cluster + "-1" else "-1")
            after = await asyncio.to_thread(node_of, ask)
            assert after != before
            await until(lambda: confirmed <= seen, 60, "every confirmed message consumed")
            print("cluster: %s -> %s, %d confirmed, %d failed publishes, %d consumed"
                  % (before, after, len(confirmed), failed, len(seen)))
            await queue.delete(if_unused=False, if_empty=False)
            await conn.close()
        finally:
            await asyncio.to_thread(ctl, "start_app", name=before, check=False)
            keeper.stdin.close()
            keeper.wait(60)

    run(main(), timeout=120)
