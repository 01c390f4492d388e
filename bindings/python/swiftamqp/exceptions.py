"""Exceptions, named as asynqp 0.6 names them, plus the library's own errors.

Broker reply codes map to classes named after the AMQP constant (``404 NOT_FOUND`` ->
:class:`NotFound`, ``406 PRECONDITION_FAILED`` -> :class:`PreconditionFailed`, ...). Every exception
built from a ``swamqp_error`` carries its details as attributes: ``status`` (the swamqp_status),
``status_name``, ``origin``, ``reply_code``, ``reply_text``, ``class_id``, ``method_id``,
``channel``; the rest default to None/0.
"""

__all__ = [
    "AMQPError",
    "AMQPChannelError",
    "AMQPConnectionError",
    "ConnectionLostError",
    "ConnectionClosed",
    "ChannelClosed",
    "UndeliverableMessage",
    "Deleted",
    "InvalidExchangeName",
    "LibraryError",
    "AuthenticationError",
    "ConnectError",
    "AMQPTimeoutError",
    "WouldBlock",
    "PublishTimeout",
    "PublishNacked",
    "StaleDeliveryTag",
    "Recovering",
]


class AMQPError(IOError):
    """Base class of every AMQP error (an OSError subclass, as in asynqp)."""

    status = None
    status_name = None
    origin = 0
    reply_code = None
    reply_text = None
    class_id = 0
    method_id = 0
    channel = 0


class AMQPChannelError(AMQPError):
    pass


class AMQPConnectionError(AMQPError):
    pass


class ConnectionLostError(AMQPConnectionError, ConnectionError):
    """The connection ended without a close handshake (socket error, reset, heartbeat timeout)."""

    def __init__(self, message, exc=None):
        super().__init__(message)
        self.original_exc = exc


class ConnectionClosed(AMQPConnectionError):
    """The connection was closed: by the application, or by the broker (reply_code set)."""

    def __init__(self, reply_text, reply_code=None):
        super().__init__(reply_text)
        self.reply_text = reply_text
        self.reply_code = reply_code


class ChannelClosed(AMQPChannelError):
    """The channel was closed by the application."""


class UndeliverableMessage(ValueError):
    """A mandatory message no queue took came back (basic.return); ``args[0]`` is the returned
    :class:`IncomingMessage` (``message`` too), with ``reply_code`` (312 NO_ROUTE) and
    ``reply_text``."""

    @property
    def message(self):
        return self.args[0] if self.args else None


class Deleted(ValueError):
    pass


class InvalidExchangeName(ValueError):
    pass


class LibraryError(AMQPError):
    """An error reported by libswiftamqp itself: ``status`` (negative swamqp_status) and ``message``."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        self.status = status


class AuthenticationError(LibraryError, PermissionError):
    """Login refused (SWAMQP_ERR_AUTH): wrong user or password, or no access to the virtual host."""


class ConnectError(LibraryError, ConnectionError):
    """The host did not resolve or refused the connection (SWAMQP_ERR_RESOLVE, _CONNECT, _TLS)."""


class AMQPTimeoutError(LibraryError, TimeoutError):
    """The library gave up waiting (SWAMQP_ERR_TIMEOUT)."""


class WouldBlock(LibraryError, BlockingIOError):
    """A publish could not be queued without waiting (SWAMQP_ERR_WOULD_BLOCK): the broker
    blocked the connection or stopped the channel, the outbound buffer is over its limit, or
    ``max_unconfirmed`` publishes await their confirms. Raised as such by a plain
    :meth:`Exchange.publish` with ``publish_timeout=0``; with a timeout the publish waits and
    raises :class:`PublishTimeout` (a WouldBlock too) when it runs out."""


class PublishTimeout(AMQPTimeoutError, WouldBlock):
    """A publish waited ``publish_timeout`` seconds for room (the outbound buffer stayed over its
    limit, the broker kept the connection blocked or the channel stopped, or ``max_unconfirmed``
    publishes kept awaiting confirms) and gave up: the message was not sent. Both an
    :class:`AMQPTimeoutError` and a :class:`WouldBlock`."""


class StaleDeliveryTag(LibraryError):
    """ack, nack or reject of a message delivered before an automatic recovery: nothing was sent
    (the broker would close the channel for a tag it does not know) and the broker redelivers the
    message (SWAMQP_ERR_STALE_DELIVERY_TAG)."""


class Recovering(LibraryError):
    """The connection is being recovered; retry once it is back (SWAMQP_ERR_RECOVERING)."""


class PublishNacked(AMQPError):
    """The broker nacked a confirmed publish (basic.nack): it did not take the message.
    ``message`` is the Message, ``sequence`` its publish sequence number (None for
    :meth:`Channel.wait_for_confirms`)."""

    def __init__(self, text, message=None, sequence=None):
        super().__init__(text)
        self.message = message
        self.sequence = sequence


# Reply codes of the AMQP 0-9-1 spec that are errors (300..599), as asynqp generates them.
_REPLY_CODES = {
    311: "CONTENT_TOO_LARGE",
    313: "NO_CONSUMERS",
    320: "CONNECTION_FORCED",
    402: "INVALID_PATH",
    403: "ACCESS_REFUSED",
    404: "NOT_FOUND",
    405: "RESOURCE_LOCKED",
    406: "PRECONDITION_FAILED",
    501: "FRAME_ERROR",
    502: "SYNTAX_ERROR",
    503: "COMMAND_INVALID",
    504: "CHANNEL_ERROR",
    505: "UNEXPECTED_FRAME",
    506: "RESOURCE_ERROR",
    530: "NOT_ALLOWED",
    540: "NOT_IMPLEMENTED",
    541: "INTERNAL_ERROR",
}

#: reply code -> exception class
EXCEPTIONS_BY_CODE = {}

for _code, _constant in _REPLY_CODES.items():
    _classname = "".join(part.capitalize() for part in _constant.split("_"))
    _cls = type(_classname, (AMQPError,), {
        "__doc__": "Broker reply %d %s." % (_code, _constant),
        "__module__": __name__,
        "code": _code,
    })
    globals()[_classname] = _cls
    EXCEPTIONS_BY_CODE[_code] = _cls
    __all__.append(_classname)
del _code, _constant, _classname, _cls


def exception_for_reply_code(reply_code):
    """The class for a broker reply code (AMQPError when the code is not a known error code)."""
    return EXCEPTIONS_BY_CODE.get(reply_code, AMQPError)
