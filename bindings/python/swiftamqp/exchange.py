"""Exchange (asynqp 0.6's API, plus confirmed publishing and exchange-to-exchange bindings)."""

from __future__ import annotations
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from . import _ffi
from ._errors import ErrorInfo, make_exception, publish_timeout_error
from ._table import bytes_struct, encode_table
from ._timeouts import check_timeout, timeout_ms
from .exceptions import Deleted, InvalidExchangeName
from .message import Message

if TYPE_CHECKING:  # pragma: no cover
    from .channel import Channel

__all__ = ["Exchange", "ExchangeBinding"]

_ROUTING_KEY_CACHE = 256  # routing keys kept encoded per exchange
_ROOM_DELAY_MIN = 0.001   # seconds publish_confirmed waits before retrying a publish that would block
_ROOM_DELAY_MAX = 0.05
_WAITED = (_ffi.SWAMQP_ERR_TIMEOUT, _ffi.SWAMQP_ERR_WOULD_BLOCK)  # a publish that found no room
_MANDATORY = _ffi.SWAMQP_MANDATORY
_unchecked_publish = _ffi.unchecked_basic_publish


def _exchange_name(exchange):
    name = exchange if isinstance(exchange, str) else getattr(exchange, "name", None)
    if not isinstance(name, str):
        raise TypeError("expected an Exchange or an exchange name, not %r" % (exchange,))
    return name


class Exchange:
    """An exchange; made by :meth:`Channel.declare_exchange`.

    .. attribute:: name
    .. attribute:: type

    Every coroutine here takes ``timeout=`` (seconds; default: the connection's
    ``rpc_timeout``) and raises :class:`AMQPTimeoutError` when the broker did not answer in
    time (see :class:`Channel`); :meth:`publish` and :meth:`publish_async` take it as the
    ``publish_timeout`` for room to send.
    """

    def __init__(self, channel, name, type, durable, auto_delete, internal):
        self._channel = channel
        self.name = name
        self.type = type
        self.durable = durable
        self.auto_delete = auto_delete
        self.internal = internal
        self._keep = []
        self._c_name = bytes_struct(name.encode("utf-8"), self._keep)
        self._routing_keys = {}

    def __repr__(self):
        return "<swiftamqp.Exchange %r %s>" % (self.name, self.type)

    def __bool__(self):
        return True

    @property
    def channel(self) -> "Channel":
        return self._channel

    def publish(self, message: Message, routing_key: str, *, mandatory: bool = True,
                timeout: Optional[float] = None) -> None:
        """Publishes `message` (a :class:`Message`) now: one library call that queues the frames
        for the connection's I/O thread and never waits for the broker's answer.

        With ``mandatory`` (the default) a message no queue takes comes back to the channel's
        return handler (see :meth:`Channel.set_return_handler`). Raises when the channel or
        connection is closed. While publishing must pause (the outbound buffer is over its
        limit, the broker blocked the connection or stopped the channel, or ``max_unconfirmed``
        publishes await confirms) the call waits for room, blocking the event loop, for at most
        ``timeout`` seconds (default: the connection's ``publish_timeout``), then raises
        :class:`PublishTimeout` and the message is not sent; with a timeout of 0 it raises
        :class:`WouldBlock` at once instead. :meth:`publish_async` waits without blocking the
        loop.
        """
        if not isinstance(message, Message):
            raise TypeError("message must be a swiftamqp.Message, not %s" % type(message).__name__)
        channel = self._channel
        if channel._closed_exc is not None or channel._closing:
            channel._check_open()
        conn = channel._connection
        if conn._state != "open":
            conn._check_usable()
        key = self._routing_keys.get(routing_key)
        if key is None:
            key = self._routing_key(routing_key)
        if timeout is None:
            ms, ms_arg = conn._publish_timeout_ms, conn._publish_timeout_arg
        else:
            ms = timeout_ms(check_timeout(timeout, "timeout"))
            ms_arg = _ffi.c_timeout(ms)
        c_message = message._c_message()
        rc = _unchecked_publish(conn._native.handle_arg, channel.id, self._c_name, key[0],
                                _MANDATORY if mandatory else 0, c_message.pointer, c_message.body,
                                None, ms_arg, conn._err_ref)
        if rc:
            info = ErrorInfo.take(conn._err, rc)
            if ms and rc in _WAITED:
                raise publish_timeout_error(info, ms / 1000)
            raise make_exception(info)

    async def publish_async(self, message: Message, routing_key: str, *, mandatory: bool = True,
                            timeout: Optional[float] = None) -> None:
        """:meth:`publish`, waiting for room without blocking the event loop: returns once the
        message is queued for sending (not once the broker has it: see
        :meth:`publish_confirmed`). When there is room it publishes at once, without yielding.
        Raises :class:`PublishTimeout` after ``timeout`` seconds (default: the connection's
        ``publish_timeout``) without room; the message is then not sent. Cancelling it before
        that sends nothing either.
        """
        if not isinstance(message, Message):
            raise TypeError("message must be a swiftamqp.Message, not %s" % type(message).__name__)
        channel = self._channel
        channel._check_open()
        conn = channel._connection
        seconds = conn.publish_timeout if timeout is None else check_timeout(timeout, "timeout")
        key = self._routing_keys.get(routing_key)
        if key is None:
            key = self._routing_key(routing_key)
        flags = _ffi.SWAMQP_MANDATORY if mandatory else 0
        c_message = message._c_message()
        rc = channel._publish(self._c_name, key[0], flags, c_message, None)
        if rc == _ffi.SWAMQP_ERR_WOULD_BLOCK:
            loop = conn._loop
            deadline = loop.time() + seconds
            delay = _ROOM_DELAY_MIN
            while rc == _ffi.SWAMQP_ERR_WOULD_BLOCK:
                info = ErrorInfo.take(conn._err, rc)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise publish_timeout_error(info, seconds)
                await conn._wait_for_room(min(delay, remaining))
                delay = min(delay * 2, _ROOM_DELAY_MAX)
                channel._check_open()
                rc = channel._publish(self._c_name, key[0], flags, c_message, None)
        if rc:
            raise make_exception(ErrorInfo.take(conn._err, rc))

    async def publish_confirmed(self, message: Message, routing_key: str, *,
                                mandatory: bool = True, timeout: Optional[float] = None) -> None:
        """Publishes `message` and returns once the broker confirmed it (publisher confirms;
        the channel is put in confirm mode on first use).

        Raises :class:`PublishNacked` when the broker nacks it, :class:`UndeliverableMessage`
        (with the returned message) when it is ``mandatory`` and no queue took it, and the
        channel's or connection's error when that ends first. While publishing must pause (the
        broker blocked the connection, the outbound buffer is full, or the connection's
        ``max_unconfirmed`` bound of outstanding confirms is reached) it waits. Cancelling the
        call stops the wait, not the publish. ``timeout`` (seconds; default: the connection's
        ``rpc_timeout``) bounds the whole call: :class:`PublishTimeout` when the message could
        not be sent in time, :class:`AMQPTimeoutError` when it was sent but not confirmed in
        time (the broker may still take it).
        """
        if not isinstance(message, Message):
            raise TypeError("message must be a swiftamqp.Message, not %s" % type(message).__name__)
        channel = self._channel
        channel._check_open()
        conn = channel._connection
        seconds = conn._rpc_timeout if timeout is None else check_timeout(timeout, "timeout")
        loop = conn._loop
        deadline = None if seconds is None else loop.time() + seconds
        if not channel._confirm_mode:
            await channel.confirm_select(timeout=seconds)
        key = self._routing_keys.get(routing_key)
        if key is None:
            key = self._routing_key(routing_key)
        flags = _ffi.SWAMQP_MANDATORY if mandatory else 0
        c_message = message._c_message()
        delay = _ROOM_DELAY_MIN
        rc = channel._publish(self._c_name, key[0], flags, c_message, conn._seq_ref)
        while rc == _ffi.SWAMQP_ERR_WOULD_BLOCK:
            info = ErrorInfo.take(conn._err, rc)
            wait = delay
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise publish_timeout_error(info, seconds)
                wait = min(delay, remaining)
            await conn._wait_for_room(wait)
            delay = min(delay * 2, _ROOM_DELAY_MAX)
            channel._check_open()
            rc = channel._publish(self._c_name, key[0], flags, c_message, conn._seq_ref)
        if rc:
            raise make_exception(ErrorInfo.take(conn._err, rc))
        await channel._track(conn._seq.value, message, deadline, seconds)

    def _routing_key(self, routing_key):
        if not isinstance(routing_key, str):
            raise TypeError("routing_key must be a str, not %s" % type(routing_key).__name__)
        keep = []
        raw = routing_key.encode("utf-8")
        if len(raw) > 255:
            raise ValueError("routing_key is longer than 255 bytes")
        key = (bytes_struct(raw, keep), keep)
        if len(self._routing_keys) >= _ROUTING_KEY_CACHE:
            self._routing_keys.clear()
        self._routing_keys[routing_key] = key
        return key

    async def delete(self, *, if_unused: bool = True, timeout: Optional[float] = None) -> None:
        """exchange.delete; with ``if_unused`` only when nothing is bound to it (else
        PreconditionFailed)."""
        if not self.name:
            raise InvalidExchangeName("The default exchange cannot be deleted")
        channel = self._channel
        channel._check_open()
        await channel._connection._start(
            channel.id, None, _ffi.lib.swamqp_exchange_delete_async, channel.id, self._c_name,
            _ffi.SWAMQP_IF_UNUSED if if_unused else 0, timeout=timeout)

    async def bind(self, source: Union[Exchange, str], routing_key: str = '', *,
                   arguments: Optional[Dict[str, Any]] = None,
                   timeout: Optional[float] = None) -> ExchangeBinding:
        """exchange.bind (RabbitMQ extension): messages published to `source` (an Exchange or
        an exchange name) that match `routing_key` are routed through this exchange too.
        Returns an :class:`ExchangeBinding`."""
        source_name = _exchange_name(source)
        if not self.name or not source_name:
            raise InvalidExchangeName("The default exchange cannot be bound to or from")
        if not isinstance(routing_key, str):
            raise TypeError("routing_key must be a str")
        await self._exchange_binding(_ffi.lib.swamqp_exchange_bind_async, source_name, routing_key,
                                     arguments, timeout)
        return ExchangeBinding(self, source, routing_key, arguments)

    async def unbind(self, source: Union[Exchange, str], routing_key: str = '', *,
                     arguments: Optional[Dict[str, Any]] = None,
                     timeout: Optional[float] = None) -> None:
        """exchange.unbind: removes a binding made by :meth:`bind`."""
        await self._exchange_binding(_ffi.lib.swamqp_exchange_unbind_async, _exchange_name(source),
                                     routing_key, arguments, timeout)

    async def _exchange_binding(self, fn, source_name, routing_key, arguments, timeout):
        channel = self._channel
        channel._check_open()
        keep = []
        c_source = bytes_struct(source_name.encode("utf-8"), keep)
        c_key = bytes_struct(routing_key.encode("utf-8"), keep)
        table = encode_table(arguments) if arguments else None
        await channel._connection._start(
            channel.id, None, fn, channel.id, self._c_name, c_source, c_key, 0,
            table.pointer if table is not None else None, timeout=timeout)


class ExchangeBinding:
    """An exchange-to-exchange binding; made by :meth:`Exchange.bind`.

    Attributes: ``destination`` (the Exchange), ``source``, ``routing_key``, ``arguments``,
    ``deleted``.
    """

    def __init__(self, destination, source, routing_key, arguments=None):
        self.destination = destination
        self.source = source
        self.routing_key = routing_key
        self.arguments = arguments
        self.deleted = False

    def __repr__(self):
        return "<swiftamqp.ExchangeBinding %r -> %r (%r)>" % (
            _exchange_name(self.source), self.destination.name, self.routing_key)

    async def unbind(self, arguments: Optional[Dict[str, Any]] = None, *,
                     timeout: Optional[float] = None) -> None:
        """exchange.unbind: removes the binding (``arguments``: those of the bind by default)."""
        if self.deleted:
            raise Deleted("Exchange {} was already unbound from {}".format(
                self.destination.name, _exchange_name(self.source)))
        await self.destination.unbind(self.source, self.routing_key,
                                      arguments=self.arguments if arguments is None else arguments,
                                      timeout=timeout)
        self.deleted = True
