"""Python values <-> swamqp_table / swamqp_field_value.

Encoding (Python -> C):

=====================  ======  ==========================================
Python                 kind    note
=====================  ======  ==========================================
bool                   ``t``
int                    ``I``   when it fits int32
int                    ``l``   when it fits int64, else ValueError
float                  ``d``
str                    ``S``   UTF-8
bytes, bytearray, mv   ``x``
list, tuple            ``A``
dict                   ``F``   keys: str, at most 128 bytes of UTF-8
None                   ``V``
decimal.Decimal        ``D``   scale 0..255, unscaled value 0..2**32-1
datetime.datetime      ``T``   whole seconds since the epoch (naive = local time)
RawTimestamp           ``T``   the raw 64-bit value, as it is
=====================  ======  ==========================================

Decoding (C -> Python) accepts every kind of the header: the integer kinds give int, ``f``/``d``
float, ``S`` str (bytes when it is not valid UTF-8), ``x`` bytes, ``T`` an aware UTC datetime
(a :class:`RawTimestamp` when the value is past datetime's range, e.g. milliseconds), ``D``
Decimal, ``A`` list, ``F`` dict, ``V`` None. Decoding never fails on a value the library hands
over; an unknown kind raises ValueError (the caller decides what that costs, see message.py).

An encoded table is a :class:`CTable`: it owns every ctypes array and bytes object the C structs
point into, so keep it alive for as long as the library may read the table (one call).
"""

import ctypes
import datetime
import decimal
import struct
from typing import Any, Callable

from . import _ffi
from ._ffi import swamqp_bytes, swamqp_field_value, swamqp_table, swamqp_table_entry

__all__ = ["RawTimestamp", "CTable", "encode_table", "decode_table", "decode_table_at", "decode_value", "bytes_struct",
           "read_bytes"]

_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_KEY = 128
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

_string_at: Callable[[Any, int], bytes] = ctypes.string_at  # replaced by ctypes._string_at below


class RawTimestamp(int):
    """An AMQP timestamp (the ``timestamp`` property or a ``T`` field value) that does not fit a
    ``datetime.datetime`` (years 1..9999): the unsigned 64-bit value exactly as it was sent, e.g.
    milliseconds since the epoch from a producer that wrote those. It is an ``int``; published
    again (as a property or in a field table) it is sent back unchanged as a timestamp.
    """

    __slots__ = ()

    def __new__(cls, value):
        value = int.__new__(cls, value)
        if not 0 <= value <= 0xFFFFFFFFFFFFFFFF:
            raise ValueError("an AMQP timestamp is an unsigned 64-bit value, not %d" % value)
        return value

    def __repr__(self):
        return "RawTimestamp(%d)" % self


def _bytes_offset():
    """Where a bytes object's data starts relative to id() (CPython: after the object header),
    checked against ctypes on two objects; None where id() is not an address."""
    probes = [b"swiftamqp", b"x" * 100]
    offsets = {ctypes.cast(p, ctypes.c_void_p).value - id(p) for p in probes}
    offset = offsets.pop() if len(offsets) == 1 else None
    return offset if offset is not None and 0 < offset < 256 else None


_BYTES_OFFSET = _bytes_offset()


def bytes_struct(data, keep):
    """A swamqp_bytes pointing at `data` (bytes, not copied); appends `data` to `keep` (None: the
    caller keeps it alive itself)."""
    if not data:
        return swamqp_bytes(None, 0)
    if keep is not None:
        keep.append(data)
    if _BYTES_OFFSET is not None and type(data) is bytes:
        return swamqp_bytes(id(data) + _BYTES_OFFSET, len(data))
    return swamqp_bytes(ctypes.cast(data, ctypes.c_void_p).value, len(data))


def read_bytes(b):
    """Copies a swamqp_bytes into a Python bytes object."""
    n = b.len
    if not n:
        return b""
    return _string_at(b.bytes, n)


def _utf8(text, what):
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError("%s must be str, not %s" % (what, type(text).__name__))


class CTable:
    """An encoded field table: ``table`` (a swamqp_table) plus the memory it points into."""

    __slots__ = ("table", "_keep")

    def __init__(self, mapping):
        self._keep = []
        self.table = _encode_table(mapping, self._keep)

    @property
    def pointer(self):
        """``ctypes.byref(self.table)``, for a ``const swamqp_table *`` argument."""
        return ctypes.byref(self.table)


def encode_table(mapping):
    """Encodes a dict into a :class:`CTable` (None or {} give an empty table)."""
    return CTable(mapping or {})


def _encode_table(mapping, keep):
    if not isinstance(mapping, dict):
        raise TypeError("a field table must be a dict, not %s" % type(mapping).__name__)
    count = len(mapping)
    if not count:
        return swamqp_table(0, None)
    entries = (swamqp_table_entry * count)()
    keep.append(entries)
    for i, (key, value) in enumerate(mapping.items()):
        if not isinstance(key, str):
            raise TypeError("field table keys must be str, not %r" % (key,))
        raw = key.encode("utf-8")
        if len(raw) > _MAX_KEY:
            raise ValueError("field table key longer than %d bytes: %r" % (_MAX_KEY, key))
        entry = entries[i]
        entry.key = bytes_struct(raw, keep)
        _encode_value(value, entry.value, keep)
    return swamqp_table(count, ctypes.addressof(entries))


def _encode_value(value, out, keep):
    """Fills the swamqp_field_value `out` from `value`."""
    v = out.value
    if value is None:
        out.kind = _ffi.SWAMQP_FIELD_VOID
    elif isinstance(value, bool):
        out.kind = _ffi.SWAMQP_FIELD_BOOL
        v.boolean = value
    elif isinstance(value, RawTimestamp):
        out.kind = _ffi.SWAMQP_FIELD_TIMESTAMP
        v.u64 = value
    elif isinstance(value, int):
        if _INT32_MIN <= value <= _INT32_MAX:
            out.kind = _ffi.SWAMQP_FIELD_I32
            v.i32 = value
        elif _INT64_MIN <= value <= _INT64_MAX:
            out.kind = _ffi.SWAMQP_FIELD_I64
            v.i64 = value
        else:
            raise ValueError("integer %d does not fit a signed 64-bit field value" % value)
    elif isinstance(value, float):
        out.kind = _ffi.SWAMQP_FIELD_F64
        v.f64 = value
    elif isinstance(value, str):
        out.kind = _ffi.SWAMQP_FIELD_STRING
        v.bytes = bytes_struct(value.encode("utf-8"), keep)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        out.kind = _ffi.SWAMQP_FIELD_BYTES
        v.bytes = bytes_struct(bytes(value), keep)
    elif isinstance(value, (list, tuple)):
        out.kind = _ffi.SWAMQP_FIELD_ARRAY
        n = len(value)
        if n:
            values = (swamqp_field_value * n)()
            keep.append(values)
            for i, item in enumerate(value):
                _encode_value(item, values[i], keep)
            v.array.count = n
            v.array.values = ctypes.addressof(values)
    elif isinstance(value, dict):
        out.kind = _ffi.SWAMQP_FIELD_TABLE
        v.table = _encode_table(value, keep)
    elif isinstance(value, decimal.Decimal):
        out.kind = _ffi.SWAMQP_FIELD_DECIMAL
        scale, unscaled = _decimal_parts(value)
        v.decimal.scale = scale
        v.decimal.value = unscaled
    elif isinstance(value, datetime.datetime):
        out.kind = _ffi.SWAMQP_FIELD_TIMESTAMP
        seconds = int(value.timestamp())
        if seconds < 0:
            raise ValueError("timestamps before 1970 cannot be sent: %r" % (value,))
        v.u64 = seconds
    else:
        raise TypeError("cannot put a %s into an AMQP field table" % type(value).__name__)


def _decimal_parts(value):
    if not value.is_finite():
        raise ValueError("AMQP decimals must be finite: %r" % (value,))
    sign, digits, exponent = value.as_tuple()
    unscaled = int("".join(map(str, digits)) or "0")
    if exponent > 0:
        unscaled *= 10 ** exponent
        exponent = 0
    scale = -exponent
    if sign and unscaled:
        raise ValueError("AMQP decimals are unsigned here (swamqp_decimal.value is uint32): %r" % (value,))
    if scale > 255 or unscaled > 0xFFFFFFFF:
        raise ValueError("decimal out of AMQP range (scale <= 255, value < 2**32): %r" % (value,))
    return scale, unscaled


# ------------------------------------------------------------------------------------------
# Decoding
# ------------------------------------------------------------------------------------------
def decode_table(table):
    """A swamqp_table (struct) -> dict, copying everything."""
    return decode_table_at(table.count, table.entries)


def decode_table_at(count, entries_address):
    """The table of `count` swamqp_table_entry at `entries_address` -> dict, copying everything.

    The entries are copied with one ``string_at`` and unpacked with ``struct`` (much cheaper than
    a ctypes object per entry and value)."""
    if not count or not entries_address:
        return {}
    raw = _string_at(entries_address, count * _ENTRY_SIZE)
    out = {}
    for i in range(count):
        offset = i * _ENTRY_SIZE
        key_ptr, key_len = _unpack_bytes(raw, offset)
        key = _string_at(key_ptr, key_len).decode("utf-8", "surrogateescape") if key_len else ""
        out[key] = _decode_raw(raw, offset + _ENTRY_VALUE)
    return out


def _decode_raw(raw, offset):
    """The swamqp_field_value at `offset` of the bytes `raw`."""
    kind = raw[offset]
    reader = _RAW_DECODERS.get(kind)
    if reader is None:
        raise ValueError("unknown field value kind %r" % chr(kind))
    return reader(raw, offset + _VALUE_UNION)


def _raw_scalar(code, convert=None):
    unpack = struct.Struct("=" + code).unpack_from
    if convert is None:
        return lambda raw, offset: unpack(raw, offset)[0]
    return lambda raw, offset: convert(unpack(raw, offset)[0])


def _raw_bytes(raw, offset):
    ptr, length = _unpack_bytes(raw, offset)
    return _string_at(ptr, length) if length else b""


def _raw_array(raw, offset):
    count, values = _unpack_bytes(raw, offset)  # (count, values): two words, like bytes
    if not count or not values:
        return []
    items = _string_at(values, count * _VALUE_SIZE)
    return [_decode_raw(items, i * _VALUE_SIZE) for i in range(count)]


def _raw_table(raw, offset):
    count, entries = _unpack_bytes(raw, offset)
    return decode_table_at(count, entries)


def _raw_decimal(raw, offset):
    scale = raw[offset + _DECIMAL_SCALE]
    value = _unpack_u32(raw, offset + _DECIMAL_VALUE)[0]
    return decimal.Decimal(value).scaleb(-scale)


def _raw_timestamp(seconds):
    try:
        return _EPOCH + datetime.timedelta(seconds=seconds)
    except (OverflowError, ValueError):  # past year 9999 (timedelta or datetime overflow)
        return RawTimestamp(seconds)


def _decode_string(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def decode_value(fv):
    """A swamqp_field_value (struct) -> Python value."""
    kind = fv.kind
    v = fv.value
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise ValueError("unknown field value kind %r" % chr(kind))
    return decoder(v)


def _decode_array(v):
    count = v.array.count
    if not count or not v.array.values:
        return []
    values = (swamqp_field_value * count).from_address(v.array.values)
    return [decode_value(item) for item in values]


def _decode_decimal(v):
    scale = v.decimal.scale
    return decimal.Decimal(v.decimal.value).scaleb(-scale)


def _decode_timestamp(v):
    return _raw_timestamp(v.u64)


# The C function behind ctypes.string_at, without its Python wrapper (one call less per read);
# private, so absent from the ctypes stubs: fetched with getattr, typed by the annotation above.
_string_at = getattr(ctypes, "_string_at")
_WORD = "Q" if ctypes.sizeof(ctypes.c_void_p) == 8 else "I"
_unpack_bytes = struct.Struct("=" + _WORD + _WORD).unpack_from  # (pointer, length) or (count, pointer)
_unpack_u32 = struct.Struct("=I").unpack_from
_ENTRY_SIZE = ctypes.sizeof(swamqp_table_entry)
_ENTRY_VALUE = swamqp_table_entry.value.offset
_VALUE_SIZE = ctypes.sizeof(swamqp_field_value)
_VALUE_UNION = swamqp_field_value.value.offset
_DECIMAL_SCALE = _ffi.swamqp_decimal.scale.offset
_DECIMAL_VALUE = _ffi.swamqp_decimal.value.offset
assert _ffi.swamqp_bytes.len.offset == _ffi.swamqp_table.entries.offset == ctypes.sizeof(ctypes.c_void_p)

_RAW_DECODERS = {
    _ffi.SWAMQP_FIELD_BOOL: lambda raw, offset: raw[offset] != 0,
    _ffi.SWAMQP_FIELD_I8: _raw_scalar("b"),
    _ffi.SWAMQP_FIELD_U8: _raw_scalar("B"),
    _ffi.SWAMQP_FIELD_I16: _raw_scalar("h"),
    _ffi.SWAMQP_FIELD_U16: _raw_scalar("H"),
    _ffi.SWAMQP_FIELD_I32: _raw_scalar("i"),
    _ffi.SWAMQP_FIELD_U32: _raw_scalar("I"),
    _ffi.SWAMQP_FIELD_I64: _raw_scalar("q"),
    _ffi.SWAMQP_FIELD_U64: _raw_scalar("Q"),
    _ffi.SWAMQP_FIELD_F32: _raw_scalar("f"),
    _ffi.SWAMQP_FIELD_F64: _raw_scalar("d"),
    _ffi.SWAMQP_FIELD_DECIMAL: _raw_decimal,
    _ffi.SWAMQP_FIELD_STRING: lambda raw, offset: _decode_string(_raw_bytes(raw, offset)),
    _ffi.SWAMQP_FIELD_BYTES: _raw_bytes,
    _ffi.SWAMQP_FIELD_ARRAY: _raw_array,
    _ffi.SWAMQP_FIELD_TIMESTAMP: _raw_scalar("Q", _raw_timestamp),
    _ffi.SWAMQP_FIELD_TABLE: _raw_table,
    _ffi.SWAMQP_FIELD_VOID: lambda raw, offset: None,
}

_DECODERS = {
    _ffi.SWAMQP_FIELD_BOOL: lambda v: bool(v.boolean),
    _ffi.SWAMQP_FIELD_I8: lambda v: v.i8,
    _ffi.SWAMQP_FIELD_U8: lambda v: v.u8,
    _ffi.SWAMQP_FIELD_I16: lambda v: v.i16,
    _ffi.SWAMQP_FIELD_U16: lambda v: v.u16,
    _ffi.SWAMQP_FIELD_I32: lambda v: v.i32,
    _ffi.SWAMQP_FIELD_U32: lambda v: v.u32,
    _ffi.SWAMQP_FIELD_I64: lambda v: v.i64,
    _ffi.SWAMQP_FIELD_U64: lambda v: v.u64,
    _ffi.SWAMQP_FIELD_F32: lambda v: v.f32,
    _ffi.SWAMQP_FIELD_F64: lambda v: v.f64,
    _ffi.SWAMQP_FIELD_DECIMAL: _decode_decimal,
    _ffi.SWAMQP_FIELD_STRING: lambda v: _decode_string(read_bytes(v.bytes)),
    _ffi.SWAMQP_FIELD_BYTES: lambda v: read_bytes(v.bytes),
    _ffi.SWAMQP_FIELD_ARRAY: _decode_array,
    _ffi.SWAMQP_FIELD_TIMESTAMP: _decode_timestamp,
    _ffi.SWAMQP_FIELD_TABLE: lambda v: decode_table(v.table),
    _ffi.SWAMQP_FIELD_VOID: lambda v: None,
}
