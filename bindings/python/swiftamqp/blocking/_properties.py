"""swiftamqp.blocking's BasicProperties as swamqp_basic_publish takes them (encoded once per
object while unchanged), and received messages read from the library's flattened fields."""

from __future__ import annotations

import ctypes
import datetime
from typing import Any, Callable, Dict, List, Tuple

from .. import _ffi
from .. import _reader
from .._reader import DELIVERY_RECORD, M, read_message, text
from .._table import decode_table_at, encode_table
from ._native import _address, _byref, _Bytes
from ._spec import _PROPERTY_NAMES, Basic, BasicProperties, DeliveryMode, ReturnedMessage


_SHORT = {"content_type", "content_encoding", "correlation_id", "reply_to", "expiration",
          "message_id", "type", "user_id", "app_id", "cluster_id"}
_PROP_FLAGS = {name: getattr(_ffi, "SWAMQP_PROP_" + name.upper()) for name in _PROPERTY_NAMES}


class _CProperties:
    """A BasicProperties encoded for swamqp_basic_publish, with the memory it points into."""

    __slots__ = ("struct", "pointer", "snapshot", "_keep")

    def __init__(self, props: BasicProperties, snapshot: Tuple[Any, ...]) -> None:
        keep: List[Any] = []
        p = _ffi.swamqp_properties()
        flags = 0
        for name in _PROPERTY_NAMES:
            value = getattr(props, name)
            if value is None:
                continue
            flags |= _PROP_FLAGS[name]
            if name in _SHORT:
                if isinstance(value, str):
                    raw = value.encode("utf-8")
                elif isinstance(value, (bytes, bytearray)):
                    raw = bytes(value)
                else:
                    raise TypeError("BasicProperties.%s must be a str, not %s" % (name, type(value).__name__))
                if len(raw) > 255:
                    raise ValueError("BasicProperties.%s is longer than 255 bytes" % name)
                keep.append(raw)
                setattr(p, name, _Bytes(_address(raw) if raw else None, len(raw)))
            elif name in ("delivery_mode", "priority"):
                if isinstance(value, DeliveryMode):
                    value = value.value
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
                    raise ValueError("BasicProperties.%s must be an int 0..255, not %r" % (name, value))
                setattr(p, name, value)
            elif name == "timestamp":
                if isinstance(value, datetime.datetime):
                    value = int(value.timestamp())
                elif isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError("BasicProperties.timestamp must be an int (seconds since the epoch)")
                value = int(value)
                if value < 0:
                    raise ValueError("BasicProperties.timestamp must not be negative")
                p.timestamp = value
            else:  # headers
                if not isinstance(value, dict):
                    raise TypeError("BasicProperties.headers must be a dict, not %s" % type(value).__name__)
                table = encode_table(value)
                keep.append(table)
                p.headers = table.table
        p.flags = flags
        self.struct = p
        self.pointer = _byref(p)
        self.snapshot = snapshot
        self._keep = keep


def _snapshot(props: BasicProperties) -> Tuple[Any, ...]:
    d = vars(props)
    headers = d.get("headers")
    return (tuple(d.items()), repr(headers) if headers else None)


def _c_properties(props: Any) -> Any:
    """The swamqp_properties pointer for `props` (None: no properties). The encoding is cached
    on the object and reused while its attributes are unchanged."""
    if props is None:
        return None
    if not isinstance(props, BasicProperties):
        raise TypeError("properties must be a BasicProperties, not %s" % type(props).__name__)
    snap = _snapshot(props)
    cached = props.__dict__.get("_c")
    if cached is not None and cached.snapshot == snap:
        return cached.pointer
    c = _CProperties(props, snap)
    props.__dict__["_c"] = c
    return c.pointer


# Reading received messages (flattened swamqp_message fields, see _reader)
_F_FLAGS = M["properties.flags"]
_F_BODY, _F_BODY_LEN = M["body.bytes"], M["body.len"]
_F_EXCHANGE, _F_EXCHANGE_LEN = M["exchange.bytes"], M["exchange.len"]
_F_RKEY, _F_RKEY_LEN = M["routing_key.bytes"], M["routing_key.len"]
_F_CTAG, _F_CTAG_LEN = M["consumer_tag.bytes"], M["consumer_tag.len"]
_F_REPLY_TEXT, _F_REPLY_TEXT_LEN = M["reply_text.bytes"], M["reply_text.len"]
_F_DELIVERY_TAG, _F_REDELIVERED = M["delivery_tag"], M["redelivered"]
_F_MESSAGE_COUNT, _F_REPLY_CODE = M["message_count"], M["reply_code"]


def _short_reader(p: int, n: int) -> Callable[[Tuple[Any, ...]], Any]:
    return lambda f: text(_bytes_at(f[p], f[n]))


def _table_reader(c: int, e: int) -> Callable[[Tuple[Any, ...]], Any]:
    return lambda f: decode_table_at(f[c], f[e])


def _field_reader(i: int) -> Callable[[Tuple[Any, ...]], Any]:
    return lambda f: f[i]


def _property_readers() -> List[Tuple[int, str, Callable[[Tuple[Any, ...]], Any]]]:
    """(flag, name, read(fields)) per property, reading the flattened swamqp_message fields."""
    out: List[Tuple[int, str, Callable[[Tuple[Any, ...]], Any]]] = []
    for name in _PROPERTY_NAMES:
        key = "properties." + name
        if name in _SHORT:
            reader = _short_reader(M[key + ".bytes"], M[key + ".len"])
        elif name == "headers":
            reader = _table_reader(M[key + ".count"], M[key + ".entries"])
        else:
            reader = _field_reader(M[key])
        out.append((_PROP_FLAGS[name], name, reader))
    return out


_PROPERTY_READERS = _property_readers()
_string_at_raw = ctypes._string_at  # type: ignore[attr-defined] # the C function behind string_at
_reader_texts = _reader._texts      # text()'s cache of decoded names


_fields_at = read_message         # the flattened fields of the swamqp_message at an address
_record_at = DELIVERY_RECORD.unpack_from
_PACK_BYTES = 1 << 18             # a batch's deliveries copied at once (swamqp_deliveries_pack)
_readers_by_flags: Dict[int, Tuple[Tuple[str, Callable[[Tuple[Any, ...]], Any]], ...]] = {}
_new = object.__new__


def _properties_from(f: Tuple[Any, ...]) -> BasicProperties:
    props = _new(BasicProperties)
    flags = f[_F_FLAGS]
    if flags:
        readers = _readers_by_flags.get(flags)
        if readers is None:
            readers = _readers_by_flags[flags] = tuple(
                (name, reader) for flag, name, reader in _PROPERTY_READERS if flags & flag)
        d = props.__dict__
        for name, reader in readers:
            d[name] = reader(f)
    return props


def _bytes_at(p: int, n: int) -> bytes:
    return _string_at_raw(p, n) if p and n else b""


def _returned_from(f: Tuple[Any, ...]) -> ReturnedMessage:
    method = Basic.Return(f[_F_REPLY_CODE], _bytes_at(f[_F_REPLY_TEXT], f[_F_REPLY_TEXT_LEN]).decode("utf-8", "replace"),
                          text(_bytes_at(f[_F_EXCHANGE], f[_F_EXCHANGE_LEN])), text(_bytes_at(f[_F_RKEY], f[_F_RKEY_LEN])))
    return ReturnedMessage(method, _properties_from(f), _bytes_at(f[_F_BODY], f[_F_BODY_LEN]))
