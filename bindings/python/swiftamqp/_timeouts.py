"""Timeouts of the asyncio API: the defaults, checking a ``timeout=`` argument, seconds to a
C ``timeout_ms``, failing a request that got no reply in time, and the request names used in
those errors. Shared by connection, channel and exchange (it imports none of them)."""

from __future__ import annotations

import asyncio
from typing import Any, Optional, overload

from . import _ffi
from .exceptions import AMQPTimeoutError

DEFAULT_PUBLISH_TIMEOUT = 5.0  # seconds a plain publish waits for room (connect option publish_timeout)
DEFAULT_RPC_TIMEOUT = 60.0     # seconds a coroutine waits for the broker's reply (connect option rpc_timeout)
NO_TIMEOUT = object()          # timeout= of a request the library bounds itself (no rpc_timeout timer)
_MAX_TIMEOUT_MS = 0xFFFFFFFF


@overload
def check_timeout(value: Any, what: str) -> float: ...
@overload
def check_timeout(value: Any, what: str, *, allow_none: bool) -> Optional[float]: ...


def check_timeout(value: Any, what: str, *, allow_none: bool = False) -> Optional[float]:
    """`value` (seconds) checked: a number >= 0 (None too with `allow_none`)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number of seconds, not %r" % (what, value))
    if not 0 <= value <= _MAX_TIMEOUT_MS / 1000:
        raise ValueError("%s out of range (0..%d seconds): %r" % (what, _MAX_TIMEOUT_MS // 1000, value))
    return value


def timeout_ms(seconds: float) -> int:
    """Seconds -> whole milliseconds for a uint32_t timeout_ms argument (a positive timeout
    never rounds down to 0, which would mean "do not wait")."""
    ms = int(seconds * 1000 + 0.5)
    if seconds > 0 and ms == 0:
        ms = 1
    return min(ms, _MAX_TIMEOUT_MS)


def timeout_error(what: str, seconds: float) -> AMQPTimeoutError:
    """The error of request `what` that got no reply within `seconds`."""
    exc = AMQPTimeoutError("%s: no reply from the broker within %gs (timeout)" % (what, seconds),
                           _ffi.SWAMQP_ERR_TIMEOUT)
    exc.status_name = _ffi.status_name(_ffi.SWAMQP_ERR_TIMEOUT)
    return exc


def expire_request(fut: asyncio.Future, what: str, seconds: float) -> None:
    if not fut.done():
        fut.set_exception(timeout_error(what, seconds))


def _request_name(fn: Any) -> str:
    """'queue_declare' for swamqp_queue_declare_async (for error texts)."""
    name = getattr(fn, "__name__", "request")
    if name.startswith("swamqp_"):
        name = name[len("swamqp_"):]
    if name.endswith("_async"):
        name = name[:-len("_async")]
    return name
