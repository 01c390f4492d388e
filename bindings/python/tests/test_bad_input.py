"""Messages with values Python cannot represent as asked (a timestamp past datetime's range,
invalid UTF-8) still reach the application, through consumers, basic.get and returns, and the
event reader keeps running.

The producer side is the C API called through ctypes (swamqp_basic_publish with a hand-built
swamqp_properties), so the wire carries exactly the raw values another client could send.
"""

import asyncio
import ctypes
import datetime

import swiftamqp
from swiftamqp import _ffi
from conftest import run

MILLIS = 1700000000123          # a producer that wrote milliseconds since the epoch
HUGE = 1 << 63                  # does not fit any datetime (nor a signed 64-bit seconds count)
MAX_U64 = (1 << 64) - 1
BAD_UTF8 = b"caf\xe9 \xff\xfe"  # latin-1 / garbage, not UTF-8


def _b(data, keep):
    keep.append(data)
    return _ffi.swamqp_bytes(ctypes.cast(data, ctypes.c_void_p).value, len(data))


def publish_raw(channel, routing_key, body, *, timestamp=None, headers=(), message_id=None,
                mandatory=False, exchange=b""):
    """basic.publish through the C API. `headers`: (key bytes, kind, value) triples where value
    is an int for integer/timestamp kinds, bytes for S/x."""
    keep = []
    props = _ffi.swamqp_properties()
    flags = 0
    if timestamp is not None:
        flags |= _ffi.SWAMQP_PROP_TIMESTAMP
        props.timestamp = timestamp
    if message_id is not None:
        flags |= _ffi.SWAMQP_PROP_MESSAGE_ID
        props.message_id = _b(message_id, keep)
    if headers:
        entries = (_ffi.swamqp_table_entry * len(headers))()
        keep.append(entries)
        for entry, (key, kind, value) in zip(entries, headers):
            entry.key = _b(key, keep)
            entry.value.kind = kind
            if kind in (_ffi.SWAMQP_FIELD_STRING, _ffi.SWAMQP_FIELD_BYTES):
                entry.value.value.bytes = _b(value, keep)
            elif kind == _ffi.SWAMQP_FIELD_ARRAY:
                values = (_ffi.swamqp_field_value * len(value))()
                keep.append(values)
                for slot, (k, v) in zip(values, value):
                    slot.kind = k
                    slot.value.u64 = v
                entry.value.value.array.count = len(value)
                entry.value.value.array.values = ctypes.addressof(values)
            else:
                entry.value.value.u64 = value
        flags |= _ffi.SWAMQP_PROP_HEADERS
        props.headers = _ffi.swamqp_table(len(headers), ctypes.addressof(entries))
    props.flags = flags
    conn = channel.connection
    err = _ffi.swamqp_error()
    rc = _ffi.lib.swamqp_basic_publish(
        conn._native.handle, channel.id, _b(exchange, keep), _b(routing_key.encode(), keep),
        _ffi.SWAMQP_MANDATORY if mandatory else 0, ctypes.byref(props), _b(body, keep), None,
        5000, ctypes.byref(err))
    assert rc == 0, (rc, err.message)


def _bad_values(channel, routing_key, body, **kwargs):
    T, S = _ffi.SWAMQP_FIELD_TIMESTAMP, _ffi.SWAMQP_FIELD_STRING
    publish_raw(channel, routing_key, body, timestamp=MILLIS, message_id=BAD_UTF8, headers=[
        (b"ms", T, MILLIS), (b"huge", T, HUGE), (b"max", T, MAX_U64), (b"ok", T, 1000),
        (b"text", S, BAD_UTF8), (b"in-array", _ffi.SWAMQP_FIELD_ARRAY, [(T, HUGE), (T, 1000)]),
    ], **kwargs)


def _check_bad_values(msg):
    raw = swiftamqp.RawTimestamp
    assert isinstance(msg.timestamp, raw) and msg.timestamp == MILLIS
    h = msg.headers
    assert isinstance(h["ms"], raw) and h["ms"] == MILLIS
    assert isinstance(h["huge"], raw) and h["huge"] == HUGE
    assert isinstance(h["max"], raw) and h["max"] == MAX_U64
    assert h["ok"] == datetime.datetime(1970, 1, 1, 0, 16, 40, tzinfo=datetime.timezone.utc)
    assert h["text"] == BAD_UTF8  # not UTF-8: kept as bytes
    assert isinstance(h["in-array"][0], raw) and h["in-array"][0] == HUGE
    assert isinstance(h["in-array"][1], datetime.datetime)
    assert msg.message_id.encode("utf-8", "surrogateescape") == BAD_UTF8
    assert msg.decode_errors is None


async def _setup(params):
    loop = asyncio.get_running_loop()
    errors = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))
    connection, channel = await swiftamqp.connect_and_open_channel(**params)
    queue = await channel.declare_queue("", exclusive=True, durable=False)
    return connection, channel, queue, errors


def test_out_of_range_timestamps_reach_a_consumer(params):
    async def main():
        connection, channel, queue, errors = await _setup(params)
        for no_ack in (True, False):
            got = asyncio.Queue()
            consumer = await queue.consume(got.put_nowait, no_ack=no_ack)
            _bad_values(channel, queue.name, b"bad %d" % no_ack)
            publish_raw(channel, queue.name, b"good")
            first = await asyncio.wait_for(got.get(), 5)
            second = await asyncio.wait_for(got.get(), 5)
            assert (first.body, second.body) == (b"bad %d" % no_ack, b"good")
            _check_bad_values(first)
            if not no_ack:
                first.ack()
                second.ack()
            await consumer.cancel()
        assert errors == []
        # nothing was left unacknowledged or undelivered
        check = await channel.declare_queue(queue.name, passive=True)
        assert check.message_count == 0
        await connection.close()

    run(main())


def test_out_of_range_timestamps_reach_get_and_return_handler(params):
    async def main():
        connection, channel, queue, errors = await _setup(params)
        for no_ack in (True, False):
            _bad_values(channel, queue.name, b"bad")
            msg = None
            for _ in range(100):
                msg = await queue.get(no_ack=no_ack)
                if msg is not None:
                    break
                await asyncio.sleep(0.01)
            assert msg is not None and msg.body == b"bad"
            _check_bad_values(msg)
            if not no_ack:
                msg.ack()
        returned = asyncio.get_running_loop().create_future()
        channel.set_return_handler(returned.set_result)
        _bad_values(channel, "pytest.no.such.queue", b"returned", mandatory=True)
        msg = await asyncio.wait_for(returned, 5)
        assert msg.body == b"returned" and msg.reply_code == 312
        _check_bad_values(msg)
        assert errors == []
        await connection.close()

    run(main())


def test_raw_timestamps_round_trip(params):
    """A RawTimestamp is sent back as the same raw timestamp (property and field value)."""
    async def main():
        connection, channel, queue, errors = await _setup(params)
        exchange = await channel.declare_exchange("", "direct")
        raw = swiftamqp.RawTimestamp
        exchange.publish(swiftamqp.Message(b"x", timestamp=raw(MILLIS), headers={
            "t": raw(HUGE), "n": [raw(MAX_U64)]}), queue.name)
        msg = None
        while msg is None:
            msg = await queue.get(no_ack=True)
        assert msg.timestamp == MILLIS and isinstance(msg.timestamp, raw)
        assert msg.headers == {"t": HUGE, "n": [MAX_U64]}
        assert isinstance(msg.headers["t"], raw) and isinstance(msg.headers["n"][0], raw)
        # an IncomingMessage with such values can be published again as it is
        exchange.publish(msg, queue.name)
        again = None
        while again is None:
            again = await queue.get(no_ack=True)
        assert again.timestamp == MILLIS and again.headers == msg.headers
        assert errors == []
        await connection.close()

    run(main())
