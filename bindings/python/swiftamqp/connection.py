"""Connection: the asyncio side of one libswiftamqp connection.

Python never runs on a library thread. The library queues events (completions, deliveries,
returns, closes, log records) and makes its event fd readable; the loop calls :meth:`_drain` via
``loop.add_reader``, which takes events in batches of up to 256 with one ``swamqp_next_events``
call and dispatches each one. Every coroutine starts an ``_async`` request (never a blocking call)
and awaits a Future registered under the request id; the COMPLETION event resolves it. A Future
that was cancelled (e.g. by ``asyncio.wait_for``) simply has its completion dropped.
"""

import asyncio
import ctypes
import inspect
import logging
import threading
import weakref

from . import _ffi
from ._errors import ErrorInfo, make_exception
from .exceptions import ChannelClosed, ConnectionClosed, ConnectionLostError

__all__ = ["Connection", "connect", "connect_and_open_channel"]

log = logging.getLogger("swiftamqp")

_BATCH = 256          # events per swamqp_next_events call
_MAX_BATCHES = 64     # per readiness callback, so a flood cannot starve the loop (the fd stays readable)
_CLOSE_EVENT_WAIT = 5.0  # seconds close() waits for CONNECTION_CLOSED after close-ok

_LOG_LEVELS = {
    _ffi.SWAMQP_LOG_ERROR: logging.ERROR,
    _ffi.SWAMQP_LOG_WARNING: logging.WARNING,
    _ffi.SWAMQP_LOG_INFO: logging.INFO,
    _ffi.SWAMQP_LOG_DEBUG: logging.DEBUG,
}

# Connection states
_OPENING, _OPEN, _CLOSING, _CLOSED = "opening", "open", "closing", "closed"


class _Pending:
    __slots__ = ("future", "channel", "convert")

    def __init__(self, future, channel, convert):
        self.future = future
        self.channel = channel
        self.convert = convert


class _Native:
    """The native resources of a connection: the handle and the loop reader on its event fd.

    Kept apart from Connection so that a weakref.finalize can release them after the Connection
    was collected without close(): the reader is removed first (on the loop's thread), then the
    handle is freed (which closes the fd).
    """

    __slots__ = ("handle", "fd", "loop", "thread_id", "reader", "__weakref__")

    def __init__(self, handle, loop):
        self.handle = handle
        self.loop = loop
        self.thread_id = threading.get_ident()
        self.fd = -1
        self.reader = False

    def add_reader(self, callback, *args):
        fd = _ffi.lib.swamqp_connection_event_fd(self.handle)
        if fd < 0:
            raise ConnectionLostError("swamqp_connection_event_fd returned %d" % fd)
        self.fd = fd
        self.loop.add_reader(fd, callback, *args)
        self.reader = True

    def remove_reader(self):
        if not self.reader:
            return
        self.reader = False
        loop = self.loop
        if loop.is_closed():
            return  # closing the loop closed its selector and every registration
        try:
            loop.remove_reader(self.fd)
        except Exception:  # pragma: no cover - loop torn down concurrently
            log.debug("remove_reader(%d) failed", self.fd, exc_info=True)

    def release(self):
        """Removes the reader, then frees the handle. Idempotent."""
        loop = self.loop
        if (self.reader and threading.get_ident() != self.thread_id
                and not loop.is_closed() and loop.is_running()):
            # Collected on another thread: selector changes belong to the loop's thread.
            try:
                loop.call_soon_threadsafe(self.release)
                return
            except RuntimeError:
                pass
        self.remove_reader()
        handle, self.handle = self.handle, None
        if handle is not None:
            _ffi.lib.swamqp_connection_free(handle)


def _drain_callback(ref):
    conn = ref()
    if conn is not None:
        conn._drain()


def _consume_exception(fut):
    if not fut.cancelled():
        fut.exception()


class Connection:
    """A connection to an AMQP broker; made by :func:`connect`.

    .. attribute:: closed

        A Future that ends, with a :class:`ConnectionClosed` (closed by the application or by
        the broker) or :class:`ConnectionLostError` exception, when the connection is over.
    """

    def __init__(self, loop, handle, *, host, port, virtual_host, username,
                 on_connection_close=None):
        self._loop = loop
        self._native = native = _Native(handle, loop)
        self._finalizer = weakref.finalize(self, native.release)
        self._state = _OPENING
        self._pending = {}
        self._channels = {}
        self._expected_channel_closes = {}
        self._on_connection_close = on_connection_close
        self._blocked = False
        self.host = host
        self.port = port
        self.virtual_host = virtual_host
        self.username = username
        self.closed = loop.create_future()
        self.closed.add_done_callback(_consume_exception)
        # Reused per call (the loop is single-threaded and no call awaits between fill and read).
        self._events = (_ffi.swamqp_event * _BATCH)()
        self._count = ctypes.c_size_t()
        self._count_ref = ctypes.byref(self._count)
        self._rid = ctypes.c_uint64()
        self._rid_ref = ctypes.byref(self._rid)
        self._err = _ffi.swamqp_error()
        self._err_ref = ctypes.byref(self._err)
        native.add_reader(_drain_callback, weakref.ref(self))

    def __repr__(self):
        return "<swiftamqp.Connection %s@%s:%s vhost=%r %s>" % (
            self.username, self.host, self.port, self.virtual_host, self._state)

    # ------------------------------------------------------------------------------------
    # Public API
    # ------------------------------------------------------------------------------------
    async def open_channel(self):
        """Opens a new channel on this connection and returns the :class:`Channel`."""
        from .channel import Channel
        self._check_usable()
        number = ctypes.c_uint16()
        rc = _ffi.lib.swamqp_channel_open_async(self._native.handle, ctypes.byref(number),
                                                 self._rid_ref, self._err_ref)
        if rc:
            raise self._error(rc, channel_level=False)
        channel = Channel(self, number.value, loop=self._loop)
        self._channels[channel.id] = channel
        fut = self._register(channel.id, None)
        try:
            await fut
        except BaseException:
            if self._channels.get(channel.id) is channel:
                del self._channels[channel.id]
            raise
        return channel

    def is_closed(self):
        """True once close() was called or the connection ended."""
        return self._state in (_CLOSING, _CLOSED) or self.closed.done()

    async def close(self):
        """Closes the connection (connection.close / close-ok), then frees its native resources."""
        if self._state == _CLOSED or self.closed.done():
            self._release()
            return
        if self._state == _CLOSING:
            log.warning("Called `close` on already closing connection...")
            await asyncio.wait({self.closed})
            return
        self._state = _CLOSING
        try:
            rc = _ffi.lib.swamqp_connection_close_async(self._native.handle, self._rid_ref,
                                                        self._err_ref)
            if rc == 0:
                try:
                    await self._register(0, None)
                except (ConnectionClosed, ConnectionLostError):
                    pass
            else:
                info = ErrorInfo.take(self._err, rc)
                log.debug("swamqp_connection_close_async: %s", make_exception(info))
            if not self.closed.done():
                self._drain()
            if not self.closed.done():
                await asyncio.wait({self.closed}, timeout=_CLOSE_EVENT_WAIT)
            if not self.closed.done():
                log.warning("no SWAMQP_EVENT_CONNECTION_CLOSED %.0fs after close; freeing anyway",
                            _CLOSE_EVENT_WAIT)
                self._connection_over(ConnectionClosed("Closed by application"), notify=False)
        finally:
            self._release()

    # ------------------------------------------------------------------------------------
    # Plumbing used by channels, exchanges, queues and messages
    # ------------------------------------------------------------------------------------
    def _check_usable(self):
        if self._state == _OPEN and not self.closed.done():
            return
        if self.closed.done():
            raise self.closed.exception()
        if self._state == _CLOSING:
            raise ConnectionClosed("Closed by application")
        raise ConnectionClosed("The connection is not open")

    def _error(self, status, *, channel_level=True):
        """The exception for a failed call whose details are in self._err (then cleared)."""
        return make_exception(ErrorInfo.take(self._err, status), connection_level=not channel_level)

    def _register(self, channel, convert):
        """A Future for the request whose id is in self._rid."""
        fut = self._loop.create_future()
        self._pending[self._rid.value] = _Pending(fut, channel, convert)
        return fut

    def _start(self, channel, convert, fn, *args):
        """Calls an `_async` C function fn(handle, *args, &request_id, &error); returns its Future."""
        rc = fn(self._native.handle, *args, self._rid_ref, self._err_ref)
        if rc:
            raise self._error(rc, channel_level=channel != 0)
        return self._register(channel, convert)

    def _release(self):
        """Frees the native side; whatever still waits learns that the connection is over."""
        if not self.closed.done():  # e.g. close() was cancelled before the close-ok
            self._connection_over(ConnectionClosed("Closed by application"), notify=False)
        self._state = _CLOSED
        self._native.release()

    async def _open(self):
        fut = self._start(0, None, _ffi.lib.swamqp_connection_open_async)
        await fut
        if self._state == _OPENING:
            self._state = _OPEN

    def _abort(self):
        """Frees everything after a failed or cancelled open (no close handshake to wait for)."""
        if not self.closed.done():
            self._connection_over(ConnectionClosed("The connection failed to open"), notify=False)
        self._release()

    # ------------------------------------------------------------------------------------
    # Events
    # ------------------------------------------------------------------------------------
    def _drain(self):
        next_events = _ffi.lib.swamqp_next_events
        events = self._events
        count = self._count
        native = self._native
        for _ in range(_MAX_BATCHES):
            handle = native.handle
            if handle is None:
                return
            rc = next_events(handle, events, _BATCH, self._count_ref, 0)
            if rc:
                if rc == _ffi.SWAMQP_ERR_CONNECTION_CLOSED:
                    native.remove_reader()  # nothing more will come
                else:
                    log.error("swamqp_next_events failed: %s", _ffi.status_name(rc))
                    if rc == _ffi.SWAMQP_ERR_INVALID_HANDLE:
                        native.remove_reader()
                return
            n = count.value
            if n == 0:
                return
            for i in range(n):
                ev = events[i]
                try:
                    self._dispatch(ev)
                except Exception as exc:  # a bug here must not stop the other events
                    self._loop.call_exception_handler({
                        "message": "swiftamqp: error while dispatching event type %d" % ev.type,
                        "exception": exc,
                    })

    def _dispatch(self, ev):
        kind = ev.type
        if kind == _ffi.SWAMQP_EVENT_COMPLETION:
            self._on_completion(ev)
        elif kind == _ffi.SWAMQP_EVENT_LOG:
            self._on_log(ev)
        elif kind == _ffi.SWAMQP_EVENT_CHANNEL_CLOSED:
            self._on_channel_closed(ev)
        elif kind == _ffi.SWAMQP_EVENT_CONNECTION_CLOSED:
            self._on_connection_closed(ev)
        elif kind == _ffi.SWAMQP_EVENT_RETURN:
            self._on_return(ev)
        elif kind == _ffi.SWAMQP_EVENT_BLOCKED:
            self._blocked = True
            log.warning("connection blocked by the broker: %s",
                        _text(ev.name))
        elif kind == _ffi.SWAMQP_EVENT_UNBLOCKED:
            self._blocked = False
            log.info("connection unblocked by the broker")
        else:
            # DELIVERY, CONFIRM_*, CONSUMER_CANCELLED, FLOW: not wired up yet in this binding.
            log.debug("unhandled event type %d on channel %d", kind, ev.channel)

    def _on_completion(self, ev):
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
                # The broker closed the channel; its CHANNEL_CLOSED event may still be queued.
                self._channel_over(pending.channel, exc, expect_event=True)
            if not fut.done():
                fut.set_exception(exc)
            return
        if fut.done():
            if ev.message:
                log.debug("dropping the result of cancelled request %d (a message: it stays "
                          "unacknowledged until its channel closes)", ev.request_id)
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

    def _on_log(self, ev):
        level = _LOG_LEVELS.get(ev.log_level, logging.INFO)
        if log.isEnabledFor(level):
            log.log(level, "%s", _text(ev.name))

    def _on_return(self, ev):
        from .message import IncomingMessage
        channel = self._channels.get(ev.channel)
        if channel is None or not ev.message:
            log.debug("basic.return on unknown channel %d dropped", ev.channel)
            return
        msg = IncomingMessage._from_c(_ffi.swamqp_message.from_address(ev.message), channel,
                                      with_consumer_tag=False)
        channel._on_return(msg)

    def _on_channel_closed(self, ev):
        number = ev.channel
        expected = self._expected_channel_closes.get(number)
        if expected:
            # The close of a channel object we already retired (its completion came first).
            if expected == 1:
                del self._expected_channel_closes[number]
            else:
                self._expected_channel_closes[number] = expected - 1
            return
        channel = self._channels.get(number)
        if channel is None:
            return
        info = ErrorInfo.from_pointer(ev.error, _ffi.SWAMQP_ERR_CHANNEL_CLOSED) if ev.error else None
        if info is None or info.origin == _ffi.SWAMQP_ORIGIN_NONE:
            if not channel._closing:
                # "Closed after our close" but this channel object is not closing: the event is
                # about an earlier channel with the same number (retired when its close
                # completed), so it must not touch this one.
                log.debug("stale CHANNEL_CLOSED for channel %d ignored", number)
                return
            exc = ChannelClosed("Channel %d closed" % number)
        else:
            exc = make_exception(info)
        self._channel_over(number, exc, expect_event=False)

    def _channel_over(self, number, exc, *, expect_event):
        """Retires channel `number`: marks it closed and fails its pending requests with `exc`.
        With expect_event, the library's CHANNEL_CLOSED event for it is still to come."""
        channel = self._channels.pop(number, None)
        if channel is None:
            return
        if expect_event:
            self._expected_channel_closes[number] = self._expected_channel_closes.get(number, 0) + 1
        channel._set_closed(exc)
        for rid, pending in list(self._pending.items()):
            if pending.channel == number:
                del self._pending[rid]
                if not pending.future.done():
                    pending.future.set_exception(exc)

    def _on_connection_closed(self, ev):
        info = ErrorInfo.from_pointer(ev.error, _ffi.SWAMQP_ERR_CONNECTION_CLOSED) if ev.error else None
        by_us = self._state == _CLOSING
        if self._state == _OPENING and info is not None and info.status not in (
                _ffi.SWAMQP_OK, _ffi.SWAMQP_ERR_CONNECTION_CLOSED):
            # The handshake failed: the open request's error is the most useful one.
            exc = make_exception(info, connection_level=True)
        elif info is not None and info.from_broker:
            exc = make_exception(info, connection_level=True)
            if not isinstance(exc, ConnectionClosed):
                exc = ConnectionClosed(info.message, info.reply_code)
        elif info is None or info.origin == _ffi.SWAMQP_ORIGIN_NONE or info.status in (
                _ffi.SWAMQP_OK, _ffi.SWAMQP_ERR_CONNECTION_CLOSED):
            exc = ConnectionClosed("Closed by application" if by_us else
                                   (info.message if info and info.message else "Connection closed"))
        else:
            exc = make_exception(info, connection_level=True)
            if not isinstance(exc, (ConnectionClosed, ConnectionLostError)):
                lost = ConnectionLostError("The connection was lost: %s" % exc)
                lost.original_exc = exc
                for attr in ("status", "status_name", "origin", "class_id", "method_id"):
                    setattr(lost, attr, getattr(exc, attr))
                exc = lost
        self._connection_over(exc, notify=True, by_us=by_us)
        self._native.remove_reader()
        # Free the handle once this batch is done (its pointers are still being read).
        self._loop.call_soon(self._release_if_closed)

    def _release_if_closed(self):
        if self.closed.done():
            self._release()

    def _connection_over(self, exc, *, notify, by_us=False):
        if self._state != _CLOSING:  # close() finishes the job itself
            self._state = _CLOSED
        if not self.closed.done():
            self.closed.set_exception(exc)
        for number in list(self._channels):
            channel = self._channels.pop(number)
            channel._set_closed(exc)
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(exc)
        callback = self._on_connection_close
        if notify and callback is not None:
            self._loop.call_soon(_run_close_callback, self._loop, callback, None if by_us else exc)


def _run_close_callback(loop, callback, exc):
    result = callback(exc)
    if inspect.isawaitable(result):
        asyncio.ensure_future(result, loop=loop)


def _text(b):
    return _ffi_read(b).decode("utf-8", "replace")


def _ffi_read(b):
    n = b.len
    return ctypes.string_at(b.bytes, n) if n else b""


# ----------------------------------------------------------------------------------------
# connect
# ----------------------------------------------------------------------------------------
_INT_OPTIONS = {
    # kwarg: (options field, scale, maximum)
    "heartbeat": ("heartbeat", 1, 0xFFFF),
    "frame_max": ("frame_max", 1, 0xFFFFFFFF),
    "channel_max": ("channel_max", 1, 0xFFFF),
    "connect_timeout": ("connect_timeout_ms", 1000, 0xFFFFFFFF),  # seconds
    "max_message_size": ("max_message_size", 1, (1 << 64) - 1),
    "event_queue_limit": ("event_queue_limit", 1, (1 << 64) - 1),
    "outbound_limit": ("outbound_limit", 1, (1 << 64) - 1),
}


def _get_loop(loop):
    running = asyncio.get_running_loop()
    if loop is not None and loop is not running:
        raise ValueError("loop must be the running event loop")
    return running


def _c_string(value, what):
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    raw = value.encode("utf-8")
    if b"\0" in raw:
        raise ValueError("%s must not contain NUL characters" % what)
    return raw


async def connect(host='localhost', port=5672, username='guest', password='guest',
                  virtual_host='/', on_connection_close=None, *, loop=None, sock=None, **kwargs):
    """Connects to an AMQP broker and logs in; returns a :class:`Connection`.

    Keyword options: ``heartbeat`` (seconds we propose, 0 = off), ``connection_name`` (shown by
    the broker), ``connect_timeout`` (seconds; bounds resolve + TCP connect + handshake),
    ``frame_max``, ``channel_max``, ``max_message_size``, ``event_queue_limit``,
    ``outbound_limit``. ``sock``: an already connected stream socket to use instead of
    host/port; the connection takes it over (the socket object is detached).
    ``on_connection_close``: called with the exception (None after :meth:`Connection.close`)
    when the connection ends; may be a coroutine function.
    """
    loop = _get_loop(loop)
    unknown = set(kwargs) - set(_INT_OPTIONS) - {"connection_name"}
    if unknown:
        raise TypeError("connect() got unsupported keyword arguments: %s" % ", ".join(sorted(unknown)))
    lib = _ffi.lib
    opts = _ffi.swamqp_connection_options()
    lib.swamqp_connection_options_init(ctypes.byref(opts))
    opts.host = _c_string(host, "host")
    if not isinstance(port, int) or not 0 < port <= 0xFFFF:
        raise ValueError("port must be an int in 1..65535")
    opts.port = port
    opts.vhost = _c_string(virtual_host, "virtual_host")
    opts.user = _c_string(username, "username")
    opts.password = _c_string(password, "password")
    for name, (field, scale, maximum) in _INT_OPTIONS.items():
        if kwargs.get(name) is None:
            continue
        value = kwargs[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("%s must be a number" % name)
        value = int(round(value * scale))
        if not 0 <= value <= maximum:
            raise ValueError("%s out of range" % name)
        setattr(opts, field, value)
    if kwargs.get("connection_name") is not None:
        opts.connection_name = _c_string(kwargs["connection_name"], "connection_name")
    if sock is not None:
        opts.socket_fd = sock.detach()
    handle = ctypes.c_void_p()
    err = _ffi.swamqp_error()
    rc = lib.swamqp_connection_create(ctypes.byref(opts), ctypes.byref(handle), ctypes.byref(err))
    opts.password = None
    if rc:
        raise make_exception(ErrorInfo.take(err, rc), connection_level=True)
    conn = Connection(loop, handle.value, host=host if sock is None else "<socket>",
                      port=port if sock is None else None, virtual_host=virtual_host,
                      username=username, on_connection_close=on_connection_close)
    try:
        await conn._open()
    except BaseException:
        conn._abort()
        raise
    return conn


async def connect_and_open_channel(host='localhost', port=5672, username='guest', password='guest',
                                   virtual_host='/', on_connection_close=None, *, loop=None,
                                   **kwargs):
    """:func:`connect`, then :meth:`Connection.open_channel`; returns ``(connection, channel)``."""
    connection = await connect(host, port, username, password, virtual_host, on_connection_close,
                               loop=loop, **kwargs)
    try:
        channel = await connection.open_channel()
    except BaseException:
        await connection.close()
        raise
    return connection, channel
