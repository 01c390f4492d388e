"""swiftamqp.blocking's BlockingConnection (its dispatcher is in _dispatcher.py)."""

from __future__ import annotations

import collections
import ctypes
import heapq
import itertools
import logging
import select
import threading
import time
import weakref
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from .. import _ffi
from .._errors import ErrorInfo, make_exception
from ._channel import BlockingChannel
from ._dispatcher import _BATCH, _CLOSE_TIMEOUT, _SLICE, _Dispatcher
from ._exceptions import (AMQPHeartbeatTimeout, ChannelClosedByBroker, ChannelWrongStateError,
                          ConnectError, ConnectionBlockedTimeout, ConnectionClosedByBroker,
                          ConnectionClosedByClient, ConnectionWrongStateError, ProbableAccessDeniedError,
                          ProbableAuthenticationError, StreamLostError, _closed_by_broker, _copy)
from ._native import _address, _byref, _Bytes, _free_native, _lib, _Native, _remaining_ms, _set_log_level
from ._properties import _PACK_BYTES
from ._spec import _MISSING, Method
from ._threads import _dispatch_depth, _sigint_enter, _sigint_exit

log = logging.getLogger("swiftamqp")


def _library_log_level() -> int:
    """The library's log level for the `swiftamqp` logger's effective level at connect time
    (records the logger would drop are not queued at all)."""
    level = log.getEffectiveLevel()
    if level <= logging.DEBUG:
        return 4
    if level <= logging.INFO:
        return 3
    if level <= logging.WARNING:
        return 2
    if level <= logging.ERROR:
        return 1
    return 0


class BlockingConnection(_Dispatcher):
    """A connection made by :func:`connect`. Thread-safe: any thread may call anything.

    Use it as a context manager (``with connect(...) as connection:``) to close it at the end.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("use swiftamqp.blocking.connect(...) to make a BlockingConnection")

    def _setup(self, handle: Any, *, rpc_timeout: Optional[float], blocked_timeout: Optional[float],
               description: str) -> None:
        native = _Native(handle)
        self._native = native
        native.finalizer = weakref.finalize(self, _free_native, handle, (native.wake_r, native.wake_w))
        self._description = description
        self._rpc_timeout = rpc_timeout
        self._blocked_timeout = blocked_timeout
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        # dispatcher state (under _lock)
        self._leading = False
        self._wake_armed = False
        self._pass_started = 0
        self._last_empty_pass = 0
        self._channels: Dict[int, BlockingChannel] = {}
        self._closed_exc: Optional[BaseException] = None  # set once the connection ended
        self._closing = False
        self._recovering = False
        self._recovered_count = 0
        self._blocked = False
        self._conn_pending: Deque[Tuple[Callable[..., Any], Tuple[Any, ...]]] = collections.deque()
        self._conn_dispatching = False
        self._timers: List[Tuple[float, int, Callable[[], Any]]] = []
        self._timer_ids = itertools.count(1)
        self._cancelled_timers: set = set()
        self._blocked_callbacks: List[Callable[..., Any]] = []
        self._unblocked_callbacks: List[Callable[..., Any]] = []
        self._publishes = 0
        self._publish_ms = 0xFFFFFFFF
        self._publish_ms_arg = _ffi.c_timeout(self._publish_ms)
        # leader-only buffers
        self._events = (_ffi.swamqp_event * _BATCH)()
        self._events_view = memoryview(self._events).cast("B")
        self._pack = ctypes.create_string_buffer(_PACK_BYTES)
        self._packed_ref = ctypes.c_size_t(0)
        self._pack_written_ref = ctypes.c_size_t(0)
        self._count = ctypes.c_size_t()
        self._count_ref = _byref(self._count)
        self._event_fd = _lib.swamqp_connection_event_fd(handle)
        self._poller = select.poll()
        if self._event_fd >= 0:
            self._poller.register(self._event_fd, select.POLLIN)
        self._poller.register(native.wake_r, select.POLLIN)
        if _set_log_level is not None:
            _set_log_level(handle, _library_log_level())

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return "<swiftamqp.blocking.BlockingConnection %s %s>" % (self._description, state)

    def __enter__(self) -> BlockingConnection:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.is_open:
            self.close()

    # ----------------------------------------------------------------------------------------
    # State
    # ----------------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._closed_exc is None and not self._closing and self._native.handle is not None

    @property
    def is_closed(self) -> bool:
        return not self.is_open

    @property
    def recovering(self) -> bool:
        """True while automatic recovery (``connect(recovery=True)``) restores the connection."""
        return self._recovering

    @property
    def recoveries(self) -> int:
        """How many automatic recoveries completed on this connection."""
        return self._recovered_count

    @property
    def blocked(self) -> bool:
        """True while the broker blocks this connection's publishing (connection.blocked)."""
        return self._blocked

    # The broker capabilities pika reports; RabbitMQ has them all and the engine asks for them.
    basic_nack_supported = True
    consumer_cancel_notify_supported = True
    exchange_exchange_bindings_supported = True
    publisher_confirms_supported = True
    basic_nack = consumer_cancel_notify = exchange_exchange_bindings = publisher_confirms = True

    def stats(self) -> Dict[str, int]:
        """The library's counters for this connection (frames, bytes, publishes, confirms,
        deliveries, returns, heartbeats, bytes held by the event queue)."""
        handle = self._handle()
        stats = _ffi.swamqp_stats()
        rc = _lib.swamqp_connection_stats(handle, _byref(stats))
        if rc:
            raise self._map_error(ErrorInfo(rc), channel=None)
        return {field[0]: getattr(stats, field[0]) for field in _ffi.swamqp_stats._fields_}

    # ----------------------------------------------------------------------------------------
    # Channels
    # ----------------------------------------------------------------------------------------
    def channel(self, channel_number: Optional[int] = None) -> BlockingChannel:
        """Opens a channel on the lowest free number and returns its :class:`BlockingChannel`.
        ``channel_number`` is not supported (ValueError): the library picks the number."""
        if channel_number is not None:
            raise ValueError("channel_number is not supported: the library picks the channel number")
        number = ctypes.c_uint16()

        def call(handle: Any, timeout_ms: int, err: Any) -> int:
            return _lib.swamqp_channel_open(handle, _byref(number), timeout_ms, err)

        self._call(call, None)
        # Events queued before the open returned belong to an earlier channel of that number.
        self._flush(time.monotonic() + _CLOSE_TIMEOUT)
        channel = BlockingChannel(self, number.value)
        with self._lock:
            self._channels[number.value] = channel
        return channel

    # ----------------------------------------------------------------------------------------
    # Events, timers, callbacks
    # ----------------------------------------------------------------------------------------
    def process_data_events(self, time_limit: Optional[float] = 0) -> None:
        """Takes what the broker sent and runs the callbacks that are due (consumers without a
        thread in ``start_consuming``, returns, timers, ``add_callback_threadsafe``, blocked).
        ``time_limit``: at most this many seconds waiting for something to run (0: don't wait;
        None: until something ran). Heartbeats do not need it (the library's thread sends them);
        a publish-only program may still call it now and then to run its callbacks."""
        self._check_open_for_events()
        if _dispatch_depth():
            # From inside a callback: route what is queued, run nothing (no recursion).
            self._flush(time.monotonic() + (time_limit or 0))
            return
        deadline = None if time_limit is None else time.monotonic() + max(0.0, time_limit)
        entered = _sigint_enter()
        try:
            self._flush(time.monotonic() + _SLICE)
            while True:
                if self._dispatch_ready(None):
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                self._wait(lambda: self._work_ready(None) or self._closed_exc is not None, deadline)
                if self._closed_exc is not None:
                    break
            self._raise_if_lost()
        finally:
            if entered:
                _sigint_exit()

    def sleep(self, duration: float) -> None:
        """Waits `duration` seconds while running callbacks as process_data_events does."""
        if duration < 0:
            raise ValueError("duration must not be negative")
        deadline = time.monotonic() + duration
        while True:
            self.process_data_events(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return

    def call_later(self, delay: float, callback: Callable[[], Any]) -> int:
        """Runs ``callback()`` once, `delay` seconds from now, on a thread in process_data_events,
        sleep or start_consuming of this connection. Returns a timer id for remove_timeout."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        with self._lock:
            timer_id = next(self._timer_ids)
            heapq.heappush(self._timers, (time.monotonic() + max(0.0, delay), timer_id, callback))
            self._changed()
        return timer_id

    def remove_timeout(self, timeout_id: int) -> None:
        """Cancels a timer of call_later (nothing happens when it already ran)."""
        with self._lock:
            if any(t[1] == timeout_id for t in self._timers):
                self._cancelled_timers.add(timeout_id)

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """Runs ``callback()`` as soon as possible on a thread in process_data_events, sleep or
        start_consuming of this connection. May be called from any thread (as everything here)."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        with self._lock:
            if self._closed_exc is not None or self._closing:
                raise ConnectionWrongStateError(
                    "BlockingConnection.add_callback_threadsafe() called on a closed or closing connection.")
            self._conn_pending.append((callback, ()))
            self._changed()

    def add_on_connection_blocked_callback(self, callback: Callable[[BlockingConnection, Method], Any]) -> None:
        """``callback(connection, Method(0, Connection.Blocked(reason)))`` when the broker blocks
        publishing on this connection (a memory or disk alarm)."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._blocked_callbacks.append(callback)

    def add_on_connection_unblocked_callback(self, callback: Callable[[BlockingConnection, Method], Any]) -> None:
        """``callback(connection, Method(0, Connection.Unblocked()))`` when the block is lifted."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._unblocked_callbacks.append(callback)

    def update_secret(self, new_secret: str, reason: str) -> None:
        """connection.update-secret: a new secret (e.g. a refreshed OAuth 2 token). Never logged."""
        secret = new_secret.encode("utf-8") if isinstance(new_secret, str) else bytes(new_secret)
        why = reason.encode("utf-8")
        keep = ctypes.create_string_buffer(secret, len(secret))
        c_secret = _Bytes(ctypes.addressof(keep) if secret else None, len(secret))
        c_reason = _Bytes(_address(why) if why else None, len(why))

        def call(handle: Any, timeout_ms: int, err: Any) -> int:
            return _lib.swamqp_connection_update_secret(handle, c_secret, c_reason, timeout_ms, err)

        try:
            self._call(call, None)
        finally:
            ctypes.memset(keep, 0, len(secret))

    # ----------------------------------------------------------------------------------------
    # Closing
    # ----------------------------------------------------------------------------------------
    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Closes the connection (connection.close, waits for close-ok up to 5 s) and frees it.
        Threads blocked in calls on it wake with ConnectionWrongStateError (or the close).
        Raises ConnectionWrongStateError when it is already closed, as pika does."""
        with self._lock:
            if self._closing or self._closed_exc is not None or self._native.handle is None:
                raise ConnectionWrongStateError(
                    "BlockingConnection.close(%s, %r) called on closed connection." % (reply_code, reply_text))
            self._closing = True
            self._changed()
        handle = self._native.handle
        err = _ffi.swamqp_error()
        rc = _lib.swamqp_connection_close(handle, int(_CLOSE_TIMEOUT * 1000), _byref(err))
        if rc:
            log.debug("swamqp_connection_close: %s", _ffi.status_name(rc))
        deadline = time.monotonic() + _CLOSE_TIMEOUT
        try:
            self._wait(lambda: self._closed_exc is not None, deadline)
        finally:
            self._release(ConnectionClosedByClient(reply_code, reply_text))

    def _release(self, reason: BaseException) -> None:
        """Takes the drain (so no thread reads a batch while it is freed), frees the handle."""
        with self._lock:
            while self._leading:
                self._cond.wait(_SLICE)
            self._leading = True
        try:
            with self._lock:
                if self._closed_exc is None:
                    self._connection_over(reason)
            native = self._native
            handle, native.handle = native.handle, None
            native.handle_arg = None
            if handle is not None and native.finalizer is not None:
                native.finalizer()  # frees the handle and closes the pipe
        finally:
            with self._lock:
                self._leading = False
                self._cond.notify_all()

    # ----------------------------------------------------------------------------------------
    # Calls and errors
    # ----------------------------------------------------------------------------------------
    def _handle(self) -> Any:
        handle = self._native.handle
        if handle is None or self._closed_exc is not None:
            raise self._closed_error()
        return handle

    def _check_open_for_events(self) -> None:
        if self._native.handle is None or (self._closed_exc is not None and self._closing):
            raise ConnectionWrongStateError("Connection is closed.")
        if self._closed_exc is not None:
            raise self._closed_error()

    def _raise_if_lost(self) -> None:
        exc = self._closed_exc
        if exc is not None and not isinstance(exc, ConnectionClosedByClient):
            raise _copy(exc)

    def _call(self, fn: Callable[[Any, int, Any], int], channel: Optional[BlockingChannel],
              timeout: Any = _MISSING) -> None:
        """A blocking library call fn(handle, timeout_ms, error) bounded by rpc_timeout (or
        `timeout`); during automatic recovery it waits for the recovery and calls again."""
        limit = self._rpc_timeout if timeout is _MISSING else timeout
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            handle = self._native.handle
            if handle is None or self._closed_exc is not None:
                raise self._closed_error()
            if channel is not None and channel._closed_exc is not None:
                raise channel._state_error()
            mark = self._recovered_count
            err = _ffi.swamqp_error()
            rc = fn(handle, _remaining_ms(deadline), _byref(err))
            if rc == 0:
                return
            if rc == _ffi.SWAMQP_ERR_RECOVERING and (deadline is None or time.monotonic() < deadline):
                self._wait(lambda: self._recovered_count != mark or self._closed_exc is not None, deadline)
                if self._recovered_count != mark:
                    continue
            raise self._map_error(ErrorInfo.take(err, rc), channel)

    def _closed_error(self) -> BaseException:
        exc = self._closed_exc
        if exc is None or isinstance(exc, (ConnectionClosedByClient, ConnectionWrongStateError)):
            return ConnectionWrongStateError("Connection is closed.")
        return _copy(exc)

    def _map_error(self, info: ErrorInfo, channel: Optional[BlockingChannel], *, record: bool = True) -> BaseException:
        """The exception for a failed call or event (pika's classes where they exist)."""
        status = info.status
        name = _ffi.status_name(status)
        text_ = info.message or name
        broker = info.origin == _ffi.SWAMQP_ORIGIN_BROKER and info.reply_code != 0
        exc: BaseException
        if status == _ffi.SWAMQP_ERR_CHANNEL_CLOSED and info.channel != 0 or (
                broker and info.channel != 0 and status != _ffi.SWAMQP_ERR_CONNECTION_CLOSED):
            if broker:
                exc = _closed_by_broker(ChannelClosedByBroker, info.reply_code, info.message)
                if channel is not None and record:
                    with self._lock:
                        channel._set_closed(exc)
                        self._changed()
                    return _copy(exc)
            elif channel is not None:
                if record:
                    # Closed before: its CHANNEL_CLOSED event may not be routed yet.
                    self._flush(time.monotonic() + _SLICE)
                return channel._state_error()
            else:
                exc = ChannelWrongStateError("Channel is closed.")
        elif status == _ffi.SWAMQP_ERR_AUTH:
            cls = ProbableAccessDeniedError if info.reply_code == 530 else ProbableAuthenticationError
            exc = cls("%s: %s" % (name, text_), status)
        elif broker or status == _ffi.SWAMQP_ERR_CONNECTION_CLOSED and info.reply_code:
            exc = _closed_by_broker(ConnectionClosedByBroker, info.reply_code, info.message)
            if record:
                with self._lock:
                    self._connection_over(exc)
                return _copy(exc)
        elif status in (_ffi.SWAMQP_ERR_CONNECTION_CLOSED, _ffi.SWAMQP_ERR_CLOSED_BY_APPLICATION,
                        _ffi.SWAMQP_ERR_INVALID_HANDLE, _ffi.SWAMQP_ERR_FORKED):
            if record and status == _ffi.SWAMQP_ERR_CONNECTION_CLOSED and self._closed_exc is None:
                self._flush(time.monotonic() + _SLICE)  # its CONNECTION_CLOSED event says why
            if self._closed_exc is not None and record:
                return self._closed_error()
            exc = ConnectionWrongStateError("Connection is closed (%s)." % name)
        elif status in (_ffi.SWAMQP_ERR_RESOLVE, _ffi.SWAMQP_ERR_CONNECT, _ffi.SWAMQP_ERR_TLS):
            exc = ConnectError("%s: %s" % (name, text_), status)
        elif status == _ffi.SWAMQP_ERR_HEARTBEAT_TIMEOUT:
            exc = AMQPHeartbeatTimeout("%s: %s" % (name, text_))
        elif status in (_ffi.SWAMQP_ERR_IO, _ffi.SWAMQP_ERR_CONNECTION_LOST):
            exc = StreamLostError("%s: %s" % (name, text_))
        elif status == _ffi.SWAMQP_ERR_TIMEOUT and self._blocked:
            exc = ConnectionBlockedTimeout("%s while the broker blocks the connection: %s" % (name, text_))
        else:
            return make_exception(info)
        exc.status = status  # type: ignore[attr-defined]
        exc.status_name = name  # type: ignore[attr-defined]
        exc.origin = info.origin  # type: ignore[attr-defined]
        exc.class_id = info.class_id  # type: ignore[attr-defined]
        exc.method_id = info.method_id  # type: ignore[attr-defined]
        exc.channel = info.channel  # type: ignore[attr-defined]
        return exc
