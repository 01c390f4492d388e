"""swiftamqp.blocking's helpers around the library: its functions, names, bodies and argument
tables as the calls take them, timeouts in milliseconds, and the native side of a connection."""

from __future__ import annotations

import ctypes
import enum
import os
import time
from typing import Any, Dict, List, Optional, Tuple

from .. import _ffi
from .._table import encode_table


_lib = _ffi.lib
_Bytes = _ffi.swamqp_bytes
_byref = ctypes.byref
_c_void_p = ctypes.c_void_p
_string_at = ctypes.string_at


def _optional_function(name: str, restype: Any, argtypes: List[Any]) -> Optional[Any]:
    """A function of the library that _ffi does not declare, as a separate foreign-function
    object (so the declarations in _ffi stay untouched); None when the library lacks it."""
    try:
        getattr(_lib, name)
    except AttributeError:
        return None
    fn = ctypes.CFUNCTYPE(restype, *argtypes)((name, _lib))
    return fn


#: int swamqp_next_events_batch(conn, events, capacity, min_count, linger_us, *count, timeout_ms, *error)
_next_events_batch = _optional_function(
    "swamqp_next_events_batch", ctypes.c_int,
    [_c_void_p, ctypes.POINTER(_ffi.swamqp_event), ctypes.c_size_t, ctypes.c_size_t, ctypes.c_uint32,
     ctypes.POINTER(ctypes.c_size_t), ctypes.c_uint32, ctypes.POINTER(_ffi.swamqp_error)])
#: int swamqp_set_log_level(conn, level)
_set_log_level = _optional_function("swamqp_set_log_level", ctypes.c_int, [_c_void_p, ctypes.c_int])

_EMPTY = _Bytes(None, 0)
_names: Dict[str, Tuple[bytes, Any]] = {}


_NO_NAME = (b"", _EMPTY)


def _name(value: Any, what: str) -> Tuple[bytes, Any]:
    """(bytes, swamqp_bytes) of a short string (exchange, routing key, queue, tag) given as str
    or bytes. Cached: the same names come back call after call (the cache is emptied past 4096
    names). Callers keep the returned pair until their call returned: it keeps the bytes the
    struct points into alive even if the cache is emptied meanwhile."""
    try:
        entry = _names.get(value)
    except TypeError:  # unhashable, e.g. bytearray
        entry = None
    if entry is not None:
        return entry
    if isinstance(value, str):
        raw = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        value = raw = bytes(value)
    elif value is None:
        return _NO_NAME
    else:
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    entry = (raw, _Bytes(_address(raw), len(raw)) if raw else _EMPTY)
    if len(_names) >= 4096:
        _names.clear()
    _names[value] = entry
    return entry


def _text_of(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return "" if value is None else str(value.value if isinstance(value, enum.Enum) else value)


def _address(data: bytes) -> int:
    """The address of a bytes object's data (for a swamqp_bytes; keep `data` alive meanwhile)."""
    return ctypes.cast(data, _c_void_p).value or 0  # type: ignore[arg-type]


def _bytes_offset() -> int:
    """Where a bytes object's data starts relative to id() (CPython: after the object header),
    checked against ctypes; -1 where id() is not an address (then ctypes.cast is used)."""
    probes = [b"swiftamqp", b"x" * 100]
    offsets = {_address(p) - id(p) for p in probes}
    if len(offsets) == 1:
        offset = offsets.pop()
        if 0 < offset < 256:
            return offset
    return -1


_BYTES_OFFSET = _bytes_offset()


def _body_struct(body: Any) -> Tuple[Any, bytes]:
    if type(body) is bytes and _BYTES_OFFSET > 0:
        return (_Bytes(id(body) + _BYTES_OFFSET, len(body)) if body else _EMPTY), body
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        if body is None:
            body = b""
        elif isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        else:
            raise TypeError("body must be bytes or str, not %s" % type(body).__name__)
    if not body:
        return _EMPTY, body
    return _Bytes(_address(body), len(body)), body


def _remaining_ms(deadline: Optional[float]) -> int:
    """A blocking call's timeout_ms for `deadline` (monotonic seconds; None: no limit)."""
    if deadline is None:
        return 0xFFFFFFFF
    ms = int((deadline - time.monotonic()) * 1000.0)
    return max(1, min(ms, 0xFFFFFFFE))


def _table(arguments: Optional[Dict[str, Any]]) -> Tuple[Any, Any]:
    if not arguments:
        return None, None
    table = encode_table(arguments)
    return table, table.pointer


def _require_str(value: Any, what: str) -> None:
    if not isinstance(value, (str, bytes)):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))


def _free_native(handle: Any, fds: Tuple[int, int]) -> None:
    if handle is not None:
        _lib.swamqp_connection_free(handle)
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class _Native:
    """The handle and the wake pipe, apart from the Connection so a finalizer can free them."""

    __slots__ = ("handle", "handle_arg", "wake_r", "wake_w", "finalizer", "__weakref__")

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        # the handle as unchecked functions take it; None once the handle is freed
        self.handle_arg: Optional[ctypes.c_void_p] = ctypes.c_void_p(handle)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.finalizer: Any = None
