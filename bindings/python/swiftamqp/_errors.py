"""swamqp_status + swamqp_error -> Python exception."""

import ctypes

from . import _ffi
from .exceptions import (
    AMQPTimeoutError, AuthenticationError, ConnectError, ConnectionClosed, ConnectionLostError,
    LibraryError, PublishNacked, PublishTimeout, Recovering, StaleDeliveryTag, WouldBlock, exception_for_reply_code,
)

_LOST = (_ffi.SWAMQP_ERR_IO, _ffi.SWAMQP_ERR_CONNECTION_LOST, _ffi.SWAMQP_ERR_HEARTBEAT_TIMEOUT)
_CONNECT = (_ffi.SWAMQP_ERR_RESOLVE, _ffi.SWAMQP_ERR_CONNECT, _ffi.SWAMQP_ERR_TLS)


class ErrorInfo:
    """A Python copy of a swamqp_error (the C struct may die with the event batch)."""

    __slots__ = ("status", "origin", "reply_code", "class_id", "method_id", "channel", "message")

    def __init__(self, status, origin=0, reply_code=0, class_id=0, method_id=0, channel=0, message=""):
        self.status = status
        self.origin = origin
        self.reply_code = reply_code
        self.class_id = class_id
        self.method_id = method_id
        self.channel = channel
        self.message = message

    @classmethod
    def from_struct(cls, err, status=None):
        """Copies a swamqp_error. When the callee left it unfilled (its status is not `status`),
        only `status` is kept."""
        if status is not None and err.status != status:
            return cls(status)
        return cls(err.status, err.origin, err.reply_code, err.class_id, err.method_id, err.channel,
                   err.message.decode("utf-8", "replace"))

    @classmethod
    def take(cls, err, status):
        """Copies a caller-owned swamqp_error after a failed call and clears it for reuse."""
        info = cls.from_struct(err, status)
        ctypes.memset(ctypes.byref(err), 0, ctypes.sizeof(err))
        return info

    @classmethod
    def from_pointer(cls, address, status):
        """Copies the library-owned swamqp_error of an event (`status`: used when it has none)."""
        if not address:
            return cls(status)
        info = cls.from_struct(_ffi.swamqp_error.from_address(address))
        if not info.status:
            info.status = status
        return info

    @property
    def from_broker(self):
        return self.origin == _ffi.SWAMQP_ORIGIN_BROKER and self.reply_code != 0


def _annotate(exc, info, status_name):
    exc.status = info.status
    exc.status_name = status_name
    exc.origin = info.origin
    exc.class_id = info.class_id
    exc.method_id = info.method_id
    exc.channel = info.channel
    if info.reply_code:
        exc.reply_code = info.reply_code
        exc.reply_text = info.message
    return exc


def make_exception(info, *, connection_level=False):
    """The exception for an ErrorInfo.

    - broker-origin errors: connection level -> ConnectionClosed(reply_text, reply_code); channel
      level -> the class named after the reply code (NotFound, PreconditionFailed, ...);
    - library errors: AuthenticationError, ConnectError, AMQPTimeoutError, ConnectionLostError,
      ConnectionClosed for SWAMQP_ERR_CONNECTION_CLOSED, else LibraryError.
    """
    status = info.status
    name = _ffi.status_name(status)
    text = info.message or name
    if info.from_broker:
        if status == _ffi.SWAMQP_ERR_AUTH:
            exc = AuthenticationError("%s: %d %s" % (name, info.reply_code, info.message), status)
        elif connection_level or status == _ffi.SWAMQP_ERR_CONNECTION_CLOSED or info.channel == 0:
            exc = ConnectionClosed(info.message, info.reply_code)
        else:
            exc = exception_for_reply_code(info.reply_code)(
                "%d %s" % (info.reply_code, info.message))
        return _annotate(exc, info, name)
    detail = "%s: %s" % (name, text) if text != name else name
    if status == _ffi.SWAMQP_ERR_AUTH:
        exc = AuthenticationError(detail, status)
    elif status in _CONNECT:
        exc = ConnectError(detail, status)
    elif status == _ffi.SWAMQP_ERR_TIMEOUT:
        exc = AMQPTimeoutError(detail, status)
    elif status == _ffi.SWAMQP_ERR_WOULD_BLOCK:
        exc = WouldBlock(detail, status)
    elif status == _ffi.SWAMQP_ERR_NACKED:
        exc = PublishNacked(detail)
    elif status == _ffi.SWAMQP_ERR_STALE_DELIVERY_TAG:
        exc = StaleDeliveryTag(detail, status)
    elif status == _ffi.SWAMQP_ERR_RECOVERING:
        exc = Recovering(detail, status)
    elif status in _LOST:
        exc = ConnectionLostError(detail)
    elif status in (_ffi.SWAMQP_ERR_CONNECTION_CLOSED, _ffi.SWAMQP_ERR_CLOSED_BY_APPLICATION):
        exc = ConnectionClosed(text)
    else:
        exc = LibraryError(detail, status)
    return _annotate(exc, info, name)


def publish_timeout_error(info, seconds):
    """The PublishTimeout for a publish that gave up after `seconds` (info: the library's error,
    SWAMQP_ERR_TIMEOUT or SWAMQP_ERR_WOULD_BLOCK, saying what it waited for)."""
    why = info.message or _ffi.status_name(info.status)
    exc = PublishTimeout("publish gave up after waiting %gs (publish_timeout) for room to send: %s"
                         % (seconds, why), info.status)
    return _annotate(exc, info, _ffi.status_name(info.status))


def check(status, err, *, connection_level=False):
    """Raises the exception for a failed synchronous call (status != 0)."""
    if status:
        raise make_exception(ErrorInfo.take(err, status), connection_level=connection_level)
