"""Queue, QueueBinding and Consumer (asynqp 0.6's API)."""

from . import _ffi
from ._table import bytes_struct, encode_table
from .exceptions import Deleted, InvalidExchangeName

__all__ = ["Queue", "QueueBinding", "Consumer"]


class Queue:
    """A queue; made by :meth:`Channel.declare_queue`.

    Attributes: ``name``, ``durable``, ``exclusive``, ``auto_delete``, ``arguments``.
    """

    def __init__(self, channel, name, durable, exclusive, auto_delete, arguments):
        self._channel = channel
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.auto_delete = auto_delete
        self.arguments = arguments
        self.deleted = False
        self._keep = []
        self._c_name = bytes_struct(name.encode("utf-8"), self._keep)

    def __repr__(self):
        return "<swiftamqp.Queue %r>" % (self.name,)

    async def bind(self, exchange, routing_key, *, arguments=None):
        """Binds the queue to `exchange` (an :class:`Exchange`) with `routing_key`;
        returns a :class:`QueueBinding`."""
        if self.deleted:
            raise Deleted("Queue {} was deleted".format(self.name))
        if exchange is None or not getattr(exchange, "name", ""):
            raise InvalidExchangeName("Can't bind queue {} to the default exchange".format(self.name))
        if not isinstance(routing_key, str):
            raise TypeError("routing_key must be a str")
        channel = self._channel
        channel._check_open()
        keep = []
        c_exchange = bytes_struct(exchange.name.encode("utf-8"), keep)
        c_key = bytes_struct(routing_key.encode("utf-8"), keep)
        table = encode_table(arguments) if arguments else None
        await channel._connection._start(
            channel.id, None, _ffi.lib.swamqp_queue_bind_async, channel.id, self._c_name,
            c_exchange, c_key, 0, table.pointer if table is not None else None)
        return QueueBinding(self, exchange, routing_key)

    async def get(self, *, no_ack=False):
        """basic.get: the next message as an :class:`IncomingMessage`, or None when the queue is
        empty."""
        if self.deleted:
            raise Deleted("Queue {} was deleted".format(self.name))
        channel = self._channel
        channel._check_open()

        def convert(ev):
            if ev.flags & _ffi.SWAMQP_EVENT_FLAG_EMPTY or not ev.message:
                return None
            from .message import IncomingMessage
            return IncomingMessage._from_c(_ffi.swamqp_message.from_address(ev.message), channel,
                                           with_consumer_tag=False)

        return await channel._connection._start(
            channel.id, convert, _ffi.lib.swamqp_basic_get_async, channel.id, self._c_name,
            _ffi.SWAMQP_NO_ACK if no_ack else 0)

    async def consume(self, callback, *, no_local=False, no_ack=False, exclusive=False,
                      arguments=None):
        raise NotImplementedError("Queue.consume needs swamqp_basic_consume, "
                                  "which libswiftamqp does not offer yet")

    async def purge(self):
        raise NotImplementedError("Queue.purge needs swamqp_queue_purge, "
                                  "which libswiftamqp does not offer yet")

    async def delete(self, *, if_unused=True, if_empty=True):
        raise NotImplementedError("Queue.delete needs swamqp_queue_delete, "
                                  "which libswiftamqp does not offer yet")


class QueueBinding:
    """A binding of a :class:`Queue` to an :class:`Exchange`; made by :meth:`Queue.bind`.

    Attributes: ``queue``, ``exchange``, ``routing_key``.
    """

    def __init__(self, queue, exchange, routing_key):
        self.queue = queue
        self.exchange = exchange
        self.routing_key = routing_key
        self.deleted = False

    def __repr__(self):
        return "<swiftamqp.QueueBinding %r -> %r (%r)>" % (
            self.queue.name, self.exchange.name, self.routing_key)

    async def unbind(self, arguments=None):
        raise NotImplementedError("QueueBinding.unbind needs swamqp_queue_unbind, "
                                  "which libswiftamqp does not offer yet")


class Consumer:
    """A consumer (not available yet: the C API has no basic.consume)."""

    def __init__(self, tag, callback):
        self.tag = tag
        self.callback = callback
        self.cancelled = False

    async def cancel(self):
        raise NotImplementedError("Consumer.cancel needs swamqp_basic_cancel, "
                                  "which libswiftamqp does not offer yet")
