"""Connection: the asyncio side of one libswiftamqp connection.

Python never runs on a library thread. The library queues events (completions, deliveries,
returns, confirms, closes, log records) and makes its event fd readable; the loop calls
:meth:`Connection._drain` via ``loop.add_reader``, which takes events in batches of up to 256 with
one ``swamqp_next_events`` call and dispatches each one. Every coroutine starts an ``_async``
request (never a blocking call) and awaits a Future registered under the request id; the
COMPLETION event resolves it. A Future that was cancelled (e.g. by ``asyncio.wait_for``) has its
completion dropped, so a reply never reaches another caller; where the dropped reply left
something behind at the broker (a consumer, a fetched message) it is undone.

Cleanup: a connection still open when its event loop shuts down (``asyncio.run`` and
``asyncio.Runner`` call ``loop.shutdown_asyncgens()``) is closed then; a Connection collected
without :meth:`Connection.close` is freed by a finalizer (also at interpreter exit), which closes
it, stops its I/O thread and removes its reader.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import inspect
import logging
import socket
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Generator, Optional, Tuple, Union

from . import _ffi
from ._errors import ErrorInfo, make_exception
from ._reader import DELIVERY_RECORD, EVENT_CONFIRM, EVENT_HEAD, EVENT_SIZE
from ._table import bytes_struct, decode_table_at, read_bytes
from .tls import merge_ssl
from .exceptions import AMQPTimeoutError, ConnectionClosed, ConnectionLostError

if TYPE_CHECKING:  # pragma: no cover
    from .channel import Channel

__all__ = ["Connection", "ConnectionStats", "connect", "connect_url", "connect_and_open_channel"]

log = logging.getLogger("swiftamqp")

_BATCH = 256          # events per swamqp_next_events call
_PACK_BYTES = 1 << 18  # deliveries of a batch copied at once (swamqp_deliveries_pack); the rest one by one
_MAX_BATCHES = 64     # per readiness callback, so a flood cannot starve the loop (the fd stays readable)
_CLOSE_EVENT_WAIT = 5.0  # seconds close() waits for CONNECTION_CLOSED after close-ok
_CLOSE_WAIT = 10.0       # seconds close() waits in all by default (the library's own close deadline is 5 s)
_LOOP_END_CLOSE_WAIT = 5.0  # seconds the loop-end guard waits for connections to close
DEFAULT_PUBLISH_TIMEOUT = 5.0  # seconds a plain publish waits for room (connect option publish_timeout)
DEFAULT_RPC_TIMEOUT = 60.0     # seconds a coroutine waits for the broker's reply (connect option rpc_timeout)
NO_TIMEOUT = object()          # timeout= of a request the library bounds itself (no rpc_timeout timer)
_MAX_TIMEOUT_MS = 0xFFFFFFFF

_LOG_LEVELS = {
    _ffi.SWAMQP_LOG_ERROR: logging.ERROR,
    _ffi.SWAMQP_LOG_WARNING: logging.WARNING,
    _ffi.SWAMQP_LOG_INFO: logging.INFO,
    _ffi.SWAMQP_LOG_DEBUG: logging.DEBUG,
}

_AUTH_MECHANISMS = {
    None: _ffi.SWAMQP_AUTH_AUTO,
    "AUTO": _ffi.SWAMQP_AUTH_AUTO,
    "PLAIN": _ffi.SWAMQP_AUTH_PLAIN,
    "AMQPLAIN": _ffi.SWAMQP_AUTH_AMQPLAIN,
    "EXTERNAL": _ffi.SWAMQP_AUTH_EXTERNAL,
}

# Connection states
_OPENING, _OPEN, _CLOSING, _CLOSED = "opening", "open", "closing", "closed"

#: Counters of a connection since it was created (see :meth:`Connection.stats`).
ConnectionStats = collections.namedtuple("ConnectionStats", [f[0] for f in _ffi.swamqp_stats._fields_])


class _Pending:
    """A request awaiting its completion event.

    ``convert(ev)`` turns a successful completion into the Future's result; ``orphan(ev)`` is
    called instead when the Future was cancelled before a successful completion arrived (to undo
    what the request left at the broker).
    """

    __slots__ = ("future", "channel", "convert", "orphan", "timer")

    def __init__(self, future, channel, convert, orphan=None, timer=None):
        self.future = future
        self.channel = channel
        self.convert = convert
        self.orphan = orphan
        self.timer = timer


class _Native:
    """The native resources of a connection: the handle and the loop reader on its event fd.

    Kept apart from Connection so that a weakref.finalize can release them after the Connection
    was collected without close(): the reader is removed first (on the loop's thread), then the
    handle is freed (which closes the connection, stops the I/O thread and closes the fd).
    """

    __slots__ = ("handle", "handle_arg", "fd", "loop", "thread_id", "reader", "__weakref__")

    def __init__(self, handle, loop):
        self.handle = handle
        self.handle_arg = ctypes.c_void_p(handle)  # the handle as unchecked functions take it
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
        self.handle_arg = None
        if handle is not None:
            _ffi.lib.swamqp_connection_free(handle)


def _drain_callback(ref):
    conn = ref()
    if conn is not None:
        conn._drain()


def _consume_exception(fut):
    if not fut.cancelled():
        fut.exception()


# ----------------------------------------------------------------------------------------
# Closing what is left open when the event loop ends
# ----------------------------------------------------------------------------------------
class _LoopGuard:
    """Per event loop: the open connections, and an async generator the loop closes at shutdown.

    ``loop.shutdown_asyncgens()`` (called by ``asyncio.run``) runs ``aclose()`` on every async
    generator started in the loop, while the loop still runs: the generator's ``finally`` then
    closes the connections left open, with the close handshake.
    """

    __slots__ = ("connections", "agen", "__weakref__")

    def __init__(self):
        self.connections = weakref.WeakSet()
        self.agen = None


async def _loop_guard_body(guard_ref):
    try:
        yield
    finally:
        guard = guard_ref()
        connections = [c for c in list(guard.connections) if not c.closed.done()] if guard else []
        if connections:
            log.info("event loop shutting down: closing %d connection(s) left open", len(connections))
            tasks = [asyncio.ensure_future(c.close()) for c in connections]
            done, pending = await asyncio.wait(tasks, timeout=_LOOP_END_CLOSE_WAIT)
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.debug("close at loop end failed: %r", task.exception())
            for c in connections:
                c._release()


_guards = weakref.WeakKeyDictionary()  # loop -> _LoopGuard


async def _watch_loop_end(loop, connection):
    guard = _guards.get(loop)
    if guard is None:
        guard = _LoopGuard()
        agen = _loop_guard_body(weakref.ref(guard))
        await agen.asend(None)  # started inside the loop: the loop now tracks it
        guard.agen = agen
        _guards[loop] = guard
    guard.connections.add(connection)


# ----------------------------------------------------------------------------------------
class Connection:
    """A connection to an AMQP broker; made by :func:`connect` or :func:`connect_url`.

    .. attribute:: closed

        A Future that ends, with a :class:`ConnectionClosed` (closed by the application or by
        the broker) or :class:`ConnectionLostError` exception, when the connection is over.

    ``async with connection:`` closes it at the end of the block.
    """

    def __init__(self, loop, handle, *, host, port, virtual_host, username,
                 on_connection_close=None, connection_name=None,
                 publish_timeout=DEFAULT_PUBLISH_TIMEOUT, rpc_timeout=DEFAULT_RPC_TIMEOUT):
        self._loop = loop
        self.publish_timeout = publish_timeout
        self.rpc_timeout = rpc_timeout
        self._tasks = set()  # tasks the binding started (asyncio keeps only weak references)
        self._native = native = _Native(handle, loop)
        self._finalizer = weakref.finalize(self, native.release)
        self._state = _OPENING
        self._pending = {}
        self._channels = {}
        self._expected_channel_closes = {}
        self._on_connection_close = on_connection_close
        self._on_blocked = None
        self._on_unblocked = None
        self._on_recovery_started = None
        self._on_recovered = None
        self._recovering = False
        self._server_named = {}  # name of a server-named queue -> WeakSet of its Queue objects
        self._blocked = False
        self._room_waiters = []
        self._draining = False
        self.host = host
        self.port = port
        self.virtual_host = virtual_host
        self.username = username
        self.connection_name = connection_name
        self.closed = loop.create_future()
        self.closed.add_done_callback(_consume_exception)
        # Reused per call (the loop is single-threaded and no call awaits between fill and read).
        self._events = (_ffi.swamqp_event * _BATCH)()
        self._events_view = memoryview(self._events).cast("B")
        self._pack = ctypes.create_string_buffer(_PACK_BYTES)
        self._packed_ref = ctypes.c_size_t(0)
        self._pack_written_ref = ctypes.c_size_t(0)
        self._count = ctypes.c_size_t()
        self._count_ref = ctypes.byref(self._count)
        self._rid = ctypes.c_uint64()
        self._rid_ref = ctypes.byref(self._rid)
        self._err = _ffi.swamqp_error()
        self._err_ref = ctypes.byref(self._err)
        self._seq = ctypes.c_uint64()
        self._seq_ref = ctypes.byref(self._seq)
        native.add_reader(_drain_callback, weakref.ref(self))

    @property
    def publish_timeout(self) -> float:
        """Seconds a publish waits for room before it raises :class:`PublishTimeout` (the
        ``publish_timeout`` connect option; assignable; 0: raise :class:`WouldBlock` at once)."""
        return self._publish_timeout

    @publish_timeout.setter
    def publish_timeout(self, seconds: float) -> None:
        self._publish_timeout = check_timeout(seconds, "publish_timeout")
        self._publish_timeout_ms = timeout_ms(seconds)
        self._publish_timeout_arg = _ffi.c_timeout(self._publish_timeout_ms)

    @property
    def rpc_timeout(self) -> Optional[float]:
        """Seconds a coroutine waits for the broker's reply before it raises
        :class:`AMQPTimeoutError` (the ``rpc_timeout`` connect option; assignable; None: no
        bound). Calls take ``timeout=`` to override it."""
        return self._rpc_timeout

    @rpc_timeout.setter
    def rpc_timeout(self, seconds: Optional[float]) -> None:
        self._rpc_timeout = check_timeout(seconds, "rpc_timeout", allow_none=True)

    def __repr__(self):
        name = " %r" % self.connection_name if self.connection_name else ""
        return "<swiftamqp.Connection%s %s@%s:%s vhost=%r %s>" % (
            name, self.username, self.host, self.port, self.virtual_host, self._state)

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    # ------------------------------------------------------------------------------------
    # Public API
    # ------------------------------------------------------------------------------------
    async def open_channel(self, *, timeout: Optional[float] = None) -> "Channel":
        """Opens a new channel on this connection and returns the :class:`Channel`.
        ``timeout``: seconds to wait for the broker (default: :attr:`rpc_timeout`)."""
        from .channel import Channel
        self._check_usable()
        number = ctypes.c_uint16()
        rc = _ffi.lib.swamqp_channel_open_async(self._native.handle, ctypes.byref(number),
                                                 self._rid_ref, self._err_ref)
        if rc:
            raise self._error(rc, channel_level=False)
        channel = Channel(self, number.value, loop=self._loop)
        self._channels[channel.id] = channel
        fut = self._register(channel.id, None, timeout=timeout, what="channel.open")
        try:
            await fut
        except BaseException:
            if self._channels.get(channel.id) is channel:
                del self._channels[channel.id]
                if not channel.is_closed():
                    # Cancelled while opening: the channel may open anyway; close it quietly.
                    channel._closing = True
                    _ffi.lib.swamqp_channel_close_async(self._native.handle, channel.id,
                                                        self._rid_ref, self._err_ref)
                    ctypes.memset(self._err_ref, 0, ctypes.sizeof(self._err))
            raise
        return channel

    def is_closed(self) -> bool:
        """True once close() was called or the connection ended."""
        return self._state in (_CLOSING, _CLOSED) or self.closed.done()

    @property
    def blocked(self) -> bool:
        """True while the broker blocks this connection's publishing (connection.blocked)."""
        return self._blocked

    def set_blocked_handler(self, on_blocked: Optional[Callable[[str], Any]],
                            on_unblocked: Optional[Callable[[], Any]] = None) -> None:
        """Sets the functions called when the broker blocks publishing on this connection
        (``on_blocked(reason)``, e.g. a memory or disk alarm) and when it lifts the block
        (``on_unblocked()``). Either may be None or a coroutine function."""
        for fn in (on_blocked, on_unblocked):
            if fn is not None and not callable(fn):
                raise TypeError("handlers must be callable or None, not %r" % (fn,))
        self._on_blocked = on_blocked
        self._on_unblocked = on_unblocked

    @property
    def recovering(self) -> bool:
        """True while automatic recovery reconnects and restores the connection."""
        return self._recovering

    def set_recovery_handler(self, on_started: Optional[Callable[[BaseException], Any]],
                             on_recovered: Optional[Callable[[int], Any]] = None) -> None:
        """With ``automatic_recovery``: ``on_started(exc)`` is called when the connection was
        lost and recovery begins (requests made meanwhile fail with status SWAMQP_ERR_RECOVERING),
        ``on_recovered(failed)`` when it is back (``failed``: how many entities could not be
        restored; each is logged). Either may be None or a coroutine function."""
        for fn in (on_started, on_recovered):
            if fn is not None and not callable(fn):
                raise TypeError("handlers must be callable or None, not %r" % (fn,))
        self._on_recovery_started = on_started
        self._on_recovered = on_recovered

    def stats(self) -> ConnectionStats:
        """The connection's counters (frames, bytes, publishes, confirms, deliveries, returns,
        heartbeats, bytes held by the event queue) as a :class:`ConnectionStats`."""
        handle = self._native.handle
        if handle is None:
            raise ConnectionClosed("The connection is closed and freed")
        stats = _ffi.swamqp_stats()
        rc = _ffi.lib.swamqp_connection_stats(handle, ctypes.byref(stats))
        if rc:
            raise make_exception(ErrorInfo(rc), connection_level=True)
        return ConnectionStats(*[getattr(stats, f) for f in ConnectionStats._fields])

    def server_properties(self) -> dict:
        """The broker's connection.start server properties (``product``, ``version``,
        ``capabilities``...) as a dict; after a recovery, the new broker's."""
        handle = self._native.handle
        if handle is None:
            raise ConnectionClosed("The connection is closed and freed")
        lib = _ffi.lib
        size = ctypes.c_size_t(0)
        lib.swamqp_connection_server_properties(handle, None, 0, ctypes.byref(size), None)  # the size
        buffer = ctypes.create_string_buffer(size.value)
        rc = lib.swamqp_connection_server_properties(handle, buffer, size, ctypes.byref(size), self._err_ref)
        if rc:
            raise self._error(rc, channel_level=False)
        table = ctypes.POINTER(_ffi.swamqp_table)()
        rc = lib.swamqp_table_decode(buffer, size, None, ctypes.byref(table), self._err_ref)
        if rc:
            raise self._error(rc, channel_level=False)
        try:
            return decode_table_at(table.contents.count, table.contents.entries)
        finally:
            lib.swamqp_decoded_free(table)

    async def update_secret(self, new_secret: Union[str, bytes], reason: str = "", *,
                            timeout: Optional[float] = None) -> None:
        """connection.update-secret: hands the broker a new secret (e.g. a refreshed OAuth 2
        token) for this connection. The secret is never logged. ``timeout``: seconds to wait for
        the broker (default: :attr:`rpc_timeout`)."""
        self._check_usable()
        secret = new_secret.encode("utf-8") if isinstance(new_secret, str) else bytes(new_secret)
        why = reason.encode("utf-8")
        # The library copies both during the call; the copy of the secret made here is wiped.
        keep = ctypes.create_string_buffer(secret, len(secret))
        try:
            c_secret = _ffi.swamqp_bytes(ctypes.addressof(keep) if secret else None, len(secret))
            c_reason = _ffi.swamqp_bytes(ctypes.cast(why, ctypes.c_void_p).value if why else None, len(why))
            fut = self._start(0, None, _ffi.lib.swamqp_connection_update_secret_async, c_secret, c_reason,
                              timeout=timeout)
        finally:
            ctypes.memset(keep, 0, len(secret))
        await fut

    async def close(self, *, timeout: Optional[float] = None) -> None:
        """Closes the connection (connection.close / close-ok), then frees its native resources.

        Waits at most ``timeout`` seconds for the broker (default: the library's own 5 s close
        deadline, and 10 s in all); a broker that does not answer in time does not make it
        raise: the connection is over either way."""
        if timeout is not None:
            check_timeout(timeout, "timeout")
        if self._state == _CLOSED or self.closed.done():
            self._release()
            return
        if self._state == _CLOSING:
            log.warning("Called `close` on already closing connection...")
            await asyncio.wait({self.closed}, timeout=timeout)
            return
        self._state = _CLOSING
        deadline = self._loop.time() + (timeout if timeout is not None else _CLOSE_WAIT)
        try:
            rc = _ffi.lib.swamqp_connection_close_async(self._native.handle, self._rid_ref,
                                                        self._err_ref)
            if rc == 0:
                try:
                    # the library gives up on the close-ok after 5 s by itself
                    await self._register(0, None, what="connection.close",
                                         timeout=timeout if timeout is not None else _CLOSE_WAIT)
                except (ConnectionClosed, ConnectionLostError):
                    pass
                except AMQPTimeoutError as exc:
                    log.warning("%s; freeing the connection anyway", exc)
            else:
                info = ErrorInfo.take(self._err, rc)
                log.debug("swamqp_connection_close_async: %s", make_exception(info))
            if not self.closed.done():
                self._drain()
            wait = min(_CLOSE_EVENT_WAIT, max(0.0, deadline - self._loop.time()))
            if not self.closed.done() and wait > 0:
                await asyncio.wait({self.closed}, timeout=wait)
            if not self.closed.done():
                log.warning("no SWAMQP_EVENT_CONNECTION_CLOSED %.1fs after close; freeing anyway",
                            wait)
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

    def _register(self, channel, convert, orphan=None, *, timeout=None, what="request"):
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

    def _start(self, channel, convert, fn, *args, orphan=None, timeout=None):
        """Calls an `_async` C function fn(handle, *args, &request_id, &error); returns its
        Future (see _register for `timeout`)."""
        if timeout is not None and timeout is not NO_TIMEOUT:
            check_timeout(timeout, "timeout")  # before anything is sent
        rc = fn(self._native.handle, *args, self._rid_ref, self._err_ref)
        if rc:
            raise self._error(rc, channel_level=channel != 0)
        return self._register(channel, convert, orphan, timeout=timeout, what=_request_name(fn))

    def _spawn(self, awaitable):
        """Runs `awaitable` as a task kept referenced until it ends (a task only the loop knows
        can be garbage collected mid-run)."""
        task = asyncio.ensure_future(awaitable, loop=self._loop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _start_ignored(self, fn, *args):
        """Starts an `_async` request whose completion nobody awaits (errors are only logged)."""
        handle = self._native.handle
        if handle is None or self.closed.done():
            return
        rc = fn(handle, *args, self._rid_ref, self._err_ref)
        if rc:
            log.debug("%s: %s", getattr(fn, "__name__", fn), make_exception(ErrorInfo.take(self._err, rc)))

    async def _wait_for_room(self, delay):
        """Waits until publishing may have room again: a confirm, unblocked or flow event, or
        `delay` seconds (the outbound buffer drains without an event)."""
        fut = self._loop.create_future()
        self._room_waiters.append(fut)
        timer = self._loop.call_later(delay, _resolve, fut)
        try:
            await fut
        finally:
            timer.cancel()

    def _wake_publishers(self):
        waiters, self._room_waiters = self._room_waiters, []
        for fut in waiters:
            _resolve(fut)

    def _release(self):
        """Frees the native side; whatever still waits learns that the connection is over."""
        if not self.closed.done():  # e.g. close() was cancelled before the close-ok
            self._connection_over(ConnectionClosed("Closed by application"), notify=False)
        self._state = _CLOSED
        self._native.release()

    async def _open(self):
        # bounded by the library's connect_timeout, not by rpc_timeout
        fut = self._start(0, None, _ffi.lib.swamqp_connection_open_async, timeout=NO_TIMEOUT)
        await fut
        if self._state == _OPENING:
            self._state = _OPEN
        await _watch_loop_end(self._loop, self)

    def _abort(self):
        """Frees everything after a failed or cancelled open (no close handshake to wait for)."""
        if not self.closed.done():
            self._connection_over(ConnectionClosed("The connection failed to open"), notify=False)
        self._release()

    # ------------------------------------------------------------------------------------
    # Events
    # ------------------------------------------------------------------------------------
    def _drain(self):
        if self._draining:  # never re-entered: the batch being dispatched would be released
            return
        self._draining = True
        try:
            self._drain_batches()
        finally:
            self._draining = False

    def _drain_batches(self):
        next_events = _ffi.lib.swamqp_next_events
        events = self._events
        view = self._events_view
        head = EVENT_HEAD.unpack_from
        count = self._count
        native = self._native
        channels = self._channels
        delivery = _ffi.SWAMQP_EVENT_DELIVERY
        completion = _ffi.SWAMQP_EVENT_COMPLETION
        confirm_ack, confirm_nack = _ffi.SWAMQP_EVENT_CONFIRM_ACK, _ffi.SWAMQP_EVENT_CONFIRM_NACK
        confirm_fields = EVENT_CONFIRM.unpack_from
        pack = _ffi.lib.swamqp_deliveries_pack
        pack_buffer = self._pack
        packed_ref, written_ref = self._packed_ref, self._pack_written_ref
        record_at = DELIVERY_RECORD.unpack_from
        string_at = ctypes._string_at
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
            # The batch's deliveries in one buffer, read with one call (the rest: one by one).
            packed = 0
            if pack(events, n, pack_buffer, _PACK_BYTES, packed_ref, written_ref, None) == 0:
                packed = packed_ref.value
                blob = string_at(pack_buffer, written_ref.value)
                offset = 0
            for i in range(n):
                kind, number, message = head(view, i * EVENT_SIZE)
                try:
                    if kind == delivery:
                        # the hot path: no ctypes object for the event
                        channel = channels.get(number)
                        if i < packed:
                            record = record_at(blob, offset)
                            start = offset + 56
                            offset += record[0]
                            if channel is not None:
                                channel._on_packed_delivery(record, blob, start, message)
                            else:
                                log.debug("delivery on unknown channel %d dropped", number)
                        elif channel is not None:
                            channel._on_delivery(message)
                        else:
                            log.debug("delivery on unknown channel %d dropped", number)
                    elif kind == confirm_ack or kind == confirm_nack:
                        channel = channels.get(number)
                        if channel is not None:
                            status, flags, tag = confirm_fields(view, i * EVENT_SIZE)
                            channel._on_confirm(tag, flags, status, kind == confirm_ack,
                                                events[i].error if status else None)
                        if self._room_waiters:
                            self._wake_publishers()
                    elif kind == completion:
                        self._on_completion(events[i])
                    else:
                        self._dispatch(events[i], kind)
                except Exception as exc:  # a bug here must not stop the other events
                    self._loop.call_exception_handler({
                        "message": "swiftamqp: error while dispatching event type %d" % kind,
                        "exception": exc,
                        "connection": self,
                    })
            if n < _BATCH:
                return

    def _dispatch(self, ev, kind):
        if kind == _ffi.SWAMQP_EVENT_LOG:
            level = _LOG_LEVELS.get(ev.log_level, logging.INFO)
            if log.isEnabledFor(level):
                log.log(level, "%s", _text(ev.name))
        elif kind == _ffi.SWAMQP_EVENT_RETURN:
            self._on_return(ev)
        elif kind == _ffi.SWAMQP_EVENT_CHANNEL_CLOSED:
            self._on_channel_closed(ev)
        elif kind == _ffi.SWAMQP_EVENT_CONNECTION_CLOSED:
            self._on_connection_closed(ev)
        elif kind == _ffi.SWAMQP_EVENT_CONSUMER_CANCELLED:
            channel = self._channels.get(ev.channel)
            if channel is not None:
                channel._on_consumer_cancelled(read_bytes(ev.name))
        elif kind == _ffi.SWAMQP_EVENT_BLOCKED:
            self._blocked = True
            reason = _text(ev.name)
            log.debug("BLOCKED event: %s", reason)  # the library logs it too
            if self._on_blocked is not None:
                self._call_handler(self._on_blocked, reason)
        elif kind == _ffi.SWAMQP_EVENT_UNBLOCKED:
            self._blocked = False
            log.debug("UNBLOCKED event")
            self._wake_publishers()
            if self._on_unblocked is not None:
                self._call_handler(self._on_unblocked)
        elif kind == _ffi.SWAMQP_EVENT_FLOW:
            channel = self._channels.get(ev.channel)
            active = bool(ev.flags & _ffi.SWAMQP_EVENT_FLAG_ACTIVE)
            log.info("channel %d flow %s by the broker", ev.channel, "resumed" if active else "stopped")
            if channel is not None:
                channel._flow_active = active
            if active:
                self._wake_publishers()
        elif kind == _ffi.SWAMQP_EVENT_RECOVERY_STARTED:
            self._recovering = True
            exc = make_exception(ErrorInfo.from_pointer(ev.error, _ffi.SWAMQP_ERR_CONNECTION_LOST),
                                 connection_level=True)
            log.debug("RECOVERY_STARTED event: %s", exc)  # the library logs it too
            if self._on_recovery_started is not None:
                self._call_handler(self._on_recovery_started, exc)
        elif kind == _ffi.SWAMQP_EVENT_RECOVERY_ENTITY_FAILED:
            info = ErrorInfo.from_pointer(ev.error, 0)
            log.debug("RECOVERY_ENTITY_FAILED event: %s: %s", _text(ev.name),
                      info.message or _ffi.status_name(info.status))
        elif kind == _ffi.SWAMQP_EVENT_RECOVERED:
            self._recovering = False
            log.debug("RECOVERED event (%d entities not restored)", ev.message_count)
            self._wake_publishers()
            if self._on_recovered is not None:
                self._call_handler(self._on_recovered, ev.message_count)
        elif kind == _ffi.SWAMQP_EVENT_QUEUE_RENAMED:
            self._on_queue_renamed(read_bytes(ev.payload).decode("utf-8", "surrogateescape"),
                                   read_bytes(ev.name).decode("utf-8", "surrogateescape"))
        elif kind == _ffi.SWAMQP_EVENT_RECOVERY_FAILED:
            info = ErrorInfo.from_pointer(ev.error, 0)
            log.debug("RECOVERY_FAILED event: %s", info.message or _ffi.status_name(info.status))
        else:
            # RAW_FRAME (raw channels are not offered by this binding) and future event types.
            log.debug("unhandled event type %d on channel %d", kind, ev.channel)

    def _track_server_named(self, queue):
        self._server_named.setdefault(queue.name, weakref.WeakSet()).add(queue)

    def _on_queue_renamed(self, old, new):
        """Recovery re-declared the server-named queue `old` as `new`: its Queue objects follow."""
        queues = self._server_named.pop(old, None)
        if not queues:
            return
        for queue in list(queues):
            queue._renamed(new)
        self._server_named.setdefault(new, weakref.WeakSet()).update(queues)

    def _call_handler(self, fn, *args):
        """Runs an application callback now; its exception goes to the loop's exception handler
        and a returned awaitable is scheduled as a task."""
        try:
            result = fn(*args)
            if inspect.isawaitable(result):
                self._spawn(result)
        except Exception as exc:
            self._loop.call_exception_handler({
                "message": "Exception in swiftamqp callback %r" % (fn,),
                "exception": exc,
                "connection": self,
            })

    def _on_completion(self, ev):
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

    def _on_return(self, ev):
        from .message import IncomingMessage
        channel = self._channels.get(ev.channel)
        if channel is None or not ev.message:
            log.debug("basic.return on unknown channel %d dropped", ev.channel)
            return
        msg = IncomingMessage._from_address(ev.message, channel, None, returned=True)
        channel._on_return(msg)

    def _on_channel_closed(self, ev):
        from .exceptions import ChannelClosed
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
        for rid, pending in list(self._pending.items()):
            if pending.channel == number:
                del self._pending[rid]
                if pending.timer is not None:
                    pending.timer.cancel()
                if not pending.future.done():
                    pending.future.set_exception(exc)
        channel._set_closed(exc)
        self._wake_publishers()

    def _on_connection_closed(self, ev):
        info = ErrorInfo.from_pointer(ev.error, _ffi.SWAMQP_ERR_CONNECTION_CLOSED) if ev.error else None
        by_us = self._state == _CLOSING
        if self._state == _OPENING and info is not None and info.status not in (
                _ffi.SWAMQP_OK, _ffi.SWAMQP_ERR_CONNECTION_CLOSED, _ffi.SWAMQP_ERR_CLOSED_BY_APPLICATION):
            # The handshake failed: the open request's error is the most useful one.
            exc = make_exception(info, connection_level=True)
        elif info is not None and info.from_broker:
            exc = make_exception(info, connection_level=True)
            if not isinstance(exc, ConnectionClosed):
                exc = ConnectionClosed(info.message, info.reply_code)
        elif info is None or info.origin == _ffi.SWAMQP_ORIGIN_NONE or info.status in (
                _ffi.SWAMQP_OK, _ffi.SWAMQP_ERR_CONNECTION_CLOSED, _ffi.SWAMQP_ERR_CLOSED_BY_APPLICATION):
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
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if p.timer is not None:
                p.timer.cancel()
            if not p.future.done():
                p.future.set_exception(exc)
        for number in list(self._channels):
            channel = self._channels.pop(number)
            channel._set_closed(exc)
        self._wake_publishers()
        callback = self._on_connection_close
        if notify and callback is not None:
            self._loop.call_soon(self._call_handler, callback, None if by_us else exc)


def _resolve(fut):
    if not fut.done():
        fut.set_result(None)


def expire_request(fut, what, seconds):
    if not fut.done():
        exc = AMQPTimeoutError("%s: no reply from the broker within %gs (timeout)" % (what, seconds),
                               _ffi.SWAMQP_ERR_TIMEOUT)
        exc.status_name = _ffi.status_name(_ffi.SWAMQP_ERR_TIMEOUT)
        fut.set_exception(exc)


def _request_name(fn):
    """'queue_declare' for swamqp_queue_declare_async (for error texts)."""
    name = getattr(fn, "__name__", "request")
    if name.startswith("swamqp_"):
        name = name[len("swamqp_"):]
    if name.endswith("_async"):
        name = name[:-len("_async")]
    return name


def _text(b):
    return read_bytes(b).decode("utf-8", "replace")


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
    "max_unconfirmed": ("max_unconfirmed", 1, 0xFFFFFFFF),
    "recovery_initial_delay": ("recovery_initial_delay_ms", 1000, 0xFFFFFFFF),  # seconds
    "recovery_max_delay": ("recovery_max_delay_ms", 1000, 0xFFFFFFFF),  # seconds
    "recovery_max_attempts": ("recovery_max_attempts", 1, 0xFFFFFFFF),
}
_TLS_STRINGS = ("tls_ca_file", "tls_ca_dir", "tls_cert_file", "tls_key_file", "tls_key_password",
                "tls_server_name", "tls_ciphers")
_TLS_FLAGS = ("tls", "tls_insecure_skip_verify", "tls_insecure_skip_hostname_check")
_FLAGS = _TLS_FLAGS + ("automatic_recovery",)
_OTHER_OPTIONS = ({"connection_name", "auth_mechanism", "tls_ca_certificates", "endpoints"}
                  | set(_TLS_STRINGS) | set(_FLAGS))


def check_timeout(value, what, *, allow_none=False):
    """`value` (seconds) checked: a number >= 0 (None too with `allow_none`)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number of seconds, not %r" % (what, value))
    if not 0 <= value <= _MAX_TIMEOUT_MS / 1000:
        raise ValueError("%s out of range (0..%d seconds): %r" % (what, _MAX_TIMEOUT_MS // 1000, value))
    return value


def timeout_ms(seconds):
    """Seconds -> whole milliseconds for a uint32_t timeout_ms argument (a positive timeout
    never rounds down to 0, which would mean "do not wait")."""
    ms = int(seconds * 1000 + 0.5)
    if seconds > 0 and ms == 0:
        ms = 1
    return min(ms, _MAX_TIMEOUT_MS)


def _python_options(kwargs):
    """(kwargs without the options the binding handles itself, those options)."""
    if "publish_timeout" not in kwargs and "rpc_timeout" not in kwargs:
        return kwargs, {}
    kwargs = dict(kwargs)
    out = {}
    if "publish_timeout" in kwargs:
        value = kwargs.pop("publish_timeout")
        if value is not None:
            out["publish_timeout"] = check_timeout(value, "publish_timeout")
    if "rpc_timeout" in kwargs:
        out["rpc_timeout"] = check_timeout(kwargs.pop("rpc_timeout"), "rpc_timeout", allow_none=True)
    return kwargs, out


def _endpoint(endpoint):
    """(host, port) from a (host, port) pair or a "host:port" / "[v6]:port" / "host" string."""
    if isinstance(endpoint, str):
        if endpoint.startswith("["):  # [IPv6]:port
            host, _, rest = endpoint[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else (rest or "5672")
        else:
            host, sep, port = endpoint.partition(":")
            port = port if sep else "5672"
        try:
            port = int(port)
        except ValueError:
            raise ValueError("bad endpoint %r: expected host:port" % (endpoint,)) from None
    else:
        host, port = endpoint
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= 0xFFFF:
        raise ValueError("bad endpoint port in %r" % (endpoint,))
    return host, port


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


def _apply_options(opts, kwargs, keep):
    """Sets the options of `kwargs`; what the struct points into is appended to `keep`, which
    must live until swamqp_connection_create returned."""
    unknown = set(kwargs) - set(_INT_OPTIONS) - _OTHER_OPTIONS
    if unknown:
        raise TypeError("connect() got unsupported keyword arguments: %s" % ", ".join(sorted(unknown)))
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
    if "auth_mechanism" in kwargs:
        mechanism = kwargs["auth_mechanism"]
        if isinstance(mechanism, str):
            mechanism = mechanism.upper()
        if mechanism not in _AUTH_MECHANISMS:
            raise ValueError("auth_mechanism must be 'PLAIN', 'AMQPLAIN', 'EXTERNAL' or None "
                             "(automatic), not %r" % (kwargs["auth_mechanism"],))
        opts.auth_mechanism = _AUTH_MECHANISMS[mechanism]
    for field in _FLAGS:
        if kwargs.get(field) is not None:
            setattr(opts, field, bool(kwargs[field]))
    for field in _TLS_STRINGS:
        if kwargs.get(field) is not None:
            setattr(opts, field, _c_string(kwargs[field], field))
    certificates = kwargs.get("tls_ca_certificates")
    if certificates:
        certificates = [bytes(c) for c in certificates]
        array = (_ffi.swamqp_bytes * len(certificates))()
        for i, der in enumerate(certificates):
            array[i] = bytes_struct(der, keep)
        keep.append(array)
        opts.tls_ca_certificates = ctypes.addressof(array)
        opts.tls_ca_certificate_count = len(certificates)
    endpoints = kwargs.get("endpoints")
    if endpoints:
        array = (_ffi.swamqp_endpoint * len(endpoints))()
        for i, endpoint in enumerate(endpoints):
            host, port = _endpoint(endpoint)
            raw = _c_string(host, "endpoint host")
            keep.append(raw)
            array[i].host = raw
            array[i].port = port
        keep.append(array)
        opts.endpoints = ctypes.addressof(array)
        opts.endpoint_count = len(endpoints)
    name = kwargs.get("connection_name")
    if name is not None:
        opts.connection_name = _c_string(name, "connection_name")
    return name


async def _create_and_open(loop, opts, keep, *, sock=None, host, port, virtual_host, username, connection_name,
                           on_connection_close, python_options):
    handle = ctypes.c_void_p()
    err = _ffi.swamqp_error()
    rc = _ffi.lib.swamqp_connection_create(ctypes.byref(opts), ctypes.byref(handle), ctypes.byref(err))
    opts.password = None
    opts.tls_key_password = None
    del keep  # the memory the options pointed into: needed until create copied it
    if rc:
        raise make_exception(ErrorInfo.take(err, rc), connection_level=True)
    if sock is not None:
        sock.detach()  # the connection owns the descriptor now (on failure it stayed the caller's)
    conn = Connection(loop, handle.value, host=host, port=port, virtual_host=virtual_host,
                      username=username, on_connection_close=on_connection_close,
                      connection_name=connection_name, **python_options)
    try:
        await conn._open()
    except BaseException:
        conn._abort()
        raise
    return conn


async def _connect(host='localhost', port=5672, username='guest', password='guest',
                   virtual_host='/', on_connection_close=None, *, loop=None, sock=None, **kwargs):
    loop = _get_loop(loop)
    kwargs, python_options = _python_options(kwargs)
    opts = _ffi.new_connection_options()
    _ffi.lib.swamqp_connection_options_init(ctypes.byref(opts))
    opts.host = _c_string(host, "host")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= 0xFFFF:
        raise ValueError("port must be an int in 1..65535")
    opts.port = port
    opts.vhost = _c_string(virtual_host, "virtual_host")
    opts.user = _c_string(username, "username")
    opts.password = _c_string(password, "password")
    keep = []
    name = _apply_options(opts, merge_ssl(kwargs), keep)
    if on_connection_close is not None and not callable(on_connection_close):
        raise TypeError("on_connection_close must be callable")
    if sock is not None:
        fd = sock.fileno()
        if fd < 0:
            raise ValueError("sock is closed")
        opts.socket_fd = fd
    return await _create_and_open(
        loop, opts, keep, sock=sock, host=host if sock is None else "<socket>", port=port if sock is None else None,
        virtual_host=virtual_host, username=username, connection_name=name,
        on_connection_close=on_connection_close, python_options=python_options)


async def _connect_url(url, on_connection_close=None, *, loop=None, **kwargs):
    loop = _get_loop(loop)
    kwargs, python_options = _python_options(kwargs)
    opts = _ffi.new_connection_options()
    _ffi.lib.swamqp_connection_options_init(ctypes.byref(opts))
    err = _ffi.swamqp_error()
    if isinstance(url, (list, tuple)):
        url = " ".join(url)
    parse = _ffi.lib.swamqp_parse_url_list if (" " in url.strip() or "," in url) else _ffi.lib.swamqp_parse_url
    rc = parse(_c_string(url.strip(), "url"), ctypes.byref(opts), ctypes.byref(err))
    if rc:
        info = ErrorInfo.take(err, rc)
        # The URL itself is not repeated: it may carry a password.
        raise ValueError(info.message or "invalid AMQP URL (%s)" % _ffi.status_name(rc))
    # The strings point into storage of the library valid until the next parse on this thread:
    # copy what is shown, and create the connection before anything else can parse.
    host = (opts.host or b"").decode("utf-8", "replace")
    vhost = (opts.vhost or b"").decode("utf-8", "replace")
    user = (opts.user or b"").decode("utf-8", "replace")
    port = opts.port
    keep = []
    name = _apply_options(opts, merge_ssl(kwargs), keep)
    if on_connection_close is not None and not callable(on_connection_close):
        raise TypeError("on_connection_close must be callable")
    return await _create_and_open(loop, opts, keep, host=host, port=port, virtual_host=vhost, username=user,
                                  connection_name=name, on_connection_close=on_connection_close,
                                  python_options=python_options)


class _Connecting:
    """What :func:`connect` and :func:`connect_url` return: await it for the Connection, or use
    it as ``async with connect(...) as connection:`` (closed at the end of the block)."""

    __slots__ = ("_factory", "_args", "_kwargs", "_connection")

    def __init__(self, factory, args, kwargs):
        self._factory = factory
        self._args = args
        self._kwargs = kwargs
        self._connection = None

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._factory(*self._args, **self._kwargs).__await__()

    async def __aenter__(self) -> Connection:
        self._connection = await self
        return self._connection

    async def __aexit__(self, *exc_info):
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


def connect(host: str = 'localhost', port: int = 5672, username: str = 'guest',
            password: str = 'guest', virtual_host: str = '/',
            on_connection_close: Optional[Callable[[Optional[BaseException]], Any]] = None, *,
            loop: Optional[asyncio.AbstractEventLoop] = None, sock: Optional[socket.socket] = None,
            **kwargs: Any) -> _Connecting:
    """Connects to an AMQP broker and logs in; ``await`` it for a :class:`Connection`, or
    ``async with connect(...) as connection:``.

    Keyword options: ``heartbeat`` (seconds we propose, 0 = off), ``connection_name`` (shown by
    the broker), ``connect_timeout`` (seconds; bounds resolve + TCP connect + handshake),
    ``frame_max``, ``channel_max``, ``max_message_size``, ``event_queue_limit``,
    ``outbound_limit``, ``max_unconfirmed`` (per confirm-mode channel: publishing waits while
    this many publishes await their confirms; 0 = no bound), ``publish_timeout`` (seconds a
    publish waits for room before raising :class:`PublishTimeout`; default 5; 0: raise
    :class:`WouldBlock` at once), ``rpc_timeout`` (seconds every coroutine waits for the
    broker's reply before raising :class:`AMQPTimeoutError`, unless given ``timeout=``; default
    60; None: no bound), ``auth_mechanism`` ('PLAIN',
    'AMQPLAIN', 'EXTERNAL' or None for automatic). TLS (the system OpenSSL; the broker's
    certificate and host name are verified unless said otherwise): ``tls=True``,
    ``tls_ca_file``, ``tls_ca_dir``, ``tls_ca_certificates`` (a list of DER bytes),
    ``tls_cert_file``, ``tls_key_file``, ``tls_key_password``, ``tls_server_name``,
    ``tls_ciphers``, ``tls_insecure_skip_verify``, ``tls_insecure_skip_hostname_check``.
    ``ssl`` (as asynqp programs pass it): ``True`` (TLS, verified against the system CAs), a
    :class:`~swiftamqp.TLSOptions`, or an :class:`ssl.SSLContext` (translated, see
    :mod:`swiftamqp.tls`); ``None``/``False``: nothing. Explicit ``tls_*`` options win over what
    ``ssl`` stands for. ``ssl`` does not change the port: pass ``port=5671`` for AMQPS.
    Automatic recovery (off by default): ``automatic_recovery=True`` reconnects after an
    unexpected loss and restores channels, qos, confirm and tx modes, exchanges, queues,
    bindings and consumers; ``recovery_initial_delay`` and ``recovery_max_delay`` (seconds),
    ``recovery_max_attempts`` (0: never give up), ``endpoints`` (further ``(host, port)`` or
    ``"host:port"`` to try). See :meth:`Connection.set_recovery_handler`. ``sock``: an already connected stream socket to use
    instead of host/port; the connection takes it over (the socket object is detached).
    ``on_connection_close``: called with the exception (None after :meth:`Connection.close`)
    when the connection ends; may be a coroutine function.
    """
    return _Connecting(_connect, (host, port, username, password, virtual_host, on_connection_close),
                       dict(kwargs, loop=loop, sock=sock))


def connect_robust(host: str = 'localhost', port: int = 5672, username: str = 'guest',
                   password: str = 'guest', virtual_host: str = '/',
                   on_connection_close: Optional[Callable[[Optional[BaseException]], Any]] = None, *,
                   loop: Optional[asyncio.AbstractEventLoop] = None, **kwargs: Any) -> _Connecting:
    """:func:`connect` with automatic recovery on: after an unexpected loss the connection
    reconnects (capped exponential backoff with jitter, across ``endpoints``) and restores its
    channels, qos, confirm and tx modes, exchanges, queues (server-named ones follow their new
    name), bindings and consumers. Requests made while it recovers raise :class:`Recovering`;
    acking a message delivered before the recovery raises :class:`StaleDeliveryTag` (the broker
    redelivers it). ``connect`` keeps asynqp's behaviour: a lost connection stays lost."""
    kwargs.setdefault("automatic_recovery", True)
    return connect(host, port, username, password, virtual_host, on_connection_close, loop=loop, **kwargs)


def connect_url(url: str, on_connection_close: Optional[Callable[[Optional[BaseException]], Any]] = None,
                *, loop: Optional[asyncio.AbstractEventLoop] = None, **kwargs: Any) -> _Connecting:
    """:func:`connect` with an ``amqp://user:password@host:port/vhost?heartbeat=..`` (or
    ``amqps://``) URL, parsed by the library with RabbitMQ's URI rules (``/%2f`` names the vhost
    "/"). Several URLs (a list, or separated by commas or spaces: a cluster's nodes) name further
    endpoints and turn automatic recovery on. Keyword options as for :func:`connect`; they
    override the URL's query."""
    return _Connecting(_connect_url, (url, on_connection_close), dict(kwargs, loop=loop))


async def connect_and_open_channel(host: str = 'localhost', port: int = 5672, username: str = 'guest',
                                   password: str = 'guest', virtual_host: str = '/',
                                   on_connection_close: Optional[Callable[[Optional[BaseException]], Any]] = None,
                                   *, loop: Optional[asyncio.AbstractEventLoop] = None,
                                   **kwargs: Any) -> Tuple[Connection, "Channel"]:
    """:func:`connect`, then :meth:`Connection.open_channel`; returns ``(connection, channel)``."""
    connection = await connect(host, port, username, password, virtual_host, on_connection_close,
                               loop=loop, **kwargs)
    try:
        channel = await connection.open_channel()
    except BaseException:
        await connection.close()
        raise
    return connection, channel
