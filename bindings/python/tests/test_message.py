"""Message (no broker needed)."""

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
