"""Queue, QueueBinding, Consumer (asynqp 0.6's API) and QueueIterator (``async for``)."""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Union

from . import _ffi
from ._table import bytes_struct, encode_table, read_bytes
from ._timeouts import NO_TIMEOUT, check_timeout, timeout_error
from .exceptions import (
    AMQPError, ChannelClosed, ConnectionClosed, Deleted, InvalidExchangeName,
)
from .message import IncomingMessage

if TYPE_CHECKING:  # pragma: no cover
    from .channel import Channel
    from .exchange import Exchange

__all__ = ["Queue", "QueueBinding", "Consumer", "QueueIterator"]

log = logging.getLogger("swiftamqp")


def _name_of(exchange, what="exchange"):
    name = exchange if isinstance(exchange, str) else getattr(exchange, "name", None)
    if not isinstance(name, str):
        raise TypeError("%s must be an Exchange or a name, not %r" % (what, exchange))
    return name


class Queue:
    """A queue; made by :meth:`Channel.declare_queue`.

    Attributes: ``name`` (a server-named queue gets a new name when automatic recovery declares
    it again; ``name`` follows), ``durable``, ``exclusive``, ``auto_delete``, ``arguments``,
    ``deleted``; ``message_count`` and ``consumer_count`` as the broker's declare-ok reported
    them (None after ``nowait``); a passive declare reads them again. ``async for message in queue:`` consumes it (see :meth:`iterate`).

    Every coroutine here takes ``timeout=`` (seconds; default: the connection's
    ``rpc_timeout``) and raises :class:`AMQPTimeoutError` when the broker did not answer in
    time (see :class:`Channel`).
    """

    def __init__(self, channel, name, durable, exclusive, auto_delete, arguments):
        self._channel = channel
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.auto_delete = auto_delete
        self.arguments = arguments
        self.deleted = False
        self.message_count = None
        self.consumer_count = None
        self._keep = []
        self._c_name = bytes_struct(name.encode("utf-8"), self._keep)
        self._unclaimed = collections.deque()  # messages of cancelled no-ack gets

    def __repr__(self):
        return "<swiftamqp.Queue %r>" % (self.name,)

    def _renamed(self, name):
        """Automatic recovery re-declared this server-named queue under a new name."""
        self.name = name
        keep = []
        self._c_name = bytes_struct(name.encode("utf-8"), keep)
        self._keep = keep

    @property
    def channel(self) -> "Channel":
        return self._channel

    def _check(self):
        if self.deleted:
            raise Deleted("Queue {} was deleted".format(self.name))
        self._channel._check_open()

    async def bind(self, exchange: Union["Exchange", str], routing_key: str, *,
                   arguments: Optional[Dict[str, Any]] = None,
                   timeout: Optional[float] = None) -> QueueBinding:
        """Binds the queue to `exchange` (an :class:`Exchange`, or an exchange name) with
        `routing_key`; returns a :class:`QueueBinding`.

        As in asynqp, a falsy `exchange` (``''``, None) raises :class:`InvalidExchangeName`
        without asking the broker; the default exchange's :class:`Exchange` object is sent, and
        the broker refuses it (:class:`AccessRefused`, which closes the channel)."""
        if self.deleted:
            raise Deleted("Queue {} was deleted".format(self.name))
        if not exchange:
            raise InvalidExchangeName("Can't bind queue {} to the default exchange".format(self.name))
        if not isinstance(routing_key, str):
            raise TypeError("routing_key must be a str")
        channel = self._channel
        channel._check_open()
        keep: List[Any] = []
        c_exchange = bytes_struct(_name_of(exchange).encode("utf-8"), keep)
        c_key = bytes_struct(routing_key.encode("utf-8"), keep)
        table = encode_table(arguments) if arguments else None
        await channel._connection._start(
            channel.id, None, _ffi.lib.swamqp_queue_bind_async, channel.id, self._c_name,
            c_exchange, c_key, 0, table.pointer if table is not None else None, timeout=timeout)
        return QueueBinding(self, exchange, routing_key, arguments)

    async def get(self, *, no_ack: bool = False,
                  timeout: Optional[float] = None) -> Optional["IncomingMessage"]:
        """basic.get: the next message as an :class:`IncomingMessage`, or None when the queue is
        empty.

        When the caller gives up (cancellation, ``asyncio.wait_for``) and the broker's reply
        brings a message anyway, that message is not lost: with acknowledgements it is rejected
        with requeue (the broker redelivers it, ``redelivered`` set); with ``no_ack`` the broker
        has already forgotten it, so it is kept on this Queue object (:attr:`unclaimed` counts
        them) and handed to the next ``get(no_ack=True)`` on it, oldest first and before any
        message fetched later, without asking the broker, even once the channel is closed. So
        are the deliveries that reach a no-ack consumer whose :meth:`consume` was cancelled
        before it returned (the binding then cancels that consumer at the broker).
        """
        unclaimed = self._unclaimed
        if no_ack and unclaimed:
            return unclaimed.popleft()
        self._check()
        channel = self._channel

        def convert(ev):
            msg = None
            if not ev.flags & _ffi.SWAMQP_EVENT_FLAG_EMPTY and ev.message:
                msg = IncomingMessage._from_address(ev.message, channel, None)
            if no_ack and unclaimed:
                # A cancelled get's message came first (replies arrive in request order).
                if msg is not None:
                    unclaimed.append(msg)
                return unclaimed.popleft()
            return msg

        return await channel._connection._start(
            channel.id, convert, _ffi.lib.swamqp_basic_get_async, channel.id, self._c_name,
            _ffi.SWAMQP_NO_ACK if no_ack else 0, timeout=timeout, late=self if no_ack else None)

    @property
    def unclaimed(self) -> int:
        """How many messages of cancelled ``get(no_ack=True)`` (or no-ack ``consume``) calls
        wait for the next no-ack :meth:`get` on this Queue object."""
        return len(self._unclaimed)

    async def consume(self, callback: Callable[["IncomingMessage"], Any], *, no_local: bool = False,
                      no_ack: bool = False, exclusive: bool = False,
                      arguments: Optional[Dict[str, Any]] = None, consumer_tag: str = '',
                      timeout: Optional[float] = None) -> Consumer:
        """basic.consume: calls ``callback(message)`` with every message the broker delivers
        from this queue; returns the :class:`Consumer`.

        As in asynqp, the callback may have ``on_cancel()`` (called once the consumer is
        cancelled, by :meth:`Consumer.cancel` or by the broker) and ``on_error(exc)`` (called when
        the channel or connection closes) methods. The callback runs on the event loop while
        events are drained; a coroutine function's coroutine is scheduled as a task.
        """
        if not callable(callback):
            raise TypeError("callback must be callable")
        if not isinstance(consumer_tag, str):
            raise TypeError("consumer_tag must be a str")
        self._check()
        channel = self._channel
        keep: List[Any] = []
        c_tag = bytes_struct(consumer_tag.encode("utf-8"), keep)
        flags = ((_ffi.SWAMQP_NO_LOCAL if no_local else 0) | (_ffi.SWAMQP_NO_ACK if no_ack else 0)
                 | (_ffi.SWAMQP_EXCLUSIVE if exclusive else 0))
        table = encode_table(arguments) if arguments else None

        def convert(ev):
            # Runs as the consume-ok is dispatched, so deliveries right behind it find the consumer.
            raw = read_bytes(ev.name)
            consumer = Consumer(raw.decode("utf-8", "surrogateescape"), callback, self, no_ack)
            consumer._raw_tag = raw
            channel._consumers[raw] = consumer
            return consumer

        return await channel._connection._start(
            channel.id, convert, _ffi.lib.swamqp_basic_consume_async, channel.id, self._c_name,
            c_tag, flags, table.pointer if table is not None else None,
            timeout=timeout, late=self if no_ack else None)

    def iterate(self, *, no_ack: bool = False, exclusive: bool = False,
                arguments: Optional[Dict[str, Any]] = None) -> QueueIterator:
        """A :class:`QueueIterator` over this queue's deliveries: ``async for message in
        queue.iterate(): ...``, or ``async with queue.iterate() as messages:`` to cancel the
        consumer when the block ends. The consumer starts on the first ``__anext__``."""
        return QueueIterator(self, no_ack=no_ack, exclusive=exclusive, arguments=arguments)

    def __aiter__(self) -> QueueIterator:
        return QueueIterator(self)

    async def purge(self, *, timeout: Optional[float] = None) -> int:
        """queue.purge: drops the queue's ready messages; returns how many."""
        self._check()
        channel = self._channel
        return await channel._connection._start(
            channel.id, _message_count, _ffi.lib.swamqp_queue_purge_async, channel.id, self._c_name, 0,
            timeout=timeout)

    async def delete(self, *, if_unused: bool = True, if_empty: bool = True,
                     timeout: Optional[float] = None) -> int:
        """queue.delete; with ``if_unused`` only when it has no consumers, with ``if_empty`` only
        when it holds no messages (else PreconditionFailed). Returns how many messages it held."""
        if self.deleted:
            raise Deleted("Queue {} was already deleted".format(self.name))
        self._channel._check_open()
        channel = self._channel
        flags = (_ffi.SWAMQP_IF_UNUSED if if_unused else 0) | (_ffi.SWAMQP_IF_EMPTY if if_empty else 0)
        count = await channel._connection._start(
            channel.id, _message_count, _ffi.lib.swamqp_queue_delete_async, channel.id, self._c_name,
            flags, timeout=timeout)
        self.deleted = True
        return count


def _message_count(ev):
    return ev.message_count


class QueueBinding:
    """A binding of a :class:`Queue` to an :class:`Exchange`; made by :meth:`Queue.bind`.

    Attributes: ``queue``, ``exchange``, ``routing_key``, ``arguments``, ``deleted``.
    """

    def __init__(self, queue, exchange, routing_key, arguments=None):
        self.queue = queue
        self.exchange = exchange
        self.routing_key = routing_key
        self.arguments = arguments
        self.deleted = False

    def __repr__(self):
        return "<swiftamqp.QueueBinding %r -> %r (%r)>" % (
            self.queue.name, _name_of(self.exchange), self.routing_key)

    async def unbind(self, arguments: Optional[Dict[str, Any]] = None, *,
                     timeout: Optional[float] = None) -> None:
        """queue.unbind: removes the binding (``arguments``: those of the bind by default)."""
        if self.deleted:
            raise Deleted("Queue {} was already unbound from exchange {}".format(
                self.queue.name, _name_of(self.exchange)))
        channel = self.queue._channel
        channel._check_open()
        if arguments is None:
            arguments = self.arguments
        keep: List[Any] = []
        c_exchange = bytes_struct(_name_of(self.exchange).encode("utf-8"), keep)
        c_key = bytes_struct(self.routing_key.encode("utf-8"), keep)
        table = encode_table(arguments) if arguments else None
        await channel._connection._start(
            channel.id, None, _ffi.lib.swamqp_queue_unbind_async, channel.id, self.queue._c_name,
            c_exchange, c_key, table.pointer if table is not None else None, timeout=timeout)
        self.deleted = True


class Consumer:
    """A consumer; made by :meth:`Queue.consume`.

    Attributes: ``tag`` (the consumer tag), ``callback``, ``queue``, ``cancelled`` (True once
    cancelled, by :meth:`cancel` or by the broker), ``cancelled_by_server``,
    ``cancelled_future`` (a Future set to the consumer when it is cancelled).
    """

    def __init__(self, tag, callback, queue, no_ack=False):
        self.tag = tag
        self.callback = callback
        self.queue = queue
        self.no_ack = no_ack
        self.cancelled = False
        self.cancelled_by_server = False
        self._channel = channel = queue._channel
        self._loop = channel._loop
        self.cancelled_future = self._loop.create_future()
        self._raw_tag = tag.encode("utf-8")
        self._cancelling = None
        self._is_coroutine_function = inspect.iscoroutinefunction(callback) or (
            not inspect.isfunction(callback) and not inspect.ismethod(callback)
            and inspect.iscoroutinefunction(getattr(callback, "__call__", None)))

    def __repr__(self):
        return "<swiftamqp.Consumer %r on %r%s>" % (
            self.tag, self.queue.name, " cancelled" if self.cancelled else "")

    async def cancel(self, *, timeout: Optional[float] = None) -> None:
        """basic.cancel: stops deliveries to this consumer. Messages already delivered (or
        already queued in the library) still reach the callback first. Raises
        :class:`AMQPTimeoutError` when the broker does not confirm within ``timeout`` (default:
        the connection's ``rpc_timeout``); the consumer then counts as cancelled once the
        broker's late cancel-ok arrives (``cancelled_future`` tells when), and calling
        :meth:`cancel` again asks again."""
        if self.cancelled:
            return
        channel = self._channel
        if self._cancelling is None:
            try:
                channel._check_open()
            except AMQPError:
                self._cancelled_by(server=False)
                return
            keep: List[Any] = []
            c_tag = bytes_struct(self._raw_tag, keep)
            # The request itself has no deadline: a cancel-ok after this call's timeout still
            # ends the consumer (_late_cancel_ok).
            self._cancelling = channel._connection._start(
                channel.id, None, _ffi.lib.swamqp_basic_cancel_async, channel.id, c_tag, 0,
                timeout=NO_TIMEOUT)
            self._cancelling.add_done_callback(self._late_cancel_ok)
        conn = channel._connection
        seconds = conn._rpc_timeout if timeout is None else check_timeout(timeout, "timeout")
        try:
            await asyncio.wait_for(asyncio.shield(self._cancelling), seconds)
        except asyncio.TimeoutError:
            self._cancelling = None  # a later cancel() asks again
            raise timeout_error("basic_cancel", seconds) from None
        except AMQPError:
            pass  # the channel closed meanwhile: the consumer is gone anyway (asynqp does the same)
        if channel._consumers.get(self._raw_tag) is self:
            del channel._consumers[self._raw_tag]
        self._cancelled_by(server=False)

    def _late_cancel_ok(self, fut):
        """A basic.cancel completed (also after its cancel() timed out): on cancel-ok the
        consumer is gone at the broker."""
        if fut.cancelled() or fut.exception() is not None:
            return
        channel = self._channel
        if channel._consumers.get(self._raw_tag) is self:
            del channel._consumers[self._raw_tag]
        self._cancelled_by(server=False)

    # -- called by the channel ---------------------------------------------------------
    def _deliver(self, message):
        try:
            result = self.callback(message)
            if result is not None and (self._is_coroutine_function or inspect.isawaitable(result)):
                self._channel._connection._spawn(result)
        except Exception as exc:
            self._loop.call_exception_handler({
                "message": "Exception in the callback of consumer %r" % (self.tag,),
                "exception": exc,
                "consumer": self,
            })

    def _cancelled_by(self, *, server):
        if self.cancelled:
            return
        self.cancelled = True
        self.cancelled_by_server = server
        if not self.cancelled_future.done():
            self.cancelled_future.set_result(self)
        hook = getattr(self.callback, "on_cancel", None)
        if hook is not None:
            self._channel._connection._call_handler(hook)

    def _on_error(self, exc):
        hook = getattr(self.callback, "on_error", None)
        if hook is not None:
            self._channel._connection._call_handler(hook, exc)


class QueueIterator:
    """Deliveries of a queue as an async iterator; made by :meth:`Queue.iterate` (or
    ``async for`` over a Queue).

    The first ``__anext__`` starts a consumer; messages wait in a buffer until taken (bound it
    with :meth:`Channel.set_qos`). Iteration ends when the consumer is cancelled (by
    :meth:`cancel`, by leaving ``async with``, or by the broker) or the channel is closed by the
    application; it raises the error when the channel or connection fails. On cancel, buffered
    messages not yet taken are rejected with requeue (unless ``no_ack``).
    """

    def __init__(self, queue, *, no_ack=False, exclusive=False, arguments=None):
        self.queue = queue
        self.consumer = None
        self._consume_kwargs = dict(no_ack=no_ack, exclusive=exclusive, arguments=arguments)
        self._no_ack = no_ack
        self._buffer = collections.deque()
        self._waiter = None
        self._starting = None
        self._finished = False
        self._error = None
        self._loop = queue._channel._loop

    def __aiter__(self) -> QueueIterator:
        return self

    async def __aenter__(self) -> QueueIterator:
        await self._start()
        return self

    async def __aexit__(self, *exc_info):
        await self.cancel()

    async def _start(self):
        if self.consumer is not None or self._finished:
            return
        if self._starting is None:
            self._starting = asyncio.ensure_future(
                self.queue.consume(self, **self._consume_kwargs), loop=self._loop)
        self.consumer = await asyncio.shield(self._starting)

    async def __anext__(self) -> "IncomingMessage":
        if self.consumer is None and not self._finished:
            await self._start()
        while not self._buffer:
            if self._finished:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._buffer.popleft()

    async def cancel(self, *, timeout: Optional[float] = None) -> None:
        """Cancels the consumer; the iteration then ends."""
        if self.consumer is None and self._starting is not None:
            try:
                await asyncio.shield(self._starting)
                self.consumer = self._starting.result()
            except (AMQPError, asyncio.CancelledError):
                pass
        if self.consumer is not None:
            await self.consumer.cancel(timeout=timeout)
        self._finish(None, drop=True)

    # The consumer's callback --------------------------------------------------------------
    def __call__(self, message):
        self._buffer.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_cancel(self):
        # Cancelled by the broker (or by cancel()): what is buffered is still handed out.
        self._finish(None)

    def on_error(self, exc):
        closed_by_application = isinstance(exc, (ChannelClosed, ConnectionClosed)) and getattr(
            exc, "reply_code", None) in (None, 200)
        # The channel is gone: buffered messages can no longer be acknowledged.
        self._buffer.clear()
        self._finish(None if closed_by_application else exc)

    def _finish(self, exc, drop=False):
        if drop and self._buffer:
            # The application stopped iterating: hand what it did not take back to the broker.
            channel = self.queue._channel
            if not self._no_ack and not channel.is_closed():
                for message in self._buffer:
                    try:
                        message.reject(requeue=True)
                    except AMQPError:
                        break
            self._buffer.clear()
        if self._finished:
            return
        self._finished = True
        self._error = exc
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
