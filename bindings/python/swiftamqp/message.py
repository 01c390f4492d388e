"""Message and IncomingMessage (asynqp 0.6's API).

A Message keeps its body and its swamqp_properties struct, built on first publish together with
the buffers the struct points into, so publishing the same Message again costs a single ctypes
call. Assigning any property (or the body) drops the cached struct; so does a change made in place
to the ``headers`` dict (it is compared with a snapshot taken when the struct was built).
"""

from __future__ import annotations

import copy
import ctypes
import datetime
import json
import logging
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import _ffi
from ._reader import M, compile_layout, flatten, read, read_message, string_at, text
from ._table import RawTimestamp, bytes_struct, decode_table_at, encode_table

__all__ = ["Message", "IncomingMessage", "RawTimestamp"]

log = logging.getLogger("swiftamqp")

# name -> (swamqp_properties flag, kind) in AMQP property order (cluster_id is deprecated: not set).
_SHORTSTR = "shortstr"
_OCTET = "octet"
PROPERTY_TYPES = {
    "content_type": (_ffi.SWAMQP_PROP_CONTENT_TYPE, _SHORTSTR),
    "content_encoding": (_ffi.SWAMQP_PROP_CONTENT_ENCODING, _SHORTSTR),
    "headers": (_ffi.SWAMQP_PROP_HEADERS, "table"),
    "delivery_mode": (_ffi.SWAMQP_PROP_DELIVERY_MODE, _OCTET),
    "priority": (_ffi.SWAMQP_PROP_PRIORITY, _OCTET),
    "correlation_id": (_ffi.SWAMQP_PROP_CORRELATION_ID, _SHORTSTR),
    "reply_to": (_ffi.SWAMQP_PROP_REPLY_TO, _SHORTSTR),
    "expiration": (_ffi.SWAMQP_PROP_EXPIRATION, _SHORTSTR),
    "message_id": (_ffi.SWAMQP_PROP_MESSAGE_ID, _SHORTSTR),
    "timestamp": (_ffi.SWAMQP_PROP_TIMESTAMP, "timestamp"),
    "type": (_ffi.SWAMQP_PROP_TYPE, _SHORTSTR),
    "user_id": (_ffi.SWAMQP_PROP_USER_ID, _SHORTSTR),
    "app_id": (_ffi.SWAMQP_PROP_APP_ID, _SHORTSTR),
}


def _check_property(name, value):
    """Validates and normalises a property value as asynqp's amqptypes do (TypeError if wrong)."""
    if value is None:
        return None
    kind = PROPERTY_TYPES[name][1]
    if kind == _SHORTSTR:
        if not isinstance(value, str):
            raise TypeError("%s must be a str, not %s" % (name, type(value).__name__))
        if len(value.encode("utf-8")) > 255:
            raise TypeError("%s is longer than 255 bytes (an AMQP short string)" % name)
        return value
    if kind == _OCTET:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
            raise TypeError("%s must be an int between 0 and 255, not %r" % (name, value))
        return value
    if kind == "timestamp":
        if isinstance(value, RawTimestamp):
            return value
        if not isinstance(value, datetime.datetime):
            raise TypeError("timestamp must be a datetime.datetime or a RawTimestamp, not %s"
                            % type(value).__name__)
        return value.replace(microsecond=0)  # AMQP timestamps are whole seconds
    if not isinstance(value, dict):
        raise TypeError("headers must be a dict, not %s" % type(value).__name__)
    return dict(value)


def _c_properties(props):
    """(swamqp_properties, its byref pointer, the memory it points into) for `props`."""
    keep = []
    p = _ffi.swamqp_properties()
    flags = 0
    for name, (flag, kind) in PROPERTY_TYPES.items():
        value = props.get(name)
        if value is None:
            continue
        flags |= flag
        if kind == _SHORTSTR:
            setattr(p, name, bytes_struct(value.encode("utf-8"), keep))
        elif kind == _OCTET:
            setattr(p, name, value)
        elif kind == "timestamp":
            if isinstance(value, RawTimestamp):
                p.timestamp = value
                continue
            seconds = int(value.timestamp())
            if seconds < 0:
                raise ValueError("timestamps before 1970 cannot be sent: %r" % (value,))
            p.timestamp = seconds
        else:
            table = encode_table(value)
            keep.append(table)
            p.headers = table.table
    p.flags = flags
    return p, ctypes.byref(p), keep


# Encoded properties without headers, by their values: a program's messages mostly repeat their
# properties (content type and encoding, delivery mode, the timestamp of the current second), so
# a new Message usually finds its C properties built already. Bounded; never mutated once built.
_encoded_properties: Dict[Tuple[Any, ...], Tuple[Any, Any, List[Any]]] = {}
_ENCODED_PROPERTIES_MAX = 1024
_PROPERTY_NAMES = tuple(PROPERTY_TYPES)


class _CMessage:
    """A Message's publish-ready C data: properties struct and body, with their backing memory."""

    __slots__ = ("properties", "pointer", "body", "headers_snapshot", "_keep")

    def __init__(self, body, props):
        headers = props.get("headers")
        if headers is None:
            key = tuple(map(props.get, _PROPERTY_NAMES))
            encoded = _encoded_properties.get(key)
            if encoded is None:
                if len(_encoded_properties) >= _ENCODED_PROPERTIES_MAX:
                    _encoded_properties.clear()
                encoded = _encoded_properties[key] = _c_properties(props)
            self.headers_snapshot = None
        else:
            encoded = _c_properties(props)
            self.headers_snapshot = copy.deepcopy(headers) if headers else None
        self.properties, self.pointer, keep = encoded
        self.body = bytes_struct(body, None)
        self._keep = (keep, body)


def _short(value, name):
    """A short-string property (not None), checked unless it is plainly valid."""
    if type(value) is str and len(value) <= 63:
        return value
    return _check_property(name, value)


_second = [None, None]  # the current second of time.time() and its datetime


def _now():
    """datetime.now() to the second (the default timestamp), made once per second."""
    seconds = int(time.time())
    if seconds != _second[0]:
        _second[1] = datetime.datetime.fromtimestamp(seconds)
        _second[0] = seconds
    return _second[1]


class Message:
    """An AMQP basic message.

    :param body: bytes, str (encoded with ``content_encoding``) or dict (sent as JSON, with
        ``content_type`` defaulting to ``application/json``).
    :param dict headers: message headers (a field table: see the package docs for the types).
    :param str content_type: defaults to ``application/json`` for a dict body, else
        ``application/octet-stream``.
    :param str content_encoding: defaults to ``utf-8``.
    :param int delivery_mode: 1 transient, 2 persistent.
    :param int priority: 0..9 for RabbitMQ priority queues.
    :param datetime.datetime timestamp: defaults to ``datetime.now()`` (whole seconds); a
        :class:`RawTimestamp` is sent as that raw 64-bit value.

    ``correlation_id``, ``reply_to``, ``expiration``, ``message_id``, ``type``, ``user_id``,
    ``app_id`` are strings. Every property is also an attribute.
    """

    property_types = PROPERTY_TYPES
    # The properties are attributes (descriptors, set below the class) over one dict; a Message
    # takes other attributes too, as asynqp's does.
    __slots__ = ("_properties", "_body", "_c", "__dict__", "__weakref__")

    def __init__(self, body: Union[bytes, bytearray, memoryview, str, Dict[str, Any]], *,
                 headers: Optional[Dict[str, Any]] = None, content_type: Optional[str] = None,
                 content_encoding: Optional[str] = None, delivery_mode: Optional[int] = None,
                 priority: Optional[int] = None, correlation_id: Optional[str] = None,
                 reply_to: Optional[str] = None, expiration: Optional[str] = None,
                 message_id: Optional[str] = None, timestamp: Optional[datetime.datetime] = None,
                 type: Optional[str] = None, user_id: Optional[str] = None,
                 app_id: Optional[str] = None) -> None:
        if content_encoding is None:
            content_encoding = "utf-8"
        if isinstance(body, dict):
            body = json.dumps(body)
            if content_type is None:
                content_type = "application/json"
        elif content_type is None:
            content_type = "application/octet-stream"
        if isinstance(body, str):
            body = body.encode(content_encoding)
        elif isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        elif not isinstance(body, bytes):
            raise TypeError("body must be bytes, str or dict, not %s" % builtins_type(body).__name__)
        # Values that need no check (most) are taken as they are: a str of at most 63
        # characters is at most 252 UTF-8 bytes, a valid short string.
        self._properties = {
            "content_type": content_type if builtins_type(content_type) is str and len(content_type) <= 63
            else _check_property("content_type", content_type),
            "content_encoding": content_encoding if builtins_type(content_encoding) is str and len(content_encoding) <= 63
            else _check_property("content_encoding", content_encoding),
            "headers": None if headers is None else _check_property("headers", headers),
            "delivery_mode": None if delivery_mode is None else _check_property("delivery_mode", delivery_mode),
            "priority": None if priority is None else _check_property("priority", priority),
            "correlation_id": correlation_id if correlation_id is None else _short(correlation_id, "correlation_id"),
            "reply_to": reply_to if reply_to is None else _short(reply_to, "reply_to"),
            "expiration": expiration if expiration is None else _short(expiration, "expiration"),
            "message_id": message_id if message_id is None else _short(message_id, "message_id"),
            "timestamp": _now() if timestamp is None else _check_property("timestamp", timestamp),
            "type": type if type is None else _short(type, "type"),
            "user_id": user_id if user_id is None else _short(user_id, "user_id"),
            "app_id": app_id if app_id is None else _short(app_id, "app_id"),
        }
        self._body = body
        self._c = None

    @property
    def body(self) -> bytes:
        """The message body (bytes; a bytearray or memoryview assigned is copied to bytes)."""
        return self._body

    @body.setter
    def body(self, value: Union[bytes, bytearray, memoryview]) -> None:
        if isinstance(value, (bytearray, memoryview)):
            value = bytes(value)
        if not isinstance(value, bytes):
            raise TypeError("body must be bytes")
        self._body = value
        self._c = None

    def __eq__(self, other):
        if not isinstance(other, Message):
            return NotImplemented
        return self.body == other.body and self._properties == other._properties

    # Unhashable on purpose (mutable, compared by value); mypy has no spelling of this without
    # an ignore (None is not a Callable[[], int] like object.__hash__).
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self):
        shown = ", ".join("%s=%r" % (k, v) for k, v in self._properties.items()
                          if v is not None and k != "timestamp")
        body = self.body if len(self.body) <= 64 else self.body[:64] + b"..."
        return "<%s body=%r %s>" % (builtins_type(self).__name__, body, shown)

    def json(self) -> Any:
        """The body parsed as JSON (decoded with ``content_encoding``, default utf-8)."""
        return json.loads(self.body.decode(self._properties.get("content_encoding") or "utf-8"))

    def _c_message(self):
        """The cached publish-ready C data, (re)built when missing or when headers changed."""
        c = self._c
        if c is not None:
            snapshot = c.headers_snapshot
            if snapshot is None or snapshot == self._properties.get("headers"):
                return c
        c = self._c = _CMessage(self._body, self._properties)
        return c


class _Property:
    """A property of a Message as an attribute: read from and (validated) written to its
    properties dict; a write drops the cached C data."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __get__(self, message, owner=None):
        if message is None:
            return self
        return message._properties[self.name]

    def __set__(self, message, value):
        message._properties[self.name] = _check_property(self.name, value)
        message._c = None


for _name in PROPERTY_TYPES:
    setattr(Message, _name, _Property(_name))
del _name


builtins_type = type  # `type` is a parameter name above


def _decode_failed(errors, name, exc, delivery_tag):
    if errors is None:
        errors = {}
    errors[name] = exc
    log.warning("delivery %d: property %s could not be decoded (%r); it is None, see "
                "IncomingMessage.decode_errors", delivery_tag, name, exc)
    return errors


# How each property of a received message is read from flattened fields: those of a
# swamqp_message (the "properties." fields) or of a swamqp_properties alone. A reader is called
# with the flattened fields only; its offsets are bound as defaults when it is made.
_Reader = Callable[[Sequence[Any]], Any]
_PropertyReaders = Tuple[Tuple[int, str, _Reader], ...]  # (flag, name, reader) per property


def _property_readers(index: Dict[str, int], prefix: str) -> _PropertyReaders:
    cached = {"content_type", "content_encoding", "reply_to", "type", "user_id", "app_id"}
    readers: List[Tuple[int, str, _Reader]] = []
    for name, (flag, kind) in PROPERTY_TYPES.items():
        key = prefix + name
        reader: _Reader
        if kind == _SHORTSTR:
            ptr, length = index[key + ".bytes"], index[key + ".len"]
            if name in cached:
                def read_cached_text(f: Sequence[Any], ptr: int = ptr, length: int = length) -> str:
                    return text(read(f[ptr], f[length]))
                reader = read_cached_text
            else:
                def read_text(f: Sequence[Any], ptr: int = ptr, length: int = length) -> str:
                    return read(f[ptr], f[length]).decode("utf-8", "surrogateescape")
                reader = read_text
        elif kind == _OCTET:
            def read_octet(f: Sequence[Any], i: int = index[key]) -> Any:
                return f[i]
            reader = read_octet
        elif kind == "timestamp":
            def read_timestamp(f: Sequence[Any], i: int = index[key]) -> Any:
                seconds = f[i]
                try:
                    return datetime.datetime.fromtimestamp(seconds)
                except (OverflowError, OSError, ValueError):  # past datetime's range
                    return RawTimestamp(seconds)
            reader = read_timestamp
        else:
            def read_table(f: Sequence[Any], count: int = index[key + ".count"],
                           entries: int = index[key + ".entries"]) -> Any:
                return decode_table_at(f[count], f[entries])
            reader = read_table
        readers.append((flag, name, reader))
    return tuple(readers)


_PROPERTY_READERS = _property_readers(M, "properties.")
_PROPERTIES_SIZE = ctypes.sizeof(_ffi.swamqp_properties)
_PROPERTIES_LAYOUT, _P = compile_layout(flatten(_ffi.swamqp_properties), _PROPERTIES_SIZE)
_ENCODED_READERS = _property_readers(_P, "")
_ENCODED_FLAGS = _P["flags"]
_FLAGS = M["properties.flags"]
_BODY, _BODY_LEN = M["body.bytes"], M["body.len"]
_EXCHANGE, _EXCHANGE_LEN = M["exchange.bytes"], M["exchange.len"]
_ROUTING_KEY, _ROUTING_KEY_LEN = M["routing_key.bytes"], M["routing_key.len"]
_REPLY_TEXT, _REPLY_TEXT_LEN = M["reply_text.bytes"], M["reply_text.len"]
_DELIVERY_TAG, _REDELIVERED = M["delivery_tag"], M["redelivered"]
_MESSAGE_COUNT, _REPLY_CODE = M["message_count"], M["reply_code"]
_NO_PROPERTIES = dict.fromkeys(PROPERTY_TYPES)
# (property flags, readers) -> ((name, reader), ...) of the properties present
_readers_for: Dict[Tuple[int, _PropertyReaders], Tuple[Tuple[str, _Reader], ...]] = {}


def _read_properties(flags, f, all_readers, delivery_tag):
    """(properties dict, decode_errors) of the properties `flags` names, read from the flattened
    fields `f` with `all_readers`; a property that fails to decode is None and its error kept."""
    props = _NO_PROPERTIES.copy()
    errors = None
    if flags:
        readers = _readers_for.get((flags, all_readers))
        if readers is None:
            readers = _readers_for[flags, all_readers] = tuple(
                (name, reader) for flag, name, reader in all_readers if flags & flag)
        for name, reader in readers:
            try:
                props[name] = reader(f)
            except Exception as exc:  # never lose the message over one property
                errors = _decode_failed(errors, name, exc, delivery_tag)
    return props, errors


def _decode_encoded_properties(encoded, delivery_tag):
    """(properties dict, decode_errors) of properties as swamqp_properties_encode writes them."""
    decoded = ctypes.POINTER(_ffi.swamqp_properties)()
    rc = _ffi.lib.swamqp_properties_decode(encoded, len(encoded), ctypes.byref(decoded), None)
    if rc:
        exc = ValueError("the properties could not be decoded (%s)" % _ffi.status_name(rc))
        return _NO_PROPERTIES.copy(), _decode_failed(None, "properties", exc, delivery_tag)
    address = ctypes.addressof(decoded.contents)
    try:
        f = _PROPERTIES_LAYOUT.unpack(string_at(address, _PROPERTIES_SIZE))
        return _read_properties(f[_ENCODED_FLAGS], f, _ENCODED_READERS, delivery_tag)
    finally:
        _ffi.lib.swamqp_decoded_free(address)


class IncomingMessage(Message):
    """A message received from the broker: by a consumer, :meth:`Queue.get`, or returned.

    Properties the sender did not set are None. Attributes: ``sender`` (the Channel),
    ``delivery_tag``, ``exchange_name``, ``routing_key``, ``redelivered``, ``consumer_tag``
    (None for basic.get and returns), ``message_count`` (basic.get: messages left in the
    queue), ``reply_code`` and ``reply_text`` (returned messages: why, e.g. 312 NO_ROUTE).

    A received message is always handed over, whatever its properties hold: a timestamp past
    ``datetime``'s range is a :class:`RawTimestamp` (the raw value), strings that are not UTF-8
    keep their bytes (short-string properties as surrogate escapes, ``S`` field values as
    bytes). Should a property still fail to decode, it is None and ``decode_errors`` maps its
    name to the exception (otherwise ``decode_errors`` is None); a warning is logged.
    """

    __slots__ = ("sender", "delivery_tag", "exchange_name", "routing_key", "redelivered",
                 "consumer_tag", "message_count", "reply_code", "reply_text", "decode_errors",
                 "_encoded_properties")

    def __init__(self, body, *, sender=None, delivery_tag=0, exchange_name="", routing_key="",
                 redelivered=False, consumer_tag=None, message_count=None, **properties):
        super().__init__(body, **properties)
        self.sender = sender
        self.delivery_tag = delivery_tag
        self.exchange_name = exchange_name
        self.routing_key = routing_key
        self.redelivered = redelivered
        self.consumer_tag = consumer_tag
        self.message_count = message_count
        self.reply_code = None
        self.reply_text = None
        self.decode_errors = None

    def __getattr__(self, name):
        # Only for attributes not set yet: the properties of a consumed message are decoded here,
        # on first use, from the encoded copy taken when it was received.
        if name == "_properties" or name == "decode_errors":
            self._decode_properties()
            return object.__getattribute__(self, name)
        raise AttributeError("%r object has no attribute %r" % (builtins_type(self).__name__, name))

    def _decode_properties(self):
        encoded = self._encoded_properties
        self._encoded_properties = None
        if encoded is None:
            self._properties, self.decode_errors = _NO_PROPERTIES.copy(), None
        else:
            self._properties, self.decode_errors = _decode_encoded_properties(encoded, self.delivery_tag)

    @classmethod
    def _from_address(cls, address, channel, consumer_tag, *, returned=False):
        """Copies the swamqp_message at `address` into an IncomingMessage bound to `channel`."""
        return cls._from_fields(read_message(address), channel, consumer_tag, returned=returned)

    @classmethod
    def _from_fields(cls, f, channel, consumer_tag, *, returned=False):
        """An IncomingMessage from the flattened fields of a swamqp_message (see _reader)."""
        self = cls.__new__(cls)
        self._properties, self.decode_errors = _read_properties(f[_FLAGS], f, _PROPERTY_READERS, f[_DELIVERY_TAG])
        self._body = read(f[_BODY], f[_BODY_LEN])
        self._c = None
        self.sender = channel
        self.delivery_tag = f[_DELIVERY_TAG]
        self.exchange_name = text(read(f[_EXCHANGE], f[_EXCHANGE_LEN]))
        self.routing_key = text(read(f[_ROUTING_KEY], f[_ROUTING_KEY_LEN]))
        self.redelivered = f[_REDELIVERED]
        self.consumer_tag = consumer_tag
        self.message_count = f[_MESSAGE_COUNT]
        if returned:
            self.reply_code = f[_REPLY_CODE]
            self.reply_text = read(f[_REPLY_TEXT], f[_REPLY_TEXT_LEN]).decode("utf-8", "replace")
        else:
            self.reply_code = self.reply_text = None
        return self

    @classmethod
    def _from_packed(cls, record, blob, start, channel, consumer_tag):
        """An IncomingMessage from a swamqp_deliveries_pack record (`record`: its fixed fields,
        see _reader.DELIVERY_RECORD; its strings in `blob` from `start`, the consumer tag
        first). Its properties, when it has any, stay encoded until first used."""
        self = cls.__new__(cls)
        exchange = start + record[7]
        routing_key = exchange + record[8]
        body = routing_key + record[9] + record[10]
        properties = body + record[12]
        self._encoded_properties = blob[properties:properties + record[11]] if record[4] else None
        self._body = blob[body:properties]
        self._c = None
        self.sender = channel
        self.delivery_tag = record[2]
        self.exchange_name = text(blob[exchange:routing_key])
        self.routing_key = text(blob[routing_key:routing_key + record[9]])
        self.redelivered = bool(record[6])
        self.consumer_tag = consumer_tag
        self.message_count = record[3]
        self.reply_code = self.reply_text = None
        return self

    def _check_ackable(self):
        if self.reply_code is not None:
            raise ValueError("a returned message has no delivery to acknowledge")
        if self.sender is None:
            raise ValueError("this message was not received from a channel")

    def ack(self, *, multiple: bool = False) -> None:
        """Acknowledges the message (with ``multiple``: every unacknowledged message of the
        channel up to this one). Queued for sending at once; never waits."""
        self._check_ackable()
        self.sender._basic_ack(self.delivery_tag, multiple)

    def reject(self, *, requeue: bool = True) -> None:
        """Rejects the message: the broker requeues it (``requeue``) or drops or dead-letters it.
        Queued for sending at once; never waits."""
        self._check_ackable()
        self.sender._basic_reject(self.delivery_tag, requeue)

    def nack(self, *, multiple: bool = False, requeue: bool = True) -> None:
        """basic.nack: :meth:`reject` that can cover every unacknowledged message up to this one
        (``multiple``). Queued for sending at once; never waits."""
        self._check_ackable()
        self.sender._basic_nack(self.delivery_tag, multiple, requeue)
