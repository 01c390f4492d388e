"""swiftamqp.blocking's exceptions: pika's names, deriving from the binding's classes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Sequence, Tuple

from .. import _ffi
from .. import exceptions as _exc

if TYPE_CHECKING:  # pragma: no cover
    from ._spec import ReturnedMessage


# ============================================================================================
# Exceptions: pika's names, deriving from the binding's classes (swiftamqp.exceptions), so
# ``except swiftamqp.AMQPError`` (or NotFound, ConnectionLostError, ...) catches both APIs.
# ============================================================================================
AMQPError = _exc.AMQPError
AMQPConnectionError = _exc.AMQPConnectionError
AMQPChannelError = _exc.AMQPChannelError
AMQPTimeoutError = _exc.AMQPTimeoutError
Recovering = _exc.Recovering


class _PikaArgs:
    """str(exc) as pika shows it: the args tuple (AMQPError is an OSError, which would print
    ``[Errno 404] ...`` for two args)."""

    def __str__(self) -> str:
        return str(self.args)  # type: ignore[attr-defined]


class ConnectionWrongStateError(AMQPConnectionError):
    """The connection is in the wrong state for the call (e.g. it is closed)."""


class ChannelWrongStateError(AMQPChannelError):
    """The channel is in the wrong state for the call (e.g. it is closed)."""


class ConnectionClosed(_PikaArgs, _exc.ConnectionClosed):
    """The connection was closed; ``reply_code`` and ``reply_text`` say how."""

    def __init__(self, reply_code: int, reply_text: str) -> None:
        AMQPConnectionError.__init__(self, int(reply_code), str(reply_text))
        self.reply_code = int(reply_code)  # type: ignore[assignment]
        self.reply_text = str(reply_text)  # type: ignore[assignment]


class ConnectionClosedByBroker(ConnectionClosed):
    """connection.close from the broker (e.g. 320 CONNECTION_FORCED)."""


class ConnectionClosedByClient(ConnectionClosed):
    """The application closed the connection."""


class StreamLostError(_exc.ConnectionLostError):
    """The TCP connection was lost without a close handshake."""


class AMQPHeartbeatTimeout(_exc.ConnectionLostError):
    """Nothing was received from the broker for two heartbeat intervals."""


class ConnectionBlockedTimeout(AMQPConnectionError, _exc.AMQPTimeoutError):
    """A publish waited longer than ``blocked_connection_timeout`` while the broker blocked the
    connection (connection.blocked, e.g. a memory alarm)."""

    def __init__(self, message: str) -> None:
        AMQPConnectionError.__init__(self, message)
        self.message = message
        self.status = _ffi.SWAMQP_ERR_TIMEOUT  # type: ignore[assignment]


class ConnectError(AMQPConnectionError, _exc.ConnectError):
    """The host did not resolve, refused the connection, or TLS failed."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        AMQPConnectionError.__init__(self, message)
        self.message = message
        self.status = status  # type: ignore[assignment]


class AuthenticationError(AMQPConnectionError, _exc.AuthenticationError):
    """Login refused."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        AMQPConnectionError.__init__(self, message)
        self.message = message
        self.status = status  # type: ignore[assignment]


class ProbableAuthenticationError(AuthenticationError):
    """The broker refused the user name or password (pika's name for it)."""


class ProbableAccessDeniedError(AuthenticationError):
    """The user may not use the virtual host."""


class ChannelClosed(_PikaArgs, _exc.ChannelClosed):
    """The channel was closed; ``reply_code`` and ``reply_text`` say how."""

    def __init__(self, reply_code: int, reply_text: str) -> None:
        AMQPChannelError.__init__(self, int(reply_code), str(reply_text))
        self.reply_code = int(reply_code)  # type: ignore[assignment]
        self.reply_text = str(reply_text)  # type: ignore[assignment]


class ChannelClosedByBroker(ChannelClosed):
    """channel.close from the broker. An instance is also an instance of the binding's class for
    its reply code (404 -> swiftamqp.NotFound, 406 -> PreconditionFailed, ...)."""


class ChannelClosedByClient(ChannelClosed):
    """The application closed the channel."""


class DuplicateConsumerTag(AMQPChannelError):
    """basic_consume with a consumer tag already in use on the channel."""


class ConsumerCancelled(AMQPChannelError):
    """The broker cancelled the consumer."""


class UnroutableError(AMQPChannelError, _exc.UndeliverableMessage):
    """A mandatory message published in confirm mode came back (basic.return before its ack).
    ``messages`` holds the :class:`ReturnedMessage` (one)."""

    def __init__(self, messages: Sequence["ReturnedMessage"]) -> None:
        AMQPChannelError.__init__(self, "%s unroutable message(s) returned" % len(messages))
        self.messages = list(messages)

    @property
    def message(self) -> Optional["ReturnedMessage"]:  # type: ignore[override]
        return self.messages[0] if self.messages else None


class NackError(AMQPChannelError, _exc.PublishNacked):
    """The broker nacked a message published in confirm mode. ``messages``: the returned message
    when it was also returned, else empty."""

    def __init__(self, messages: Sequence["ReturnedMessage"]) -> None:
        AMQPChannelError.__init__(self, "%s message(s) NACKed" % len(messages))
        self.messages = list(messages)
        self.message = None
        self.sequence = None


class ReentrancyError(Exception):
    """start_consuming (or consume) called from inside a callback of the same connection."""


class exceptions:  # noqa: N801 - a namespace, used as ``pika.exceptions.X``
    """The exception classes, reachable as ``swiftamqp.blocking.exceptions.NAME``."""

    AMQPError = AMQPError
    AMQPConnectionError = AMQPConnectionError
    AMQPChannelError = AMQPChannelError
    AMQPTimeoutError = AMQPTimeoutError
    Recovering = Recovering
    ConnectionWrongStateError = ConnectionWrongStateError
    ChannelWrongStateError = ChannelWrongStateError
    ConnectionClosed = ConnectionClosed
    ConnectionClosedByBroker = ConnectionClosedByBroker
    ConnectionClosedByClient = ConnectionClosedByClient
    StreamLostError = StreamLostError
    AMQPHeartbeatTimeout = AMQPHeartbeatTimeout
    ConnectionBlockedTimeout = ConnectionBlockedTimeout
    ConnectError = ConnectError
    AuthenticationError = AuthenticationError
    ProbableAuthenticationError = ProbableAuthenticationError
    ProbableAccessDeniedError = ProbableAccessDeniedError
    ChannelClosed = ChannelClosed
    ChannelClosedByBroker = ChannelClosedByBroker
    ChannelClosedByClient = ChannelClosedByClient
    DuplicateConsumerTag = DuplicateConsumerTag
    ConsumerCancelled = ConsumerCancelled
    UnroutableError = UnroutableError
    NackError = NackError
    ReentrancyError = ReentrancyError


_by_code_classes: Dict[Tuple[type, int], type] = {}


def _closed_by_broker(base: type, reply_code: int, reply_text: str) -> Exception:
    """An instance of `base` (ChannelClosedByBroker or ConnectionClosedByBroker) that is also an
    instance of the binding's class for the reply code (swiftamqp.NotFound for 404, ...)."""
    key = (base, reply_code)
    cls = _by_code_classes.get(key)
    if cls is None:
        by_code = _exc.EXCEPTIONS_BY_CODE.get(reply_code)
        cls = base if by_code is None else type(base.__name__, (base, by_code), {
            "__module__": base.__module__, "__doc__": base.__doc__})
        _by_code_classes[key] = cls
    exc = cls(reply_code, reply_text)
    exc.origin = _ffi.SWAMQP_ORIGIN_BROKER
    return exc


def _copy(exc: BaseException) -> BaseException:
    """A fresh instance of a recorded exception (one instance must not be raised by two threads)."""
    import copy
    try:
        new = copy.copy(exc)
    except Exception:  # pragma: no cover - an exception class that cannot be rebuilt
        return exc
    new.__traceback__ = None
    return new
