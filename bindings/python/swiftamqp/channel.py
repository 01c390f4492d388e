"""Channel (asynqp 0.6's API)."""

import logging
import re

from . import _ffi
from ._table import bytes_struct, encode_table, read_bytes
from .exceptions import AMQPError, ChannelClosed, UndeliverableMessage

__all__ = ["Channel"]

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


class Channel:
    """A channel on a :class:`Connection`; made by :meth:`Connection.open_channel`.

    .. attribute:: id

        the channel number
    """

    def __init__(self, connection, id, *, loop):
        self._connection = connection
        self._loop = loop
        self.id = id
        self._closing = False
        self._closed_exc = None
        self._return_handler = _default_return_handler

    def __repr__(self):
        state = "closed" if self.is_closed() else "open"
        return "<swiftamqp.Channel %d %s>" % (self.id, state)

    def is_closed(self):
        return self._closing or self._closed_exc is not None

    # ------------------------------------------------------------------------------------
    async def declare_exchange(self, name, type, *, durable=True, auto_delete=False,
                               internal=False, passive=False, nowait=False, arguments=None):
        """Declares an exchange and returns its :class:`Exchange`.

        ``name == ''`` is the default exchange: returned without a declare. Names must consist of
        letters, digits, ``-``, ``_``, ``.`` or ``:`` and must not start with ``amq.``
        (ValueError). A broker refusal raises the class for its reply code (NotFound on a
        passive declare of a missing exchange, PreconditionFailed on a mismatch) and closes the
        channel.
        """
        from .exchange import Exchange
        if name == '':
            return Exchange(self, '', 'direct', True, False, False)
        if not isinstance(name, str) or not VALID_EXCHANGE_NAME_RE.match(name):
            raise ValueError(
                "Invalid exchange name.\n"
                "Valid names consist of letters, digits, hyphen, underscore, "
                "period, or colon, and do not begin with 'amq.'")
        self._check_open()
        keep = []
        c_name = bytes_struct(name.encode("utf-8"), keep)
        c_type = bytes_struct(type.encode("utf-8"), keep)
        flags = _flags(passive=passive, durable=durable, auto_delete=auto_delete,
                       internal=internal, nowait=nowait)
        table = encode_table(arguments) if arguments else None
        fut = self._connection._start(
            self.id, None, _ffi.lib.swamqp_exchange_declare_async, self.id, c_name, c_type, flags,
            table.pointer if table is not None else None)
        await fut
        return Exchange(self, name, type, durable, auto_delete, internal)

    async def declare_queue(self, name='', *, durable=True, exclusive=False, auto_delete=False,
                            passive=False, nowait=False, arguments=None):
        """Declares a queue and returns its :class:`Queue`; ``name=''`` lets the broker name it.

        Names follow the exchange-name rule; an ``amq.`` name is accepted only with ``passive``
        (e.g. to check a server-named ``amq.gen-...`` queue) or for ``amq.rabbitmq.reply-to``.
        """
        from .queue import Queue
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
        keep = []
        c_name = bytes_struct(name.encode("utf-8"), keep)
        flags = _flags(passive=passive, durable=durable, exclusive=exclusive,
                       auto_delete=auto_delete, nowait=nowait)
        table = encode_table(arguments) if arguments else None
        fut = self._connection._start(
            self.id, _declare_ok, _ffi.lib.swamqp_queue_declare_async, self.id, c_name, flags,
            table.pointer if table is not None else None)
        declared_name, _messages, _consumers = await fut
        if nowait or not declared_name:
            declared_name = name
        return Queue(self, declared_name, durable, exclusive, auto_delete,
                     arguments if arguments is not None else {})

    def set_return_handler(self, handler):
        """Sets the function called with each returned (undeliverable, mandatory) message.

        The default (also restored by ``None``) raises :class:`UndeliverableMessage` in the event
        loop's exception handler.
        """
        if handler is None:
            self._return_handler = _default_return_handler
            return
        if not callable(handler):
            raise TypeError("The handler must be a callable with one argument (a message).", handler)
        self._return_handler = handler

    async def set_qos(self, prefetch_size=0, prefetch_count=0, apply_globally=False):
        raise NotImplementedError("Channel.set_qos needs swamqp_basic_qos, "
                                  "which libswiftamqp does not offer yet")

    async def close(self):
        """Closes the channel (channel.close / close-ok)."""
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
            await conn._start(self.id, None, _ffi.lib.swamqp_channel_close_async, self.id)
        except AMQPError:
            # e.g. the broker closed it at the same time, or the connection ended
            pass
        finally:
            if conn._channels.get(self.id) is self:
                # The library sends no CHANNEL_CLOSED event after our own close (see
                # _on_channel_closed for a late one), so the completion retires the channel.
                conn._channel_over(self.id, ChannelClosed("Channel %d closed" % self.id),
                                   expect_event=False)
            elif self._closed_exc is None:
                self._set_closed(ChannelClosed("Channel %d closed" % self.id))

    # ------------------------------------------------------------------------------------
    def _check_open(self):
        if self._closed_exc is not None:
            raise self._closed_exc
        if self._closing:
            raise ChannelClosed("Channel %d is closing" % self.id)
        self._connection._check_usable()

    def _set_closed(self, exc):
        if self._closed_exc is None:
            self._closed_exc = exc

    def _on_return(self, message):
        self._loop.call_soon(self._return_handler, message)

    def _basic_ack(self, delivery_tag, multiple=False):
        self._check_open()
        conn = self._connection
        rc = _ffi.lib.swamqp_basic_ack(conn._native.handle, self.id, delivery_tag,
                                       _ffi.SWAMQP_MULTIPLE if multiple else 0, conn._err_ref)
        if rc:
            raise conn._error(rc)


def _declare_ok(ev):
    return (read_bytes(ev.name).decode("utf-8", "surrogateescape"), ev.message_count,
            ev.consumer_count)

