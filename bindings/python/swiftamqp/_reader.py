"""Fast reads of library-owned event and message structs.

Building ctypes objects field by field costs a few microseconds per received message. Here a
message struct is copied with one ``string_at`` and unpacked with one precompiled ``struct``
format; the formats are derived from the ctypes declarations in ``_ffi`` (so they follow the
header through one place), and byte strings are then copied with one ``string_at`` each.
"""

import ctypes
import struct
from typing import Any, Callable, Dict

from . import _ffi
from ._table import decode_table_at

__all__ = ["EVENT_HEAD", "EVENT_CONFIRM", "EVENT_SIZE", "DELIVERY_RECORD", "read_message", "read", "text", "M",
           "flatten", "compile_layout", "string_at"]

# The C function behind ctypes.string_at, without its Python wrapper (one call less per read);
# private, so absent from the ctypes stubs: fetched with getattr and typed here.
_string_at: Callable[[Any, int], bytes] = getattr(ctypes, "_string_at")
string_at = _string_at

_CODES = {
    ctypes.c_bool: "?", ctypes.c_uint8: "B", ctypes.c_uint16: "H", ctypes.c_int32: "i",
    ctypes.c_uint32: "I", ctypes.c_uint64: "Q", ctypes.c_int: "i",
}
_CODES[ctypes.c_void_p] = "Q" if ctypes.sizeof(ctypes.c_void_p) == 8 else "I"
_CODES[ctypes.c_size_t] = "Q" if ctypes.sizeof(ctypes.c_size_t) == 8 else "I"


def flatten(ctype, base=0, prefix=""):
    out = []
    for field in ctype._fields_:
        name, kind = field[0], field[1]
        offset = base + getattr(ctype, name).offset
        if isinstance(kind, type) and issubclass(kind, ctypes.Structure):
            out += flatten(kind, offset, prefix + name + ".")
        else:
            out.append((offset, prefix + name, _CODES[kind]))
    return out


def compile_layout(fields, size=None):
    """A struct.Struct reading `fields` ((offset, name, code) triples) at their offsets, and a
    name -> tuple index map."""
    fmt, pos, names = "=", 0, []
    for offset, name, code in sorted(fields):
        if offset > pos:
            fmt += "%dx" % (offset - pos)
        fmt += code
        pos = offset + struct.calcsize("=" + code)
        names.append(name)
    if size is not None and size > pos:
        fmt += "%dx" % (size - pos)
    compiled = struct.Struct(fmt)
    if size is not None and compiled.size != size:
        raise AssertionError("struct layout mismatch")
    return compiled, {name: i for i, name in enumerate(names)}


EVENT_SIZE = ctypes.sizeof(_ffi.swamqp_event)
#: (type, channel, message) of an event, unpacked from the events array's buffer
EVENT_HEAD, _event_index = compile_layout(
    [f for f in flatten(_ffi.swamqp_event) if f[1] in ("type", "channel", "message")])
assert list(_event_index) == ["type", "channel", "message"]

#: (status, flags, delivery_tag) of an event: a publisher confirm's fields
EVENT_CONFIRM, _confirm_index = compile_layout(
    [f for f in flatten(_ffi.swamqp_event) if f[1] in ("status", "flags", "delivery_tag")])
assert list(_confirm_index) == ["status", "flags", "delivery_tag"]

#: The fixed part of a swamqp_deliveries_pack record: size, event index, delivery_tag,
#: message_count, properties flags, reply_code, redelivered, then the lengths of consumer_tag,
#: exchange, routing_key, reply_text, the encoded properties and the body (the header gives the
#: offsets: the strings, then the body, then the properties).
DELIVERY_RECORD = struct.Struct("=IIQIIHBxIIIIIQ")
assert DELIVERY_RECORD.size == 56

_MESSAGE_SIZE = ctypes.sizeof(_ffi.swamqp_message)
_MESSAGE, M = compile_layout(flatten(_ffi.swamqp_message), _MESSAGE_SIZE)
_unpack_message = _MESSAGE.unpack


def read_message(address):
    """The flattened fields of the swamqp_message at `address` (index them with ``M[name]``)."""
    return _unpack_message(_string_at(address, _MESSAGE_SIZE))


def read(pointer, length):
    """A copy of `length` bytes at `pointer`."""
    return _string_at(pointer, length) if length else b""


_texts: Dict[bytes, str] = {}


def text(raw):
    """`raw` decoded as UTF-8 (undecodable bytes kept as surrogates); names repeat from message to
    message (exchanges, routing keys, content types), so the decodings are cached."""
    value = _texts.get(raw)
    if value is None:
        value = raw.decode("utf-8", "surrogateescape")
        if len(_texts) >= 4096:
            _texts.clear()
        _texts[raw] = value
    return value


def headers(fields):
    return decode_table_at(fields[M["properties.headers.count"]],
                           fields[M["properties.headers.entries"]])
