"""Message (no broker needed)."""

import ctypes
import datetime

import pytest

from swiftamqp import IncomingMessage, Message, _ffi, _table


def test_dict_body_is_json():
    msg = Message({"test_body": "content"})
    assert msg.content_type == "application/json"
    assert msg.content_encoding == "utf-8"
    assert msg.body == b'{"test_body": "content"}'
    assert msg.json() == {"test_body": "content"}


def test_str_body_uses_content_encoding():
    msg = Message('{"k": "é"}', content_encoding="latin-1")
    assert msg.body == '{"k": "é"}'.encode("latin-1")
    assert msg.content_type == "application/octet-stream"
    assert msg.json() == {"k": "é"}


def test_bytes_body_and_defaults():
    msg = Message(b"\x00raw")
    assert msg.body == b"\x00raw"
    assert msg.delivery_mode is None and msg.headers is None
    assert isinstance(msg.timestamp, datetime.datetime) and msg.timestamp.microsecond == 0
    with pytest.raises(TypeError):
        Message(12)
    with pytest.raises(AttributeError):
        msg.no_such_property


def test_property_validation():
    with pytest.raises(TypeError):
        Message(b"", priority=256)
    with pytest.raises(TypeError):
        Message(b"", delivery_mode="2")
    with pytest.raises(TypeError):
        Message(b"", message_id=5)
    with pytest.raises(TypeError):
        Message(b"", correlation_id="x" * 256)
    with pytest.raises(TypeError):
        Message(b"", headers=[("a", 1)])
    with pytest.raises(TypeError):
        Message(b"", timestamp=0)


def test_equality():
    ts = datetime.datetime(2020, 1, 1)
    assert Message({"a": 1}, timestamp=ts) == Message({"a": 1}, timestamp=ts)
    assert Message({"a": 1}, timestamp=ts) != Message({"a": 2}, timestamp=ts)


def test_c_properties_are_built_once_and_rebuilt_on_change():
    msg = Message(b"body", headers={"a": 1}, priority=3, app_id="app",
                  timestamp=datetime.datetime(2020, 1, 2, 3, 4, 5))
    c1 = msg._c_message()
    assert msg._c_message() is c1
    p = c1.properties
    assert p.flags & _ffi.SWAMQP_PROP_PRIORITY and p.priority == 3
    assert p.flags & _ffi.SWAMQP_PROP_HEADERS and _table.decode_table(p.headers) == {"a": 1}
    assert not p.flags & _ffi.SWAMQP_PROP_DELIVERY_MODE
    assert _table.read_bytes(p.app_id) == b"app"
    assert p.timestamp == int(datetime.datetime(2020, 1, 2, 3, 4, 5).timestamp())
    assert _table.read_bytes(c1.body) == b"body"
    msg.headers["a"] = 2  # in place
    c2 = msg._c_message()
    assert c2 is not c1 and _table.decode_table(c2.properties.headers) == {"a": 2}
    msg.priority = 4
    c3 = msg._c_message()
    assert c3 is not c2 and c3.properties.priority == 4
    msg.body = b"other"
    assert _table.read_bytes(msg._c_message().body) == b"other"


def test_incoming_message_json_and_ack_target():
    msg = IncomingMessage(b'{"x": 1}', sender=None, delivery_tag=7, exchange_name="e",
                          routing_key="r")
    assert msg.json() == {"x": 1}
    assert (msg.delivery_tag, msg.exchange_name, msg.routing_key) == (7, "e", "r")
    assert msg.redelivered is False and msg.consumer_tag is None


def test_incoming_message_read_from_a_c_message():
    """IncomingMessage._from_address (struct-based reads) against a swamqp_message built with ctypes."""
    import ctypes
    import decimal

    keep = []
    sent = Message({"k": "v"}, headers={"i": -7, "l": [1, "x", None], "t": {"n": True},
                                        "d": decimal.Decimal("1.25")},
                   content_encoding="utf-8", delivery_mode=2, priority=7, correlation_id="c",
                   reply_to="r", expiration="100", message_id="m\u00e9", type="t", user_id="u",
                   app_id="a", timestamp=datetime.datetime(2020, 1, 2, 3, 4, 5))
    c = sent._c_message()
    m = _ffi.swamqp_message()
    m.channel = 3
    m.redelivered = True
    m.delivery_tag = 1 << 40
    m.consumer_tag = _table.bytes_struct(b"ctag", keep)
    m.exchange = _table.bytes_struct(b"ex.\xc3\xa9", keep)
    m.routing_key = _table.bytes_struct(b"rk", keep)
    m.message_count = 9
    m.reply_code = 312
    m.reply_text = _table.bytes_struct(b"NO_ROUTE", keep)
    m.properties = c.properties
    m.body = c.body
    got = IncomingMessage._from_address(ctypes.addressof(m), "channel", "ctag", returned=True)
    assert got.body == sent.body and got.json() == {"k": "v"}
    for name in Message.property_types:
        assert getattr(got, name) == getattr(sent, name), name
    assert (got.delivery_tag, got.redelivered, got.exchange_name, got.routing_key) == (
        1 << 40, True, "ex.\u00e9", "rk")
    assert (got.consumer_tag, got.message_count, got.reply_code, got.reply_text) == (
        "ctag", 9, 312, "NO_ROUTE")
    assert got.sender == "channel"
    m.properties.flags = 0
    bare = IncomingMessage._from_address(ctypes.addressof(m), None, None)
    assert all(getattr(bare, name) is None for name in Message.property_types)
    assert bare.reply_code is None


def test_an_undecodable_property_is_none_and_reported_the_message_is_kept():
    """A property the binding cannot decode (here a field kind it does not know) does not stop
    the message: it is None, decode_errors says why, the other properties and the body are kept;
    a timestamp past datetime's range is a RawTimestamp."""
    import ctypes

    from swiftamqp import RawTimestamp

    keep = []
    entries = (_ffi.swamqp_table_entry * 1)()
    entries[0].key = _table.bytes_struct(b"odd", keep)
    entries[0].value.kind = ord("Z")
    m = _ffi.swamqp_message()
    m.delivery_tag = 5
    m.properties.flags = (_ffi.SWAMQP_PROP_HEADERS | _ffi.SWAMQP_PROP_TIMESTAMP
                          | _ffi.SWAMQP_PROP_APP_ID)
    m.properties.headers = _ffi.swamqp_table(1, ctypes.addressof(entries))
    m.properties.timestamp = (1 << 64) - 1
    m.properties.app_id = _table.bytes_struct(b"app", keep)
    m.body = _table.bytes_struct(b"body", keep)
    got = IncomingMessage._from_address(ctypes.addressof(m), None, None)
    assert got.body == b"body" and got.delivery_tag == 5 and got.app_id == "app"
    assert got.headers is None
    assert set(got.decode_errors) == {"headers"}
    assert isinstance(got.decode_errors["headers"], ValueError)
    assert isinstance(got.timestamp, RawTimestamp) and got.timestamp == (1 << 64) - 1


def test_raw_timestamp():
    from swiftamqp import RawTimestamp

    assert RawTimestamp(5) == 5 and repr(RawTimestamp(5)) == "RawTimestamp(5)"
    with pytest.raises(ValueError):
        RawTimestamp(-1)
    with pytest.raises(ValueError):
        RawTimestamp(1 << 64)
    msg = Message(b"", timestamp=RawTimestamp(1 << 63), headers={"t": RawTimestamp(7)})
    p = msg._c_message().properties
    assert p.timestamp == 1 << 63
    assert _table.decode_table(p.headers) == {"t": datetime.datetime(
        1970, 1, 1, 0, 0, 7, tzinfo=datetime.timezone.utc)}
    assert _table.decode_table(Message(b"", headers={"t": RawTimestamp(1 << 63)})._c_message()
                               .properties.headers) == {"t": 1 << 63}


def test_messages_with_the_same_properties_share_their_c_properties():
    """A new Message whose properties (without headers) repeat an earlier one's reuses its
    encoded C properties; any difference, or headers, builds its own."""
    stamp = datetime.datetime(2024, 5, 6, 7, 8, 9)
    first = Message(b"one", content_type="text/plain", delivery_mode=2, timestamp=stamp)._c_message()
    second = Message(b"two", content_type="text/plain", delivery_mode=2, timestamp=stamp)._c_message()
    assert second.properties is first.properties
    assert (second.body.len, first.body.len) == (3, 3)
    assert ctypes.string_at(second.body.bytes, 3) == b"two"
    other = Message(b"three", content_type="text/plain", delivery_mode=1, timestamp=stamp)._c_message()
    assert other.properties is not first.properties and other.properties.delivery_mode == 1
    assert first.properties.delivery_mode == 2  # the shared one is never changed
    with_headers = Message(b"h", content_type="text/plain", delivery_mode=2, timestamp=stamp,
                           headers={"a": 1})._c_message()
    assert with_headers.properties is not first.properties
    assert _table.decode_table(with_headers.properties.headers) == {"a": 1}
    # the default timestamp is the current second
    before = datetime.datetime.now().replace(microsecond=0)
    stamped = Message(b"now").timestamp
    assert before <= stamped <= datetime.datetime.now() and stamped.microsecond == 0
    # long or non-str short strings are still checked
    with pytest.raises(TypeError):
        Message(b"x", correlation_id="é" * 200)
    with pytest.raises(TypeError):
        Message(b"x", content_type=5)
