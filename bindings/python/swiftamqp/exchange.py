"""Exchange (asynqp 0.6's API)."""

from . import _ffi
from ._errors import ErrorInfo, make_exception
from ._table import bytes_struct
from .message import Message

__all__ = ["Exchange"]

_ROUTING_KEY_CACHE = 256  # routing keys kept encoded per exchange


class Exchange:
    """An exchange; made by :meth:`Channel.declare_exchange`.

    .. attribute:: name
    .. attribute:: type
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

    def publish(self, message, routing_key, *, mandatory=True):
        """Publishes `message` (a :class:`Message`) now: one library call that queues the frames
        for the connection's I/O thread and never waits for the broker.

        With ``mandatory`` (the default) a message no queue takes comes back to the channel's
        return handler (see :meth:`Channel.set_return_handler`). Raises when the channel or
        connection is closed, and a LibraryError with status SWAMQP_ERR_WOULD_BLOCK when the
        outbound buffer is full or the broker has blocked the connection.
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
        c = message._c_message()
        rc = _ffi.lib.swamqp_basic_publish(
            conn._native.handle, channel.id, self._c_name, key[0],
            _ffi.SWAMQP_MANDATORY if mandatory else 0, c.pointer, c.body, None, 0, conn._err_ref)
        if rc:
            raise make_exception(ErrorInfo.take(conn._err, rc))

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

    async def delete(self, *, if_unused=True):
        raise NotImplementedError("Exchange.delete needs swamqp_exchange_delete, "
                                  "which libswiftamqp does not offer yet")
