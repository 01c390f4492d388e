"""Channel (asynqp 0.6's API, plus qos/recover, transactions and publisher confirms)."""

from __future__ import annotations

import asyncio
import collections
import logging
import re
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from . import _ffi
from ._confirms import _PublisherConfirms
from ._reader import M, read, read_message
from ._table import bytes_struct, encode_table, read_bytes
from .exceptions import AMQPError, AMQPTimeoutError, ChannelClosed, UndeliverableMessage
from .exchange import Exchange
from .message import IncomingMessage
from .queue import Queue

if TYPE_CHECKING:  # pragma: no cover
    from .connection import Connection
    from .queue import Consumer

__all__ = ["Channel"]

_CONSUMER_TAG, _CONSUMER_TAG_LEN = M["consumer_tag.bytes"], M["consumer_tag.len"]
_DELIVERY_TAG = M["delivery_tag"]
_unchecked_publish = _ffi.unchecked_basic_publish
_incoming = IncomingMessage._from_fields
_from_packed = IncomingMessage._from_packed

log = logging.getLogger("swiftamqp")

VALID_EXCHANGE_NAME_RE = re.compile(r'^(?!amq\.)(\w|[-.:])+$', flags=re.A)
VALID_QUEUE_NAME_RE = re.compile(r'^(?!amq\.)(\w|[-.:])*$', flags=re.A)


def _flags(**bits):
    value = 0
    for name, on in bits.items():
        if on:
            value |= getattr(_ffi, "SWAMQP_" + name.upper())
    return value


def _default_return_handler(message):
    raise UndeliverableMessage(message)


def _table_pointer(arguments):
    """(CTable or None, pointer or None) for an optional arguments dict."""
    if not arguments:
        return None, None
    table = encode_table(arguments)
    return table, table.pointer


class Channel(_PublisherConfirms):
    """A channel on a :class:`Connection`; made by :meth:`Connection.open_channel`.

    .. attribute:: id

        the channel number

    ``async with channel:`` closes it at the end of the block.

    Every coroutine that waits for the broker takes ``timeout=`` (seconds; default: the
    connection's ``rpc_timeout``) and raises :class:`AMQPTimeoutError` when no reply came in
    time; the late reply then reaches no one, and what it left at the broker is undone as for a
    cancelled call.
    """

    def __init__(self, connection, id, *, loop):
        self._connection = connection
        self._loop = loop
        self.id = id
        self._generation = 0          # the request id that opened it (CHANNEL_CLOSED names it)
        self._closing = False
        self._closed_exc = None
        self._return_handler = _default_return_handler
        self._cancel_handler = None
        self._consumers = {}          # raw consumer tag (bytes) -> Consumer
        self._flow_active = True
        self._confirm_mode = False
        self._confirm_selecting = None
        self._outstanding = collections.OrderedDict()   # sequence -> _Outstanding
        # (deadline, sequence, seconds) of timed publish_confirmed calls, earliest first, and
        # the one loop timer that expires them: a timer per publish cost more than the publish.
        self._confirm_deadlines = collections.deque()
        self._confirm_timer = None
        self._plain_nacks = 0

    def __repr__(self):
        state = "closed" if self.is_closed() else "open"
        return "<swiftamqp.Channel %d %s>" % (self.id, state)

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def is_closed(self) -> bool:
        return self._closing or self._closed_exc is not None

    @property
    def connection(self) -> "Connection":
        return self._connection

    @property
    def flow_active(self) -> bool:
        """False while the broker has stopped this channel's publishing (channel.flow)."""
        return self._flow_active

    @property
    def confirm_mode(self) -> bool:
        """True once :meth:`confirm_select` (or a :meth:`Exchange.publish_confirmed`) enabled
        publisher confirms on this channel."""
        return self._confirm_mode

    @property
    def unconfirmed(self) -> int:
        """How many :meth:`Exchange.publish_confirmed` calls on this channel await a confirm."""
        return len(self._outstanding)

    # ------------------------------------------------------------------------------------
    async def declare_exchange(self, name: str, type: str, *, durable: bool = True,
                               auto_delete: bool = False, internal: bool = False,
                               passive: bool = False, nowait: bool = False,
                               arguments: Optional[Dict[str, Any]] = None,
                               timeout: Optional[float] = None) -> "Exchange":
        """Declares an exchange and returns its :class:`Exchange`.

        ``name == ''`` is the default exchange: returned without a declare. Names must consist of
        letters, digits, ``-``, ``_``, ``.`` or ``:`` and must not start with ``amq.``
        (ValueError). A broker refusal raises the class for its reply code (NotFound on a
        passive declare of a missing exchange, PreconditionFailed on a mismatch) and closes the
        channel.
        """
        if name == '':
            return Exchange(self, '', 'direct', True, False, False)
        if not isinstance(name, str) or not VALID_EXCHANGE_NAME_RE.match(name):
            raise ValueError(
                "Invalid exchange name.\n"
                "Valid names consist of letters, digits, hyphen, underscore, "
                "period, or colon, and do not begin with 'amq.'")
        if not isinstance(type, str):
            raise TypeError("type must be a str")
        self._check_open()
        keep: List[Any] = []
        c_name = bytes_struct(name.encode("utf-8"), keep)
        c_type = bytes_struct(type.encode("utf-8"), keep)
        flags = _flags(passive=passive, durable=durable, auto_delete=auto_delete,
                       internal=internal, nowait=nowait)
        table, pointer = _table_pointer(arguments)
        await self._connection._start(
            self.id, None, _ffi.lib.swamqp_exchange_declare_async, self.id, c_name, c_type, flags,
            pointer, timeout=timeout)
        return Exchange(self, name, type, durable, auto_delete, internal)

    async def declare_queue(self, name: str = '', *, durable: bool = True, exclusive: bool = False,
                            auto_delete: bool = False, passive: bool = False, nowait: bool = False,
                            arguments: Optional[Dict[str, Any]] = None,
                            timeout: Optional[float] = None) -> "Queue":
        """Declares a queue and returns its :class:`Queue`; ``name=''`` lets the broker name it.

        Names follow the exchange-name rule; an ``amq.`` name is accepted only with ``passive``
        (e.g. to check a server-named ``amq.gen-...`` queue) or for ``amq.rabbitmq.reply-to``.
        """
        if not isinstance(name, str) or not (
                name == 'amq.rabbitmq.reply-to' or VALID_QUEUE_NAME_RE.match(name)
                or (passive and VALID_QUEUE_NAME_RE.match(name[4:]) and name.startswith('amq.'))):
            raise ValueError(
                "Not a valid queue name.\n"
                "Valid names consist of letters, digits, hyphen, underscore, "
                "period, or colon, and do not begin with 'amq.'")
        if not name and nowait:
            raise ValueError("Declaring the queue without `name` and with `nowait` is forbidden")
        self._check_open()
        keep: List[Any] = []
        c_name = bytes_struct(name.encode("utf-8"), keep)
        flags = _flags(passive=passive, durable=durable, exclusive=exclusive,
                       auto_delete=auto_delete, nowait=nowait)
        table, pointer = _table_pointer(arguments)
        fut = self._connection._start(
            self.id, _declare_ok, _ffi.lib.swamqp_queue_declare_async, self.id, c_name, flags, pointer,
            timeout=timeout)
        declared_name, messages, consumers = await fut
        if nowait or not declared_name:
            declared_name = name
        queue = Queue(self, declared_name, durable, exclusive, auto_delete,
                      arguments if arguments is not None else {})
        if not nowait:
            queue.message_count, queue.consumer_count = messages, consumers
        if not name:
            # server-named: automatic recovery may give it a new name (SWAMQP_EVENT_QUEUE_RENAMED)
            self._connection._track_server_named(queue)
        return queue

    async def set_qos(self, prefetch_size: int = 0, prefetch_count: int = 0,
                      apply_globally: bool = False, *, timeout: Optional[float] = None) -> None:
        """basic.qos: how many messages (``prefetch_count``) or bytes (``prefetch_size``, which
        RabbitMQ does not implement) the broker sends ahead of acknowledgements; 0 = no limit.
        RabbitMQ applies it to consumers created afterwards, per consumer, or with
        ``apply_globally`` shared by the channel's consumers."""
        if not 0 <= prefetch_size <= 0xFFFFFFFF or not 0 <= prefetch_count <= 0xFFFF:
            raise ValueError("prefetch_size must fit 32 bits and prefetch_count 16 bits")
        self._check_open()
        await self._connection._start(
            self.id, None, _ffi.lib.swamqp_basic_qos_async, self.id, prefetch_size, prefetch_count,
            _ffi.SWAMQP_GLOBAL if apply_globally else 0, timeout=timeout)

    async def recover(self, *, requeue: bool = True, timeout: Optional[float] = None) -> None:
        """basic.recover: the broker redelivers this channel's unacknowledged messages (to
        other consumers too with ``requeue``; RabbitMQ supports only requeue=True)."""
        self._check_open()
        await self._connection._start(
            self.id, None, _ffi.lib.swamqp_basic_recover_async, self.id,
            _ffi.SWAMQP_REQUEUE if requeue else 0, timeout=timeout)

    def set_return_handler(self, handler: Optional[Callable[["IncomingMessage"], Any]]) -> None:
        """Sets the function called with each returned (undeliverable, mandatory) message.

        The default (also restored by ``None``) raises :class:`UndeliverableMessage` in the event
        loop's exception handler. Returns of :meth:`Exchange.publish_confirmed` calls are raised
        by those calls instead.
        """
        if handler is None:
            self._return_handler = _default_return_handler
            return
        if not callable(handler):
            raise TypeError("The handler must be a callable with one argument (a message).", handler)
        self._return_handler = handler

    def set_cancel_handler(self, handler: Optional[Callable[["Consumer"], Any]]) -> None:
        """Sets the function called with the :class:`Consumer` when the broker cancels one of
        this channel's consumers (its queue was deleted, or a mirror failed over); None clears it.
        The consumer's callback's ``on_cancel()`` hook is called too, as in asynqp."""
        if handler is not None and not callable(handler):
            raise TypeError("The handler must be a callable with one argument (a consumer).", handler)
        self._cancel_handler = handler

    # ------------------------------------------------------------------------------------
    # Transactions
    # ------------------------------------------------------------------------------------
    async def tx_select(self, *, timeout: Optional[float] = None) -> None:
        """tx.select: from now on publishes and acks on this channel take effect at
        :meth:`tx_commit` (or are dropped by :meth:`tx_rollback`)."""
        self._check_open()
        await self._connection._start(self.id, None, _ffi.lib.swamqp_tx_select_async, self.id,
                                      timeout=timeout)

    async def tx_commit(self, *, timeout: Optional[float] = None) -> None:
        """tx.commit: makes the current transaction's publishes and acks take effect."""
        self._check_open()
        await self._connection._start(self.id, None, _ffi.lib.swamqp_tx_commit_async, self.id,
                                      timeout=timeout)

    async def tx_rollback(self, *, timeout: Optional[float] = None) -> None:
        """tx.rollback: drops the current transaction's publishes and acks."""
        self._check_open()
        await self._connection._start(self.id, None, _ffi.lib.swamqp_tx_rollback_async, self.id,
                                      timeout=timeout)

    # ------------------------------------------------------------------------------------
    # Publisher confirms
    # ------------------------------------------------------------------------------------
    async def confirm_select(self, *, timeout: Optional[float] = None) -> None:
        """confirm.select: the broker confirms every publish on this channel from now on. Done
        automatically by the first :meth:`Exchange.publish_confirmed`. Idempotent."""
        if self._confirm_mode:
            return
        self._check_open()
        selecting = self._confirm_selecting
        if selecting is None:
            selecting = self._connection._start(
                self.id, None, _ffi.lib.swamqp_confirm_select_async, self.id, timeout=timeout)
            self._confirm_selecting = selecting
            selecting.add_done_callback(self._confirm_selected)
        await asyncio.shield(selecting)

    def _confirm_selected(self, fut):
        self._confirm_selecting = None
        if not fut.cancelled() and fut.exception() is None:
            self._confirm_mode = True

    async def wait_for_confirms(self, *, timeout: Optional[float] = None) -> None:
        """Waits until every publish made on this channel so far is confirmed; raises
        :class:`PublishNacked` when any was nacked since the previous wait (the library keeps
        this for all publishes, :meth:`Exchange.publish` ones included)."""
        self._check_open()
        await self._connection._start(self.id, None, _ffi.lib.swamqp_wait_for_confirms_async, self.id,
                                      timeout=timeout)

    # ------------------------------------------------------------------------------------
    async def close(self, *, timeout: Optional[float] = None) -> None:
        """Closes the channel (channel.close / close-ok). A broker that does not answer within
        ``timeout`` does not make it raise: the channel is over either way."""
        if self._closed_exc is not None:
            return
        if self._closing:
            log.warning("Called `close` on already closing channel...")
            return
        conn = self._connection
        try:
            conn._check_usable()
        except AMQPError:
            return
        self._closing = True
        try:
            await conn._start(self.id, None, _ffi.lib.swamqp_channel_close_async, self.id,
                              timeout=timeout)
        except AMQPTimeoutError as exc:
            log.warning("%s; the channel is closed anyway", exc)
        except AMQPError:
            # e.g. the broker closed it at the same time, or the connection ended
            pass
        finally:
            if conn._channels.get(self.id) is self:
                # The completion retires the channel; the CHANNEL_CLOSED event that follows our
                # own close then finds no channel of its generation (see _on_channel_closed).
                conn._channel_over(self.id, ChannelClosed("Channel %d closed" % self.id))
            elif self._closed_exc is None:
                self._set_closed(ChannelClosed("Channel %d closed" % self.id))

    # ------------------------------------------------------------------------------------
    # Plumbing
    # ------------------------------------------------------------------------------------
    def _check_open(self):
        if self._closed_exc is not None:
            raise self._closed_exc
        if self._closing:
            raise ChannelClosed("Channel %d is closing" % self.id)
        self._connection._check_usable()

    def _set_closed(self, exc):
        if self._closed_exc is not None:
            return
        self._closed_exc = exc
        outstanding, self._outstanding = self._outstanding, collections.OrderedDict()
        self._confirm_deadlines.clear()
        if self._confirm_timer is not None:
            self._confirm_timer.cancel()
            self._confirm_timer = None
        for entry in outstanding.values():
            if not entry.future.done():
                entry.future.set_exception(exc)
        consumers, self._consumers = self._consumers, {}
        for consumer in consumers.values():
            consumer._on_error(exc)

    def _on_delivery(self, address):
        fields = read_message(address)
        raw_tag = read(fields[_CONSUMER_TAG], fields[_CONSUMER_TAG_LEN])
        consumer = self._consumers.get(raw_tag)
        if consumer is None:
            self._unexpected_delivery(raw_tag)
            return
        consumer._deliver(_incoming(fields, self, consumer.tag))

    def _on_packed_delivery(self, record, blob, start, address):
        """A delivery from a swamqp_deliveries_pack record (see IncomingMessage._from_packed)."""
        raw_tag = blob[start:start + record[7]]
        consumer = self._consumers.get(raw_tag)
        if consumer is None:
            self._unexpected_delivery(raw_tag)
            return
        consumer._deliver(_from_packed(record, blob, start, self, consumer.tag))

    def _unexpected_delivery(self, raw_tag):
        # A consumer already cancelled here (deliveries queued before its cancel-ok); those of a
        # consume that was abandoned never get here: the library hands them back itself.
        log.debug("delivery for unknown consumer %r on channel %d dropped", raw_tag, self.id)

    def _on_consumer_cancelled(self, raw_tag):
        consumer = self._consumers.pop(raw_tag, None)
        if consumer is None:
            return
        log.debug("CONSUMER_CANCELLED event: %r on channel %d", consumer.tag, self.id)
        consumer._cancelled_by(server=True)
        if self._cancel_handler is not None:
            self._connection._call_handler(self._cancel_handler, consumer)

    def _publish(self, exchange_c_name, routing_key_c, flags, c_message, sequence_ref, timeout_ms=0):
        """One swamqp_basic_publish call, waiting up to `timeout_ms` for room (0: never waits);
        returns its status (error in conn._err)."""
        conn = self._connection
        return _unchecked_publish(
            conn._native.handle_arg, self.id, exchange_c_name, routing_key_c, flags, c_message.pointer,
            c_message.body, sequence_ref, _ffi.c_timeout(timeout_ms), conn._err_ref)

    def _basic_ack(self, delivery_tag, multiple=False):
        self._check_open()
        conn = self._connection
        rc = _ffi.lib.swamqp_basic_ack(conn._native.handle, self.id, delivery_tag,
                                       _ffi.SWAMQP_MULTIPLE if multiple else 0, conn._err_ref)
        if rc:
            raise conn._error(rc)

    def _basic_nack(self, delivery_tag, multiple, requeue):
        self._check_open()
        conn = self._connection
        flags = (_ffi.SWAMQP_MULTIPLE if multiple else 0) | (_ffi.SWAMQP_REQUEUE if requeue else 0)
        rc = _ffi.lib.swamqp_basic_nack(conn._native.handle, self.id, delivery_tag, flags, conn._err_ref)
        if rc:
            raise conn._error(rc)

    def _basic_reject(self, delivery_tag, requeue):
        self._check_open()
        conn = self._connection
        rc = _ffi.lib.swamqp_basic_reject(conn._native.handle, self.id, delivery_tag,
                                          _ffi.SWAMQP_REQUEUE if requeue else 0, conn._err_ref)
        if rc:
            raise conn._error(rc)


def _declare_ok(ev):
    return (read_bytes(ev.name).decode("utf-8", "surrogateescape"), ev.message_count,
            ev.consumer_count)

