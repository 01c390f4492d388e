"""Requests of an asyncio connection: every coroutine starts an ``_async`` library call and
awaits a Future registered under the call's request id (:class:`_Pending`), bounded by
``rpc_timeout``; the COMPLETION event resolves it (:meth:`_Requests._on_completion`). A Future
that was cancelled has its completion dropped, and what the dropped reply left at the broker is
undone (``orphan``). Mixed into :class:`~swiftamqp.connection.Connection`."""

from __future__ import annotations

import asyncio
import ctypes
import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from . import _ffi
from ._errors import ErrorInfo, make_exception
from ._timeouts import NO_TIMEOUT, _request_name, check_timeout, expire_request

if TYPE_CHECKING:  # pragma: no cover
    from ._native import _Native

log = logging.getLogger("swiftamqp")

Convert = Callable[[Any], Any]  # a successful completion event -> the Future's result


class _Pending:
    """A request awaiting its completion event.

    ``convert(ev)`` turns a successful completion into the Future's result; ``orphan(ev)`` is
    called instead when the Future was cancelled before a successful completion arrived (to undo
    what the request left at the broker).
    """

    __slots__ = ("future", "channel", "convert", "orphan", "timer")

    def __init__(self, future: asyncio.Future, channel: int, convert: Optional[Convert],
                 orphan: Optional[Callable[[Any], Any]] = None,
                 timer: Optional[asyncio.TimerHandle] = None) -> None:
        self.future = future
        self.channel = channel
        self.convert = convert
        self.orphan = orphan
        self.timer = timer


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

    if TYPE_CHECKING:  # pragma: no cover - the _EventPump mixin's
        def _channel_over(self, number: int, exc: BaseException, *, expect_event: bool) -> None: ...

    def _error(self, status: int, *, channel_level: bool = True) -> BaseException:
        """The exception for a failed call whose details are in self._err (then cleared)."""
        return make_exception(ErrorInfo.take(self._err, status), connection_level=not channel_level)

    def _register(self, channel: int, convert: Optional[Convert],
                  orphan: Optional[Callable[[Any], Any]] = None, *, timeout: Any = None,
                  what: str = "request") -> asyncio.Future:
        """A Future for the request whose id is in self._rid. It fails with AMQPTimeoutError
        after `timeout` seconds (None: rpc_timeout) without a completion; the request stays
        registered, so its late completion is handled as that of a cancelled request."""
        fut = self._loop.create_future()
        if timeout is NO_TIMEOUT:
            seconds = None
        else:
            seconds = self._rpc_timeout if timeout is None else check_timeout(timeout, "timeout")
        timer = None
        if seconds is not None:
            timer = self._loop.call_later(seconds, expire_request, fut, what, seconds)
        self._pending[self._rid.value] = _Pending(fut, channel, convert, orphan, timer)
        return fut

    def _start(self, channel: int, convert: Optional[Convert], fn: Callable[..., int], *args: Any,
               orphan: Optional[Callable[[Any], Any]] = None, timeout: Any = None) -> asyncio.Future:
        """Calls an `_async` C function fn(handle, *args, &request_id, &error); returns its
        Future (see _register for `timeout`)."""
        if timeout is not None and timeout is not NO_TIMEOUT:
            check_timeout(timeout, "timeout")  # before anything is sent
        rc = fn(self._native.handle, *args, self._rid_ref, self._err_ref)
        if rc:
            raise self._error(rc, channel_level=channel != 0)
        return self._register(channel, convert, orphan, timeout=timeout, what=_request_name(fn))

    def _start_ignored(self, fn: Callable[..., int], *args: Any) -> None:
        """Starts an `_async` request whose completion nobody awaits (errors are only logged)."""
        handle = self._native.handle
        if handle is None or self.closed.done():
            return
        rc = fn(handle, *args, self._rid_ref, self._err_ref)
        if rc:
            log.debug("%s: %s", getattr(fn, "__name__", fn), make_exception(ErrorInfo.take(self._err, rc)))

    def _on_completion(self, ev: _ffi.swamqp_event) -> None:
        pending = self._pending.pop(ev.request_id, None)
        if pending is None:
            log.debug("completion for unknown request %d", ev.request_id)
            return
        if pending.timer is not None:
            pending.timer.cancel()
        fut = pending.future
        status = ev.status
        if status == _ffi.SWAMQP_ERR_CHANNEL_CLOSED and pending.channel:
            info = ErrorInfo.from_pointer(ev.error, status)
            exc = make_exception(info)
            if info.from_broker:
                # The broker closed the channel; its CHANNEL_CLOSED event may still be queued.
                self._channel_over(pending.channel, exc, expect_event=True)
            if not fut.done():
                fut.set_exception(exc)
            return
        if fut.done():
            if not status and pending.orphan is not None:
                pending.orphan(ev)
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
