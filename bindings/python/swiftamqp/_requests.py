"""Requests of an asyncio connection: every coroutine starts an ``_async`` library call and
awaits a Future registered under the call's request id (:class:`_Pending`); the COMPLETION event
resolves it (:meth:`_Requests._on_completion`). The library bounds the wait
(swamqp_request_set_timeout, ``rpc_timeout`` by default) and, when the Future is cancelled,
abandons the request (swamqp_request_abandon), undoing a late reply itself. Mixed into
:class:`~swiftamqp.connection.Connection`."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from . import _ffi
from ._errors import ErrorInfo, make_exception
from ._timeouts import NO_TIMEOUT, _request_name, check_timeout, expire_request, timeout_ms

if TYPE_CHECKING:  # pragma: no cover
    from ._native import _Native
    from .queue import Queue

log = logging.getLogger("swiftamqp")

Convert = Callable[[Any], Any]  # a successful completion event -> the Future's result


class _RequestFuture(asyncio.Future):
    """A request's Future. Cancelling it (a cancelled task awaiting it, asyncio.wait_for)
    abandons the request in the library at once, before any later event is read: the library
    then undoes a late reply (cancels a consumer that starts, hands back a basic.get message,
    closes a channel that opens)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, requests: "_Requests", rid: int) -> None:
        super().__init__(loop=loop)
        # Weak: a Future kept by the application must not keep its connection alive.
        self._requests = weakref.ref(requests)
        self._rid = rid

    def cancel(self, msg: Any = None) -> bool:
        requests = self._requests()
        if requests is not None and not self.done():
            requests._abandon(self._rid)
        return super().cancel(msg=msg)


class _Pending:
    """A request awaiting its completion event: ``convert(ev)`` turns a successful completion
    into the Future's result; ``what`` and ``seconds`` word its timeout error; ``late`` is the
    Queue that takes the messages of the request (a no-ack get or consume) should it be
    abandoned after the broker sent them."""

    __slots__ = ("future", "channel", "convert", "what", "seconds", "late")

    def __init__(self, future: asyncio.Future, channel: int, convert: Optional[Convert], what: str,
                 seconds: Optional[float], late: Optional["Queue"] = None) -> None:
        self.future = future
        self.channel = channel
        self.convert = convert
        self.what = what
        self.seconds = seconds
        self.late = late


class _Requests:
    """The request side of a Connection (the attributes are set by ``Connection.__init__``;
    ``_channel_over`` is the event side's, see :mod:`swiftamqp._events`)."""

    _loop: asyncio.AbstractEventLoop
    _native: _Native
    _pending: Dict[int, _Pending]
    _rpc_timeout: Optional[float]
    _rid: ctypes.c_uint64
    _rid_ref: Any
    _err: _ffi.swamqp_error
    _err_ref: Any
    closed: asyncio.Future

    _late_routes: Dict[int, "Queue"]

    if TYPE_CHECKING:  # pragma: no cover - the _EventPump mixin's
        def _channel_over(self, number: int, exc: BaseException) -> None: ...

    def _error(self, status: int, *, channel_level: bool = True) -> BaseException:
        """The exception for a failed call whose details are in self._err (then cleared)."""
        return make_exception(ErrorInfo.take(self._err, status), connection_level=not channel_level)

    def _register(self, channel: int, convert: Optional[Convert], *, timeout: Any = None,
                  what: str = "request", late: Optional["Queue"] = None) -> asyncio.Future:
        """A Future for the request whose id is in self._rid. The library fails it with a
        timeout after `timeout` seconds (None: rpc_timeout; NO_TIMEOUT: none) without a reply,
        and abandons the request (its late reply undone); cancelling the Future abandons it
        too. `late`: see _Pending."""
        rid = self._rid.value
        fut = _RequestFuture(self._loop, self, rid)
        if timeout is NO_TIMEOUT:
            seconds = None
        else:
            seconds = self._rpc_timeout if timeout is None else check_timeout(timeout, "timeout")
        if seconds is not None:
            _ffi.lib.swamqp_request_set_timeout(self._native.handle, rid, timeout_ms(seconds), None)
        self._pending[rid] = _Pending(fut, channel, convert, what, seconds, late)
        return fut

    def _start(self, channel: int, convert: Optional[Convert], fn: Callable[..., int], *args: Any,
               timeout: Any = None, late: Optional["Queue"] = None) -> asyncio.Future:
        """Calls an `_async` C function fn(handle, *args, &request_id, &error); returns its
        Future (see _register for `timeout` and `late`)."""
        if timeout is not None and timeout is not NO_TIMEOUT:
            check_timeout(timeout, "timeout")  # before anything is sent
        rc = fn(self._native.handle, *args, self._rid_ref, self._err_ref)
        if rc:
            raise self._error(rc, channel_level=channel != 0)
        return self._register(channel, convert, timeout=timeout, what=_request_name(fn), late=late)

    def _abandon(self, rid: int) -> None:
        """The Future of request `rid` is being cancelled: the library stops waiting for it."""
        pending = self._pending.pop(rid, None)
        handle = self._native.handle
        if pending is None or handle is None:
            return
        if _ffi.lib.swamqp_request_abandon(handle, rid, None) == 0 and pending.late is not None:
            self._late_routes[rid] = pending.late

    def _on_completion(self, ev: _ffi.swamqp_event) -> None:
        pending = self._pending.pop(ev.request_id, None)
        if pending is None:
            log.debug("completion for unknown request %d", ev.request_id)
            return
        fut = pending.future
        status = ev.status
        if status == _ffi.SWAMQP_ERR_CHANNEL_CLOSED and pending.channel:
            info = ErrorInfo.from_pointer(ev.error, status)
            exc = make_exception(info)
            if info.from_broker:
                self._channel_over(pending.channel, exc)
            if not fut.done():
                fut.set_exception(exc)
            return
        if fut.done():
            return  # the channel or connection ended first
        if status == _ffi.SWAMQP_ERR_TIMEOUT and pending.seconds is not None:
            # The library abandoned the request at its deadline.
            if pending.late is not None:
                self._late_routes[ev.request_id] = pending.late
            expire_request(fut, pending.what, pending.seconds)
            return
        if status:
            info = ErrorInfo.from_pointer(ev.error, status)
            fut.set_exception(make_exception(info, connection_level=pending.channel == 0))
            return
        convert = pending.convert
        if convert is None:
            fut.set_result(None)
            return
        try:
            result = convert(ev)
        except Exception as exc:
            fut.set_exception(exc)
        else:
            fut.set_result(result)
