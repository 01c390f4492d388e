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
# Where the pieces are: the native handle and the loop-end guard in _native.py, request Futures
# in _requests.py, the event pump in _events.py (both mixed into Connection), timeouts in
# _timeouts.py, connect's options in _connect.py. Connection and the connect functions are here.

from __future__ import annotations

import asyncio
import collections
import ctypes
import logging
import socket
import weakref
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, NamedTuple, Optional, Tuple, Union

from . import _ffi
from ._connect import _Connecting, _connect_arguments, _url_arguments
from ._errors import ErrorInfo, make_exception
from ._events import _BATCH, _CLOSED, _CLOSING, _OPEN, _OPENING, _PACK_BYTES, _EventPump
from ._native import _drain_callback, _Native, _watch_loop_end
from ._requests import _Requests
from ._table import decode_table_at
from ._timeouts import (  # noqa: F401 - expire_request and the defaults: also swiftamqp.connection's names
    DEFAULT_PUBLISH_TIMEOUT, DEFAULT_RPC_TIMEOUT, NO_TIMEOUT, check_timeout, expire_request, timeout_ms,
)
from .channel import Channel
from .exceptions import AMQPTimeoutError, ConnectionClosed, ConnectionLostError

__all__ = ["Connection", "ConnectionStats", "connect", "connect_url", "connect_and_open_channel"]

log = logging.getLogger("swiftamqp")

_CLOSE_EVENT_WAIT = 5.0  # seconds close() waits for CONNECTION_CLOSED after close-ok
_CLOSE_WAIT = 10.0       # seconds close() waits in all by default (the library's own close deadline is 5 s)

if TYPE_CHECKING:
    # What type checkers see: mypy takes a namedtuple's fields only from a literal, so those of
    # swamqp_stats are spelled out here (keep them in step with _ffi_types.swamqp_stats).
    class ConnectionStats(NamedTuple):
        frames_in: int
        frames_out: int
        bytes_in: int
        bytes_out: int
        publishes: int
        confirms_acked: int
        confirms_nacked: int
        deliveries: int
        returns: int
        heartbeats_in: int
        heartbeats_out: int
        events_queued_bytes: int
else:
    #: Counters of a connection since it was created (see :meth:`Connection.stats`).
    ConnectionStats = collections.namedtuple("ConnectionStats", [f[0] for f in _ffi.swamqp_stats._fields_])


def _consume_exception(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()


class Connection(_Requests, _EventPump):
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
        self._late_routes = {}  # request id of an abandoned no-ack get/consume -> its Queue
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
        self._check_usable()
        number = ctypes.c_uint16()
        rc = _ffi.lib.swamqp_channel_open_async(self._native.handle, ctypes.byref(number),
                                                 self._rid_ref, self._err_ref)
        if rc:
            raise self._error(rc, channel_level=False)
        channel = Channel(self, number.value, loop=self._loop)
        channel._generation = self._rid.value  # what its CHANNEL_CLOSED event will name
        self._channels[channel.id] = channel
        fut = self._register(channel.id, None, timeout=timeout, what="channel.open")
        try:
            await fut
        except BaseException as exc:
            # Timed out or cancelled: the library closes the channel should it open after all.
            if self._channels.get(channel.id) is channel:
                del self._channels[channel.id]
                channel._closing = True
            raise exc
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
            # ctypes.cast takes bytes (its first argument goes through c_void_p.from_param), but
            # the ctypes stubs do not list bytes among cast's argument types.
            reason_address = ctypes.cast(why, ctypes.c_void_p).value if why else None  # type: ignore[arg-type]
            c_reason = _ffi.swamqp_bytes(reason_address, len(why))
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
    def _check_usable(self) -> None:
        if self._state == _OPEN and not self.closed.done():
            return
        if self.closed.done():
            raise self.closed.exception()  # type: ignore[misc]
        if self._state == _CLOSING:
            raise ConnectionClosed("Closed by application")
        raise ConnectionClosed("The connection is not open")

    def _spawn(self, awaitable: Awaitable[Any]) -> asyncio.Future:
        """Runs `awaitable` as a task kept referenced until it ends (a task only the loop knows
        can be garbage collected mid-run)."""
        task = asyncio.ensure_future(awaitable, loop=self._loop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _wait_for_room(self, delay: float) -> None:
        """Waits until publishing may have room again: a confirm, unblocked or flow event, or
        `delay` seconds (the outbound buffer drains without an event)."""
        fut = self._loop.create_future()
        self._room_waiters.append(fut)
        timer = self._loop.call_later(delay, _resolve, fut)
        try:
            await fut
        finally:
            timer.cancel()

    def _wake_publishers(self) -> None:
        waiters, self._room_waiters = self._room_waiters, []
        for fut in waiters:
            _resolve(fut)

    def _release(self) -> None:
        """Frees the native side; whatever still waits learns that the connection is over."""
        if not self.closed.done():  # e.g. close() was cancelled before the close-ok
            self._connection_over(ConnectionClosed("Closed by application"), notify=False)
        self._state = _CLOSED
        self._native.release()

    async def _open(self) -> None:
        # bounded by the library's connect_timeout, not by rpc_timeout
        fut = self._start(0, None, _ffi.lib.swamqp_connection_open_async, timeout=NO_TIMEOUT)
        await fut
        if self._state == _OPENING:
            self._state = _OPEN
        await _watch_loop_end(self._loop, self)

    def _abort(self) -> None:
        """Frees everything after a failed or cancelled open (no close handshake to wait for)."""
        if not self.closed.done():
            self._connection_over(ConnectionClosed("The connection failed to open"), notify=False)
        self._release()


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


async def _create_and_open(loop: asyncio.AbstractEventLoop, opts: Any, keep: List[Any], *,
                           sock: Optional[socket.socket] = None, host: str, port: Optional[int],
                           virtual_host: str, username: str, connection_name: Optional[str],
                           on_connection_close: Optional[Callable[..., Any]],
                           python_options: Dict[str, Any]) -> Connection:
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


async def _connect(*args: Any, **kwargs: Any) -> Connection:
    loop, opts, keep, arguments = _connect_arguments(*args, **kwargs)
    return await _create_and_open(loop, opts, keep, **arguments)


async def _connect_url(*args: Any, **kwargs: Any) -> Connection:
    loop, opts, keep, arguments = _url_arguments(*args, **kwargs)
    return await _create_and_open(loop, opts, keep, **arguments)  # no parse in between


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
