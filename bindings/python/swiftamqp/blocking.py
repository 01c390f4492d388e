"""swiftamqp.blocking: a blocking, thread-safe client with pika's BlockingConnection API.

Programs written for ``pika.BlockingConnection`` port by changing the import and the line that
connects::

    from swiftamqp import blocking as pika          # was: import pika
    connection = pika.connect("amqp://guest:guest@localhost/%2f")   # was: pika.BlockingConnection(...)
    channel = connection.channel()
    channel.queue_declare(queue="hello")
    channel.basic_publish(exchange="", routing_key="hello", body=b"Hello World!")

It runs on the same engine as the asyncio API (libswiftamqp) and shares its rules: no protocol
logic here, and Python never runs on a library thread.

How it works
------------
- Requests to the broker (declare, bind, qos, consume, cancel, get, tx, confirm.select, close)
  are the library's *blocking* calls with a timeout (``rpc_timeout``). They need no event
  draining, release the GIL while they wait, and may run on any number of threads at once.
- Publishing is one library call that never waits for the broker. In confirm mode
  (:meth:`BlockingChannel.confirm_delivery`) :meth:`BlockingChannel.basic_publish` then waits
  for that message's confirm, as pika does, and raises :class:`UnroutableError` or
  :class:`NackError`.
- Everything the broker sends unasked (deliveries, returns, confirms, closes, blocked/unblocked,
  cancels, log records) arrives in the connection's one event queue. Only one thread may drain
  it at a time, so draining is a *leader/follower* dispatcher: a thread that needs an event
  (a consumer in :meth:`BlockingChannel.start_consuming`, a publisher waiting for its confirm,
  :meth:`BlockingConnection.process_data_events`) becomes the leader if there is none, takes a
  batch with one library call, copies it into Python objects and routes each one to where it
  belongs (the channel's pending deliveries, the publisher waiting for that sequence number,
  ...), then wakes the others; one of them leads next. Followers wait on a condition variable.
  The leader waits at most 0.1 s in the library at a time (a pipe wakes it earlier when another
  thread needs it), so Ctrl-C and timeouts are honoured.
- Callbacks (consumers, returns, cancels, timers, ``add_callback_threadsafe``, blocked) never
  run while routing: they run on the thread that called ``start_consuming``,
  ``process_data_events``, ``sleep`` or iterates ``consume()``, after the batch was routed.
  A channel whose ``start_consuming`` runs on some thread has its callbacks run on that thread
  only; the callbacks of other channels run on whichever consuming thread of the connection gets
  to them first, one at a time per channel and in order.
- Heartbeats are sent and checked by the library's I/O thread, so a callback that runs for
  minutes costs nothing but the deliveries it holds up.
"""

from __future__ import annotations

import collections
import ctypes
import datetime
import enum
import heapq
import itertools
import logging
import os
import select
import signal
import threading
import time
import uuid
import weakref
from typing import (Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Tuple,
                    Union)

from . import _ffi
from . import exceptions as _exc
from ._errors import ErrorInfo, make_exception
from . import _reader
from ._reader import DELIVERY_RECORD, EVENT_HEAD, EVENT_SIZE, M, read_message, text
from ._table import decode_table_at, encode_table, read_bytes
from .tls import merge_ssl

__all__ = [
    "connect", "BlockingConnection", "BlockingChannel", "BasicProperties", "PlainCredentials",
    "ExternalCredentials", "SSLOptions", "DeliveryMode", "ExchangeType", "ReturnedMessage",
    "exceptions", "spec", "frame", "Basic", "Queue", "Exchange", "Tx", "Confirm",
]

log = logging.getLogger("swiftamqp")

_SLICE = 0.1              # seconds: the longest a thread waits without looking around
_BATCH = 256              # events per drain
_DEFAULT_RPC_TIMEOUT = 30.0
_CLOSE_TIMEOUT = 5.0
_HOUSEKEEPING = 1024      # plain publishes between opportunistic drains
_MAIN_THREAD = threading.main_thread().ident


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
            "__module__": __name__, "__doc__": base.__doc__})
        _by_code_classes[key] = cls
    exc = cls(reply_code, reply_text)
    exc.origin = _ffi.SWAMQP_ORIGIN_BROKER
    return exc


# ============================================================================================
# spec: methods, properties and frames with pika's attribute names
# ============================================================================================
class _AMQPObject:
    NAME = "AMQPObject"

    def __repr__(self) -> str:
        cls = type(self)
        items = sorted("%s=%s" % (k, v) for k, v in self.__dict__.items()
                       if not k.startswith("_") and getattr(cls, k, _MISSING) != v)
        return "<%s(%s)>" % (self.NAME, items) if items else "<%s>" % self.NAME

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]


_MISSING = object()


class _Method(_AMQPObject):
    pass


class Basic:
    """basic.* methods as results and callback arguments."""

    class Deliver(_Method):
        NAME = "Basic.Deliver"

        def __init__(self, consumer_tag: Optional[str] = None, delivery_tag: Optional[int] = None,
                     redelivered: bool = False, exchange: Optional[str] = None,
                     routing_key: Optional[str] = None) -> None:
            self.consumer_tag = consumer_tag
            self.delivery_tag = delivery_tag
            self.redelivered = redelivered
            self.exchange = exchange
            self.routing_key = routing_key

    class GetOk(_Method):
        NAME = "Basic.GetOk"

        def __init__(self, delivery_tag: Optional[int] = None, redelivered: bool = False,
                     exchange: Optional[str] = None, routing_key: Optional[str] = None,
                     message_count: Optional[int] = None) -> None:
            self.delivery_tag = delivery_tag
            self.redelivered = redelivered
            self.exchange = exchange
            self.routing_key = routing_key
            self.message_count = message_count

    class Return(_Method):
        NAME = "Basic.Return"

        def __init__(self, reply_code: Optional[int] = None, reply_text: str = "",
                     exchange: Optional[str] = None, routing_key: Optional[str] = None) -> None:
            self.reply_code = reply_code
            self.reply_text = reply_text
            self.exchange = exchange
            self.routing_key = routing_key

    class Ack(_Method):
        NAME = "Basic.Ack"

        def __init__(self, delivery_tag: int = 0, multiple: bool = False) -> None:
            self.delivery_tag = delivery_tag
            self.multiple = multiple

    class Nack(_Method):
        NAME = "Basic.Nack"

        def __init__(self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True) -> None:
            self.delivery_tag = delivery_tag
            self.multiple = multiple
            self.requeue = requeue

    class Cancel(_Method):
        NAME = "Basic.Cancel"

        def __init__(self, consumer_tag: Optional[str] = None, nowait: bool = False) -> None:
            self.consumer_tag = consumer_tag
            self.nowait = nowait

    class ConsumeOk(_Method):
        NAME = "Basic.ConsumeOk"

        def __init__(self, consumer_tag: Optional[str] = None) -> None:
            self.consumer_tag = consumer_tag

    class CancelOk(_Method):
        NAME = "Basic.CancelOk"

        def __init__(self, consumer_tag: Optional[str] = None) -> None:
            self.consumer_tag = consumer_tag

    class QosOk(_Method):
        NAME = "Basic.QosOk"

    class RecoverOk(_Method):
        NAME = "Basic.RecoverOk"


class Queue:
    """queue.* results."""

    class DeclareOk(_Method):
        NAME = "Queue.DeclareOk"

        def __init__(self, queue: str = "", message_count: int = 0, consumer_count: int = 0) -> None:
            self.queue = queue
            self.message_count = message_count
            self.consumer_count = consumer_count

    class BindOk(_Method):
        NAME = "Queue.BindOk"

    class UnbindOk(_Method):
        NAME = "Queue.UnbindOk"

    class PurgeOk(_Method):
        NAME = "Queue.PurgeOk"

        def __init__(self, message_count: int = 0) -> None:
            self.message_count = message_count

    class DeleteOk(_Method):
        NAME = "Queue.DeleteOk"

        def __init__(self, message_count: int = 0) -> None:
            self.message_count = message_count


class Exchange:
    """exchange.* results."""

    class DeclareOk(_Method):
        NAME = "Exchange.DeclareOk"

    class DeleteOk(_Method):
        NAME = "Exchange.DeleteOk"

    class BindOk(_Method):
        NAME = "Exchange.BindOk"

    class UnbindOk(_Method):
        NAME = "Exchange.UnbindOk"


class Tx:
    """tx.* results."""

    class SelectOk(_Method):
        NAME = "Tx.SelectOk"

    class CommitOk(_Method):
        NAME = "Tx.CommitOk"

    class RollbackOk(_Method):
        NAME = "Tx.RollbackOk"


class Confirm:
    """confirm.select result."""

    class SelectOk(_Method):
        NAME = "Confirm.SelectOk"


class _ConnectionMethods:
    class Blocked(_Method):
        NAME = "Connection.Blocked"

        def __init__(self, reason: str = "") -> None:
            self.reason = reason

    class Unblocked(_Method):
        NAME = "Connection.Unblocked"


class DeliveryMode(enum.Enum):
    Transient = 1
    Persistent = 2


class ExchangeType(str, enum.Enum):
    direct = "direct"
    fanout = "fanout"
    headers = "headers"
    topic = "topic"


class BasicProperties(_AMQPObject):
    """The 14 basic properties with pika's names. Unset ones are None. ``timestamp`` is seconds
    since the epoch (an int; a datetime is accepted when publishing); ``headers`` a dict."""

    NAME = "BasicProperties"
    # Class-level defaults: received messages set only the properties they carry.
    content_type: Optional[str] = None
    content_encoding: Optional[str] = None
    headers: Optional[Dict[str, Any]] = None
    delivery_mode: Optional[int] = None
    priority: Optional[int] = None
    correlation_id: Optional[str] = None
    reply_to: Optional[str] = None
    expiration: Optional[str] = None
    message_id: Optional[str] = None
    timestamp: Optional[int] = None
    type: Optional[str] = None
    user_id: Optional[str] = None
    app_id: Optional[str] = None
    cluster_id: Optional[str] = None

    def __init__(self, content_type: Optional[str] = None, content_encoding: Optional[str] = None,
                 headers: Optional[Dict[str, Any]] = None,
                 delivery_mode: Optional[Union[int, DeliveryMode]] = None,
                 priority: Optional[int] = None, correlation_id: Optional[str] = None,
                 reply_to: Optional[str] = None, expiration: Optional[str] = None,
                 message_id: Optional[str] = None, timestamp: Optional[int] = None,
                 type: Optional[str] = None, user_id: Optional[str] = None,  # noqa: A002
                 app_id: Optional[str] = None, cluster_id: Optional[str] = None) -> None:
        self.content_type = content_type
        self.content_encoding = content_encoding
        self.headers = headers
        self.delivery_mode = delivery_mode.value if isinstance(delivery_mode, DeliveryMode) else delivery_mode
        self.priority = priority
        self.correlation_id = correlation_id
        self.reply_to = reply_to
        self.expiration = expiration
        self.message_id = message_id
        self.timestamp = timestamp
        self.type = type
        self.user_id = user_id
        self.app_id = app_id
        self.cluster_id = cluster_id

    def __repr__(self) -> str:
        items = sorted("%s=%s" % (k, v) for k, v in vars(self).items()
                       if not k.startswith("_") and v is not None)
        return "<%s(%s)>" % (self.NAME, items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BasicProperties):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in _PROPERTY_NAMES)

    __hash__ = None  # type: ignore[assignment]


class Method(_AMQPObject):
    """A method frame as pika's blocking calls return it: ``channel_number`` and ``method``."""

    NAME = "METHOD"
    frame_type = 1

    def __init__(self, channel_number: int, method: _Method) -> None:
        self.channel_number = channel_number
        self.method = method


class spec:  # noqa: N801 - a namespace, used as ``pika.spec.X``
    """pika.spec's names: ``spec.Basic.Deliver``, ``spec.BasicProperties``, ..."""

    Basic = Basic
    Queue = Queue
    Exchange = Exchange
    Tx = Tx
    Confirm = Confirm
    Connection = _ConnectionMethods
    BasicProperties = BasicProperties
    TRANSIENT_DELIVERY_MODE = 1
    PERSISTENT_DELIVERY_MODE = 2


class frame:  # noqa: N801 - a namespace, used as ``pika.frame.Method``
    Method = Method


class ReturnedMessage:
    """A message the broker returned (basic.return): ``method`` (Basic.Return), ``properties``,
    ``body``."""

    __slots__ = ("method", "properties", "body")

    def __init__(self, method: Basic.Return, properties: BasicProperties, body: bytes) -> None:
        self.method = method
        self.properties = properties
        self.body = body

    def __repr__(self) -> str:
        return "<ReturnedMessage method=%r properties=%r body=%.64r>" % (
            self.method, self.properties, self.body)


# ============================================================================================
# Credentials and TLS settings (pika's names)
# ============================================================================================
class PlainCredentials:
    """User name and password (SASL PLAIN, or AMQPLAIN when the broker offers only that)."""

    TYPE = "PLAIN"

    def __init__(self, username: str, password: str, erase_on_connect: bool = False) -> None:
        self.username = username
        self.password = password
        self.erase_on_connect = erase_on_connect

    def __repr__(self) -> str:
        return "<PlainCredentials username=%r>" % (self.username,)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PlainCredentials):
            return NotImplemented
        return (self.username, self.password) == (other.username, other.password)

    __hash__ = None  # type: ignore[assignment]


class ExternalCredentials:
    """SASL EXTERNAL: the TLS client certificate is the identity."""

    TYPE = "EXTERNAL"

    def __init__(self) -> None:
        self.erase_on_connect = False


class SSLOptions:
    """pika's ``SSLOptions(context, server_hostname)``: an ``ssl.SSLContext`` (translated as
    ``ssl=`` does, see swiftamqp.tls) and the name the certificate must carry (also SNI)."""

    def __init__(self, context: Any, server_hostname: Optional[str] = None) -> None:
        self.context = context
        self.server_hostname = server_hostname


# ============================================================================================
# Native helpers
# ============================================================================================
_lib = _ffi.lib
_Bytes = _ffi.swamqp_bytes
_byref = ctypes.byref
_c_void_p = ctypes.c_void_p
_string_at = ctypes.string_at


def _optional_function(name: str, restype: Any, argtypes: List[Any]) -> Optional[Any]:
    """A function of the library that _ffi does not declare, as a separate foreign-function
    object (so the declarations in _ffi stay untouched); None when the library lacks it."""
    try:
        getattr(_lib, name)
    except AttributeError:
        return None
    fn = ctypes.CFUNCTYPE(restype, *argtypes)((name, _lib))
    return fn


#: int swamqp_next_events_batch(conn, events, capacity, min_count, linger_us, *count, timeout_ms, *error)
_next_events_batch = _optional_function(
    "swamqp_next_events_batch", ctypes.c_int,
    [_c_void_p, ctypes.POINTER(_ffi.swamqp_event), ctypes.c_size_t, ctypes.c_size_t, ctypes.c_uint32,
     ctypes.POINTER(ctypes.c_size_t), ctypes.c_uint32, ctypes.POINTER(_ffi.swamqp_error)])
#: int swamqp_set_log_level(conn, level)
_set_log_level = _optional_function("swamqp_set_log_level", ctypes.c_int, [_c_void_p, ctypes.c_int])

_EMPTY = _Bytes(None, 0)
_names: Dict[str, Tuple[bytes, Any]] = {}


_NO_NAME = (b"", _EMPTY)


def _name(value: Any, what: str) -> Tuple[bytes, Any]:
    """(bytes, swamqp_bytes) of a short string (exchange, routing key, queue, tag) given as str
    or bytes. Cached: the same names come back call after call (the cache is emptied past 4096
    names). Callers keep the returned pair until their call returned: it keeps the bytes the
    struct points into alive even if the cache is emptied meanwhile."""
    try:
        entry = _names.get(value)
    except TypeError:  # unhashable, e.g. bytearray
        entry = None
    if entry is not None:
        return entry
    if isinstance(value, str):
        raw = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        value = raw = bytes(value)
    elif value is None:
        return _NO_NAME
    else:
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    entry = (raw, _Bytes(_address(raw), len(raw)) if raw else _EMPTY)
    if len(_names) >= 4096:
        _names.clear()
    _names[value] = entry
    return entry


def _text_of(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return "" if value is None else str(value.value if isinstance(value, enum.Enum) else value)


def _address(data: bytes) -> int:
    """The address of a bytes object's data (for a swamqp_bytes; keep `data` alive meanwhile)."""
    return ctypes.cast(data, _c_void_p).value or 0  # type: ignore[arg-type]


def _bytes_offset() -> int:
    """Where a bytes object's data starts relative to id() (CPython: after the object header),
    checked against ctypes; -1 where id() is not an address (then ctypes.cast is used)."""
    probes = [b"swiftamqp", b"x" * 100]
    offsets = {_address(p) - id(p) for p in probes}
    if len(offsets) == 1:
        offset = offsets.pop()
        if 0 < offset < 256:
            return offset
    return -1


_BYTES_OFFSET = _bytes_offset()


def _body_struct(body: Any) -> Tuple[Any, bytes]:
    if type(body) is bytes and _BYTES_OFFSET > 0:
        return (_Bytes(id(body) + _BYTES_OFFSET, len(body)) if body else _EMPTY), body
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        if body is None:
            body = b""
        elif isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        else:
            raise TypeError("body must be bytes or str, not %s" % type(body).__name__)
    if not body:
        return _EMPTY, body
    return _Bytes(_address(body), len(body)), body


_PROPERTY_NAMES = ("content_type", "content_encoding", "headers", "delivery_mode", "priority",
                   "correlation_id", "reply_to", "expiration", "message_id", "timestamp", "type",
                   "user_id", "app_id", "cluster_id")
_SHORT = {"content_type", "content_encoding", "correlation_id", "reply_to", "expiration",
          "message_id", "type", "user_id", "app_id", "cluster_id"}
_PROP_FLAGS = {name: getattr(_ffi, "SWAMQP_PROP_" + name.upper()) for name in _PROPERTY_NAMES}


class _CProperties:
    """A BasicProperties encoded for swamqp_basic_publish, with the memory it points into."""

    __slots__ = ("struct", "pointer", "snapshot", "_keep")

    def __init__(self, props: BasicProperties, snapshot: Tuple[Any, ...]) -> None:
        keep: List[Any] = []
        p = _ffi.swamqp_properties()
        flags = 0
        for name in _PROPERTY_NAMES:
            value = getattr(props, name)
            if value is None:
                continue
            flags |= _PROP_FLAGS[name]
            if name in _SHORT:
                if isinstance(value, str):
                    raw = value.encode("utf-8")
                elif isinstance(value, (bytes, bytearray)):
                    raw = bytes(value)
                else:
                    raise TypeError("BasicProperties.%s must be a str, not %s" % (name, type(value).__name__))
                if len(raw) > 255:
                    raise ValueError("BasicProperties.%s is longer than 255 bytes" % name)
                keep.append(raw)
                setattr(p, name, _Bytes(_address(raw) if raw else None, len(raw)))
            elif name in ("delivery_mode", "priority"):
                if isinstance(value, DeliveryMode):
                    value = value.value
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
                    raise ValueError("BasicProperties.%s must be an int 0..255, not %r" % (name, value))
                setattr(p, name, value)
            elif name == "timestamp":
                if isinstance(value, datetime.datetime):
                    value = int(value.timestamp())
                elif isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError("BasicProperties.timestamp must be an int (seconds since the epoch)")
                value = int(value)
                if value < 0:
                    raise ValueError("BasicProperties.timestamp must not be negative")
                p.timestamp = value
            else:  # headers
                if not isinstance(value, dict):
                    raise TypeError("BasicProperties.headers must be a dict, not %s" % type(value).__name__)
                table = encode_table(value)
                keep.append(table)
                p.headers = table.table
        p.flags = flags
        self.struct = p
        self.pointer = _byref(p)
        self.snapshot = snapshot
        self._keep = keep


def _snapshot(props: BasicProperties) -> Tuple[Any, ...]:
    d = vars(props)
    headers = d.get("headers")
    return (tuple(d.items()), repr(headers) if headers else None)


def _c_properties(props: Any) -> Any:
    """The swamqp_properties pointer for `props` (None: no properties). The encoding is cached
    on the object and reused while its attributes are unchanged."""
    if props is None:
        return None
    if not isinstance(props, BasicProperties):
        raise TypeError("properties must be a BasicProperties, not %s" % type(props).__name__)
    snap = _snapshot(props)
    cached = props.__dict__.get("_c")
    if cached is not None and cached.snapshot == snap:
        return cached.pointer
    c = _CProperties(props, snap)
    props.__dict__["_c"] = c
    return c.pointer


# Reading received messages (flattened swamqp_message fields, see _reader)
_F_FLAGS = M["properties.flags"]
_F_BODY, _F_BODY_LEN = M["body.bytes"], M["body.len"]
_F_EXCHANGE, _F_EXCHANGE_LEN = M["exchange.bytes"], M["exchange.len"]
_F_RKEY, _F_RKEY_LEN = M["routing_key.bytes"], M["routing_key.len"]
_F_CTAG, _F_CTAG_LEN = M["consumer_tag.bytes"], M["consumer_tag.len"]
_F_REPLY_TEXT, _F_REPLY_TEXT_LEN = M["reply_text.bytes"], M["reply_text.len"]
_F_DELIVERY_TAG, _F_REDELIVERED = M["delivery_tag"], M["redelivered"]
_F_MESSAGE_COUNT, _F_REPLY_CODE = M["message_count"], M["reply_code"]


def _short_reader(p: int, n: int) -> Callable[[Tuple[Any, ...]], Any]:
    return lambda f: text(_bytes_at(f[p], f[n]))


def _table_reader(c: int, e: int) -> Callable[[Tuple[Any, ...]], Any]:
    return lambda f: decode_table_at(f[c], f[e])


def _field_reader(i: int) -> Callable[[Tuple[Any, ...]], Any]:
    return lambda f: f[i]


def _property_readers() -> List[Tuple[int, str, Callable[[Tuple[Any, ...]], Any]]]:
    """(flag, name, read(fields)) per property, reading the flattened swamqp_message fields."""
    out: List[Tuple[int, str, Callable[[Tuple[Any, ...]], Any]]] = []
    for name in _PROPERTY_NAMES:
        key = "properties." + name
        if name in _SHORT:
            reader = _short_reader(M[key + ".bytes"], M[key + ".len"])
        elif name == "headers":
            reader = _table_reader(M[key + ".count"], M[key + ".entries"])
        else:
            reader = _field_reader(M[key])
        out.append((_PROP_FLAGS[name], name, reader))
    return out


_PROPERTY_READERS = _property_readers()
_string_at_raw = ctypes._string_at  # type: ignore[attr-defined] # the C function behind string_at
_reader_texts = _reader._texts      # text()'s cache of decoded names


_fields_at = read_message         # the flattened fields of the swamqp_message at an address
_record_at = DELIVERY_RECORD.unpack_from
_PACK_BYTES = 1 << 18             # a batch's deliveries copied at once (swamqp_deliveries_pack)
_readers_by_flags: Dict[int, Tuple[Tuple[str, Callable[[Tuple[Any, ...]], Any]], ...]] = {}
_new = object.__new__


def _properties_from(f: Tuple[Any, ...]) -> BasicProperties:
    props = _new(BasicProperties)
    flags = f[_F_FLAGS]
    if flags:
        readers = _readers_by_flags.get(flags)
        if readers is None:
            readers = _readers_by_flags[flags] = tuple(
                (name, reader) for flag, name, reader in _PROPERTY_READERS if flags & flag)
        d = props.__dict__
        for name, reader in readers:
            d[name] = reader(f)
    return props


def _bytes_at(p: int, n: int) -> bytes:
    return _string_at_raw(p, n) if p and n else b""


def _returned_from(f: Tuple[Any, ...]) -> ReturnedMessage:
    method = Basic.Return(f[_F_REPLY_CODE], _bytes_at(f[_F_REPLY_TEXT], f[_F_REPLY_TEXT_LEN]).decode("utf-8", "replace"),
                          text(_bytes_at(f[_F_EXCHANGE], f[_F_EXCHANGE_LEN])), text(_bytes_at(f[_F_RKEY], f[_F_RKEY_LEN])))
    return ReturnedMessage(method, _properties_from(f), _bytes_at(f[_F_BODY], f[_F_BODY_LEN]))


def _remaining_ms(deadline: Optional[float]) -> int:
    """A blocking call's timeout_ms for `deadline` (monotonic seconds; None: no limit)."""
    if deadline is None:
        return 0xFFFFFFFF
    ms = int((deadline - time.monotonic()) * 1000.0)
    return max(1, min(ms, 0xFFFFFFFE))


# ============================================================================================
# Ctrl-C: KeyboardInterrupt only at safe points while a thread waits inside the dispatcher
# ============================================================================================
class _Sigint:
    """While the main thread is inside the dispatcher (leading a drain or waiting for one), a
    SIGINT is recorded instead of raised: KeyboardInterrupt raised in the middle of routing a
    batch would lose the events of that batch, or leave the drain lock taken. The wait loop
    raises it at its next safe point (at most _SLICE later). Only when the SIGINT handler is
    Python's default one; callbacks run with the default handler (see _SigintDefault)."""

    depth = 0
    pending = False
    installed = False


def _sigint_handler(signum: int, frame: Any) -> None:
    _Sigint.pending = True


def _sigint_enter() -> bool:
    if threading.get_ident() != _MAIN_THREAD:
        return False
    if _Sigint.depth == 0:
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, _sigint_handler)
                _Sigint.installed = True
        except ValueError:  # not the main interpreter
            return False
    _Sigint.depth += 1
    return True


def _sigint_exit() -> None:
    _Sigint.depth -= 1
    if _Sigint.depth == 0 and _Sigint.installed:
        _Sigint.installed = False
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if _Sigint.pending:
            _Sigint.pending = False
            raise KeyboardInterrupt


class _SigintDefault:
    """Callbacks run with Python's own SIGINT handler, so Ctrl-C interrupts a long callback at
    once, as in pika: around them the deferring handler is taken out (main thread only)."""

    __slots__ = ("suspended",)

    def __enter__(self) -> None:
        self.suspended = False
        if _Sigint.installed and threading.get_ident() == _MAIN_THREAD:
            if _Sigint.pending:  # arrived while we routed: it is the callbacks' turn now
                _Sigint.pending = False
                raise KeyboardInterrupt
            signal.signal(signal.SIGINT, signal.default_int_handler)
            _Sigint.installed = False
            self.suspended = True

    def __exit__(self, *exc_info: Any) -> None:
        if self.suspended:
            signal.signal(signal.SIGINT, _sigint_handler)
            _Sigint.installed = True


def _sigint_check() -> None:
    """At a safe point inside the dispatcher: raise the recorded Ctrl-C."""
    if _Sigint.pending and _Sigint.installed:
        _Sigint.pending = False
        raise KeyboardInterrupt


_tls = threading.local()


def _dispatch_depth() -> int:
    return getattr(_tls, "depth", 0)


# ============================================================================================
# Routed items (what the leader copies out of an event batch)
# ============================================================================================
# Items of a channel's pending queue are (kind, channel number, consumer tag, payload): a
# delivery's is the very tuple the leader made (_K_DELIVERY), so routing allocates nothing.
_DELIVERY, _RETURN, _CANCEL = 1, 102, 103

# consumer states
_ACTIVE, _TEARING_DOWN = 1, 2


class _ConsumerInfo:
    __slots__ = ("tag", "auto_ack", "callback", "state", "leftover", "generator")

    def __init__(self, tag: str, auto_ack: bool, callback: Optional[Callable[..., Any]],
                 generator: bool = False) -> None:
        self.tag = tag
        self.auto_ack = auto_ack
        self.callback = callback
        self.state = _ACTIVE
        self.leftover: List[Tuple[Any, Any, Any]] = []
        self.generator = generator


class _Generator:
    """The consumer behind BlockingChannel.consume()."""

    __slots__ = ("params", "tag", "pending", "cancelled")

    def __init__(self, params: Tuple[str, bool, bool], tag: str) -> None:
        self.params = params
        self.tag = tag
        self.pending: Deque[Any] = collections.deque()  # (method, props, body) or None (broker cancel)
        self.cancelled = False


class _Confirm:
    """A confirm-mode publish waiting for its ack or nack."""

    __slots__ = ("done", "ack", "error", "returned", "key", "body")

    def __init__(self, key: Optional[Tuple[str, str]], body: bytes) -> None:
        self.done = False
        self.ack = False
        self.error: Optional[BaseException] = None
        self.returned: Optional[ReturnedMessage] = None
        self.key = key
        self.body = body


# ============================================================================================
# Connection
# ============================================================================================
def _free_native(handle: Any, fds: Tuple[int, int]) -> None:
    if handle is not None:
        _lib.swamqp_connection_free(handle)
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class _Native:
    """The handle and the wake pipe, apart from the Connection so a finalizer can free them."""

    __slots__ = ("handle", "handle_arg", "wake_r", "wake_w", "finalizer", "__weakref__")

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.handle_arg = ctypes.c_void_p(handle)  # the handle as unchecked functions take it
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.finalizer: Any = None


class BlockingConnection:
    """A connection made by :func:`connect`. Thread-safe: any thread may call anything.

    Use it as a context manager (``with connect(...) as connection:``) to close it at the end.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("use swiftamqp.blocking.connect(...) to make a BlockingConnection")

    def _setup(self, handle: Any, *, rpc_timeout: Optional[float], blocked_timeout: Optional[float],
               description: str) -> None:
        native = _Native(handle)
        self._native = native
        native.finalizer = weakref.finalize(self, _free_native, handle, (native.wake_r, native.wake_w))
        self._description = description
        self._rpc_timeout = rpc_timeout
        self._blocked_timeout = blocked_timeout
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        # dispatcher state (under _lock)
        self._leading = False
        self._wake_armed = False
        self._pass_started = 0
        self._last_empty_pass = 0
        self._channels: Dict[int, BlockingChannel] = {}
        self._closed_exc: Optional[BaseException] = None  # set once the connection ended
        self._closing = False
        self._recovering = False
        self._recovered_count = 0
        self._blocked = False
        self._conn_pending: Deque[Tuple[Callable[..., Any], Tuple[Any, ...]]] = collections.deque()
        self._conn_dispatching = False
        self._timers: List[Tuple[float, int, Callable[[], Any]]] = []
        self._timer_ids = itertools.count(1)
        self._cancelled_timers: set = set()
        self._blocked_callbacks: List[Callable[..., Any]] = []
        self._unblocked_callbacks: List[Callable[..., Any]] = []
        self._publishes = 0
        self._publish_ms = 0xFFFFFFFF
        self._publish_ms_arg = _ffi.c_timeout(self._publish_ms)
        # leader-only buffers
        self._events = (_ffi.swamqp_event * _BATCH)()
        self._events_view = memoryview(self._events).cast("B")
        self._pack = ctypes.create_string_buffer(_PACK_BYTES)
        self._packed_ref = ctypes.c_size_t(0)
        self._pack_written_ref = ctypes.c_size_t(0)
        self._count = ctypes.c_size_t()
        self._count_ref = _byref(self._count)
        self._event_fd = _lib.swamqp_connection_event_fd(handle)
        self._poller = select.poll()
        if self._event_fd >= 0:
            self._poller.register(self._event_fd, select.POLLIN)
        self._poller.register(native.wake_r, select.POLLIN)
        if _set_log_level is not None:
            _set_log_level(handle, _library_log_level())

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return "<swiftamqp.blocking.BlockingConnection %s %s>" % (self._description, state)

    def __enter__(self) -> BlockingConnection:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.is_open:
            self.close()

    # ----------------------------------------------------------------------------------------
    # State
    # ----------------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._closed_exc is None and not self._closing and self._native.handle is not None

    @property
    def is_closed(self) -> bool:
        return not self.is_open

    @property
    def recovering(self) -> bool:
        """True while automatic recovery (``connect(recovery=True)``) restores the connection."""
        return self._recovering

    @property
    def recoveries(self) -> int:
        """How many automatic recoveries completed on this connection."""
        return self._recovered_count

    @property
    def blocked(self) -> bool:
        """True while the broker blocks this connection's publishing (connection.blocked)."""
        return self._blocked

    # The broker capabilities pika reports; RabbitMQ has them all and the engine asks for them.
    basic_nack_supported = True
    consumer_cancel_notify_supported = True
    exchange_exchange_bindings_supported = True
    publisher_confirms_supported = True
    basic_nack = consumer_cancel_notify = exchange_exchange_bindings = publisher_confirms = True

    def stats(self) -> Dict[str, int]:
        """The library's counters for this connection (frames, bytes, publishes, confirms,
        deliveries, returns, heartbeats, bytes held by the event queue)."""
        handle = self._handle()
        stats = _ffi.swamqp_stats()
        rc = _lib.swamqp_connection_stats(handle, _byref(stats))
        if rc:
            raise self._map_error(ErrorInfo(rc), channel=None)
        return {field[0]: getattr(stats, field[0]) for field in _ffi.swamqp_stats._fields_}

    # ----------------------------------------------------------------------------------------
    # Channels
    # ----------------------------------------------------------------------------------------
    def channel(self, channel_number: Optional[int] = None) -> BlockingChannel:
        """Opens a channel on the lowest free number and returns its :class:`BlockingChannel`.
        ``channel_number`` is not supported (ValueError): the library picks the number."""
        if channel_number is not None:
            raise ValueError("channel_number is not supported: the library picks the channel number")
        number = ctypes.c_uint16()

        def call(handle: Any, timeout_ms: int, err: Any) -> int:
            return _lib.swamqp_channel_open(handle, _byref(number), timeout_ms, err)

        self._call(call, None)
        # Events queued before the open returned belong to an earlier channel of that number.
        self._flush(time.monotonic() + _CLOSE_TIMEOUT)
        channel = BlockingChannel(self, number.value)
        with self._lock:
            self._channels[number.value] = channel
        return channel

    # ----------------------------------------------------------------------------------------
    # Events, timers, callbacks
    # ----------------------------------------------------------------------------------------
    def process_data_events(self, time_limit: Optional[float] = 0) -> None:
        """Takes what the broker sent and runs the callbacks that are due (consumers without a
        thread in ``start_consuming``, returns, timers, ``add_callback_threadsafe``, blocked).
        ``time_limit``: at most this many seconds waiting for something to run (0: don't wait;
        None: until something ran). Heartbeats do not need it (the library's thread sends them);
        a publish-only program may still call it now and then to run its callbacks."""
        self._check_open_for_events()
        if _dispatch_depth():
            # From inside a callback: route what is queued, run nothing (no recursion).
            self._flush(time.monotonic() + (time_limit or 0))
            return
        deadline = None if time_limit is None else time.monotonic() + max(0.0, time_limit)
        entered = _sigint_enter()
        try:
            self._flush(time.monotonic() + _SLICE)
            while True:
                if self._dispatch_ready(None):
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                self._wait(lambda: self._work_ready(None) or self._closed_exc is not None, deadline)
                if self._closed_exc is not None:
                    break
            self._raise_if_lost()
        finally:
            if entered:
                _sigint_exit()

    def sleep(self, duration: float) -> None:
        """Waits `duration` seconds while running callbacks as process_data_events does."""
        if duration < 0:
            raise ValueError("duration must not be negative")
        deadline = time.monotonic() + duration
        while True:
            self.process_data_events(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return

    def call_later(self, delay: float, callback: Callable[[], Any]) -> int:
        """Runs ``callback()`` once, `delay` seconds from now, on a thread in process_data_events,
        sleep or start_consuming of this connection. Returns a timer id for remove_timeout."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        with self._lock:
            timer_id = next(self._timer_ids)
            heapq.heappush(self._timers, (time.monotonic() + max(0.0, delay), timer_id, callback))
            self._changed()
        return timer_id

    def remove_timeout(self, timeout_id: int) -> None:
        """Cancels a timer of call_later (nothing happens when it already ran)."""
        with self._lock:
            if any(t[1] == timeout_id for t in self._timers):
                self._cancelled_timers.add(timeout_id)

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """Runs ``callback()`` as soon as possible on a thread in process_data_events, sleep or
        start_consuming of this connection. May be called from any thread (as everything here)."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        with self._lock:
            if self._closed_exc is not None or self._closing:
                raise ConnectionWrongStateError(
                    "BlockingConnection.add_callback_threadsafe() called on a closed or closing connection.")
            self._conn_pending.append((callback, ()))
            self._changed()

    def add_on_connection_blocked_callback(self, callback: Callable[[BlockingConnection, Method], Any]) -> None:
        """``callback(connection, Method(0, Connection.Blocked(reason)))`` when the broker blocks
        publishing on this connection (a memory or disk alarm)."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._blocked_callbacks.append(callback)

    def add_on_connection_unblocked_callback(self, callback: Callable[[BlockingConnection, Method], Any]) -> None:
        """``callback(connection, Method(0, Connection.Unblocked()))`` when the block is lifted."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._unblocked_callbacks.append(callback)

    def update_secret(self, new_secret: str, reason: str) -> None:
        """connection.update-secret: a new secret (e.g. a refreshed OAuth 2 token). Never logged."""
        secret = new_secret.encode("utf-8") if isinstance(new_secret, str) else bytes(new_secret)
        why = reason.encode("utf-8")
        keep = ctypes.create_string_buffer(secret, len(secret))
        c_secret = _Bytes(ctypes.addressof(keep) if secret else None, len(secret))
        c_reason = _Bytes(_address(why) if why else None, len(why))

        def call(handle: Any, timeout_ms: int, err: Any) -> int:
            return _lib.swamqp_connection_update_secret(handle, c_secret, c_reason, timeout_ms, err)

        try:
            self._call(call, None)
        finally:
            ctypes.memset(keep, 0, len(secret))

    # ----------------------------------------------------------------------------------------
    # Closing
    # ----------------------------------------------------------------------------------------
    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Closes the connection (connection.close, waits for close-ok up to 5 s) and frees it.
        Threads blocked in calls on it wake with ConnectionWrongStateError (or the close).
        Raises ConnectionWrongStateError when it is already closed, as pika does."""
        with self._lock:
            if self._closing or self._closed_exc is not None or self._native.handle is None:
                raise ConnectionWrongStateError(
                    "BlockingConnection.close(%s, %r) called on closed connection." % (reply_code, reply_text))
            self._closing = True
            self._changed()
        handle = self._native.handle
        err = _ffi.swamqp_error()
        rc = _lib.swamqp_connection_close(handle, int(_CLOSE_TIMEOUT * 1000), _byref(err))
        if rc:
            log.debug("swamqp_connection_close: %s", _ffi.status_name(rc))
        deadline = time.monotonic() + _CLOSE_TIMEOUT
        try:
            self._wait(lambda: self._closed_exc is not None, deadline)
        finally:
            self._release(ConnectionClosedByClient(reply_code, reply_text))

    def _release(self, reason: BaseException) -> None:
        """Takes the drain (so no thread reads a batch while it is freed), frees the handle."""
        with self._lock:
            while self._leading:
                self._cond.wait(_SLICE)
            self._leading = True
        try:
            with self._lock:
                if self._closed_exc is None:
                    self._connection_over(reason)
            native = self._native
            handle, native.handle = native.handle, None
            native.handle_arg = None
            if handle is not None and native.finalizer is not None:
                native.finalizer()  # frees the handle and closes the pipe
        finally:
            with self._lock:
                self._leading = False
                self._cond.notify_all()

    # ----------------------------------------------------------------------------------------
    # The dispatcher
    # ----------------------------------------------------------------------------------------
    def _changed(self) -> None:
        """Under _lock: something a waiting thread may be waiting for changed."""
        self._cond.notify_all()
        if self._leading and not self._wake_armed:
            self._wake_armed = True
            try:
                os.write(self._native.wake_w, b"x")
            except OSError:
                pass

    def _wait(self, ready: Callable[[], bool], deadline: Optional[float], *, fresh: bool = False,
              timers: bool = False) -> bool:
        """Waits until ``ready()`` (evaluated under _lock) or `deadline` (monotonic; None: no
        limit), draining events meanwhile as the leader or waiting as a follower. With `fresh`
        it also returns (False) once a drain that started after the call emptied the event
        queue. `timers`: the caller runs timers, so it wakes when one is due. Returns ready()."""
        entered = _sigint_enter()
        try:
            return self._wait_loop(ready, deadline, fresh, timers)
        finally:
            if entered:
                _sigint_exit()

    def _wait_loop(self, ready: Callable[[], bool], deadline: Optional[float], fresh: bool,
                   timers: bool) -> bool:
        cond = self._cond
        mark = -1
        while True:
            lead = False
            number = 0
            with cond:
                if fresh and mark < 0:
                    mark = self._pass_started
                    if self._leading:
                        self._changed()  # wake the leader: a drain must start after now
                while True:
                    if ready():
                        return True
                    if fresh and self._last_empty_pass > mark:
                        return False
                    if self._native.handle is None:
                        return False
                    now = time.monotonic()
                    if deadline is not None and now >= deadline:
                        return False
                    if _Sigint.pending and _Sigint.installed:
                        break
                    if not self._leading:
                        self._leading = True
                        self._pass_started += 1
                        number = self._pass_started
                        lead = True
                        break
                    timeout = _SLICE if deadline is None else min(_SLICE, deadline - now)
                    if timers and self._timers:
                        timeout = min(timeout, self._timers[0][0] - now)
                    cond.wait(max(0.0, timeout))
            if not lead:
                _sigint_check()
                continue
            try:
                now = time.monotonic()
                if fresh:
                    timeout = 0.0
                else:
                    timeout = _SLICE if deadline is None else min(_SLICE, deadline - now)
                    if timers and self._timers:
                        timeout = min(timeout, self._timers[0][0] - now)
                items, empty = self._pass(max(0.0, timeout))
            except BaseException:
                with cond:
                    self._leading = False
                    cond.notify_all()
                raise
            with cond:
                try:
                    if items:
                        self._route(items)
                finally:
                    if empty:
                        self._last_empty_pass = number
                    self._leading = False
                    self._wake_armed = False
                    cond.notify_all()
            _sigint_check()

    def _flush(self, deadline: Optional[float]) -> None:
        """Routes every event the library queued before this call (or until `deadline`)."""
        self._wait(lambda: False, deadline, fresh=True)

    def _housekeeping(self) -> None:
        """A non-blocking drain when nobody drains: a publish-only program still empties the
        event queue (returns, closes, log records), so the library never stops reading."""
        with self._lock:
            if self._leading or self._native.handle is None:
                return
        self._flush(time.monotonic() + _SLICE)

    def _pass(self, timeout: float) -> Tuple[List[Tuple[Any, ...]], bool]:
        """One drain (leader only): up to _BATCH events, waiting up to `timeout` seconds for the
        first. Returns (items, whether the queue was drained empty)."""
        handle = self._native.handle
        if handle is None:
            return [], True
        count = self._count
        rc = _lib.swamqp_next_events(handle, self._events, _BATCH, self._count_ref, 0)
        n = count.value if rc == 0 else 0
        if rc == 0 and n == 0 and timeout > 0:
            ready = self._poller.poll(int(timeout * 1000.0 + 0.999))
            wake = self._native.wake_r
            for fd, _ in ready:
                if fd == wake:
                    try:
                        os.read(wake, 512)
                    except OSError:
                        pass
            rc = _lib.swamqp_next_events(handle, self._events, _BATCH, self._count_ref, 0)
            n = count.value if rc == 0 else 0
        if rc:
            if rc in (_ffi.SWAMQP_ERR_CONNECTION_CLOSED, _ffi.SWAMQP_ERR_INVALID_HANDLE,
                      _ffi.SWAMQP_ERR_FORKED):
                return [(_K_GONE, rc)], True
            log.error("swamqp_next_events failed: %s", _ffi.status_name(rc))
            return [], True
        if not n:
            return [], True
        return self._convert(n), n < _BATCH

    def _convert(self, n: int) -> List[Tuple[Any, ...]]:
        """Copies `n` events of the batch into Python objects (the batch is released by the
        next drain)."""
        items: List[Tuple[Any, ...]] = []
        append = items.append
        view = self._events_view
        head = EVENT_HEAD.unpack_from
        events = self._events
        # the hot path (deliveries), with everything it uses in locals
        delivery = _ffi.SWAMQP_EVENT_DELIVERY
        fields_at = _fields_at
        texts = _reader_texts
        decode = text
        deliver = Basic.Deliver
        new = _new
        props_cls = BasicProperties
        props_from = _properties_from
        # The batch's deliveries in one buffer, read with one call (any rest: one by one).
        packed = 0
        if _lib.swamqp_deliveries_pack(events, n, self._pack, _PACK_BYTES, self._packed_ref,
                                       self._pack_written_ref, None) == 0:
            packed = self._packed_ref.value
            blob = _string_at_raw(self._pack, self._pack_written_ref.value)
            offset = 0
        for i in range(n):
            kind, ch, msg = head(view, i * EVENT_SIZE)
            if kind == delivery:
                if i < packed:
                    r = _record_at(blob, offset)
                    start = offset + 56
                    offset += r[0]
                    exchange_at = start + r[7]
                    key_at = exchange_at + r[8]
                    body_at = key_at + r[9] + r[10]
                    raw = blob[start:exchange_at]
                    tag = texts.get(raw) or decode(raw)
                    raw = blob[exchange_at:key_at]
                    exchange = texts.get(raw) or decode(raw)
                    raw = blob[key_at:key_at + r[9]]
                    routing_key = texts.get(raw) or decode(raw)
                    append((_K_DELIVERY, ch, tag, (
                        deliver(tag, r[2], bool(r[6]), exchange, routing_key),
                        props_from(fields_at(msg)) if r[4] else new(props_cls), blob[body_at:body_at + r[12]])))
                    continue
                f = fields_at(msg)
                tag = decode(_bytes_at(f[_F_CTAG], f[_F_CTAG_LEN]))
                append((_K_DELIVERY, ch, tag, (
                    deliver(tag, f[_F_DELIVERY_TAG], f[_F_REDELIVERED], decode(_bytes_at(f[_F_EXCHANGE], f[_F_EXCHANGE_LEN])),
                            decode(_bytes_at(f[_F_RKEY], f[_F_RKEY_LEN]))),
                    props_from(f), _bytes_at(f[_F_BODY], f[_F_BODY_LEN]))))
                continue
            ev = events[i]
            if kind == _ffi.SWAMQP_EVENT_CONFIRM_ACK or kind == _ffi.SWAMQP_EVENT_CONFIRM_NACK:
                info = ErrorInfo.from_pointer(ev.error, ev.status) if ev.status else None
                append((_K_CONFIRM, ch, kind == _ffi.SWAMQP_EVENT_CONFIRM_ACK, ev.delivery_tag,
                        bool(ev.flags & _ffi.SWAMQP_EVENT_FLAG_MULTIPLE), ev.status, info))
            elif kind == _ffi.SWAMQP_EVENT_LOG:
                level = _LOG_LEVELS.get(ev.log_level, logging.INFO)
                if log.isEnabledFor(level):
                    log.log(level, "%s", read_bytes(ev.name).decode("utf-8", "replace"))
            elif kind == _ffi.SWAMQP_EVENT_RETURN:
                if msg:
                    append((_K_RETURN, ch, _returned_from(_fields_at(msg))))
            elif kind == _ffi.SWAMQP_EVENT_CHANNEL_CLOSED:
                append((_K_CHANNEL_CLOSED, ch, ErrorInfo.from_pointer(ev.error, ev.status) if ev.error else None))
            elif kind == _ffi.SWAMQP_EVENT_CONNECTION_CLOSED:
                append((_K_CONNECTION_CLOSED, ErrorInfo.from_pointer(ev.error, ev.status) if ev.error else None))
            elif kind == _ffi.SWAMQP_EVENT_CONSUMER_CANCELLED:
                append((_K_CANCELLED, ch, text(read_bytes(ev.name))))
            elif kind == _ffi.SWAMQP_EVENT_BLOCKED:
                append((_K_BLOCKED, read_bytes(ev.name).decode("utf-8", "replace")))
            elif kind == _ffi.SWAMQP_EVENT_UNBLOCKED:
                append((_K_UNBLOCKED,))
            elif kind == _ffi.SWAMQP_EVENT_FLOW:
                active = bool(ev.flags & _ffi.SWAMQP_EVENT_FLAG_ACTIVE)
                log.info("channel %d flow %s by the broker", ch, "resumed" if active else "stopped")
            elif kind == _ffi.SWAMQP_EVENT_RECOVERY_STARTED:
                append((_K_RECOVERY_STARTED,))
            elif kind == _ffi.SWAMQP_EVENT_RECOVERED:
                append((_K_RECOVERED, ev.message_count))
            elif kind == _ffi.SWAMQP_EVENT_RECOVERY_ENTITY_FAILED:
                info = ErrorInfo.from_pointer(ev.error, 0)
                log.warning("recovery could not restore %s: %s", read_bytes(ev.name).decode("utf-8", "replace"),
                            info.message or _ffi.status_name(info.status))
            elif kind == _ffi.SWAMQP_EVENT_RECOVERY_FAILED:
                info = ErrorInfo.from_pointer(ev.error, 0)
                log.warning("recovery gave up: %s", info.message or _ffi.status_name(info.status))
            elif kind == _ffi.SWAMQP_EVENT_QUEUE_RENAMED:
                log.info("recovery re-declared server-named queue %s as %s",
                         read_bytes(ev.payload).decode("utf-8", "replace"),
                         read_bytes(ev.name).decode("utf-8", "replace"))
            elif kind == _ffi.SWAMQP_EVENT_LATE_GET_MESSAGE:
                if msg:
                    f = _fields_at(msg)
                    append((_K_LATE_GET, ch, f[_F_DELIVERY_TAG], _bytes_at(f[_F_BODY], f[_F_BODY_LEN])))
            else:  # completions (this API makes blocking calls only), raw frames, future types
                log.debug("event type %d on channel %d ignored", kind, ch)
        return items

    def _route(self, items: List[Tuple[Any, ...]]) -> None:
        """Under _lock: hands each copied event to whom it belongs."""
        channels = self._channels
        last_number = -1
        ch: Optional[BlockingChannel] = None
        for item in items:
            kind = item[0]
            if kind == _K_DELIVERY:
                if item[1] != last_number:
                    last_number = item[1]
                    ch = channels.get(last_number)
                if ch is not None and ch._closed_exc is None:
                    gen = ch._gen
                    if gen is not None and item[2] == gen.tag:
                        gen.pending.append(item[3])
                    else:
                        ch._pending.append(item)
                else:
                    log.debug("delivery on channel %d dropped (channel closed)", item[1])
                continue
            last_number = -1  # other events may close or replace channels
            if kind == _K_CONFIRM:
                ch = channels.get(item[1])
                if ch is not None:
                    ch._on_confirm(item[2], item[3], item[4], item[5], item[6])
            elif kind == _K_RETURN:
                ch = channels.get(item[1])
                if ch is not None:
                    ch._on_return(item[2])
            elif kind == _K_CHANNEL_CLOSED:
                ch = channels.get(item[1])
                if ch is not None:
                    ch._on_closed_event(item[2])
            elif kind == _K_CANCELLED:
                ch = channels.get(item[1])
                if ch is not None:
                    ch._on_broker_cancel(item[2])
            elif kind == _K_BLOCKED:
                self._blocked = True
                for cb in self._blocked_callbacks:
                    self._conn_pending.append((cb, (self, Method(0, _ConnectionMethods.Blocked(item[1])))))
            elif kind == _K_UNBLOCKED:
                self._blocked = False
                for cb in self._unblocked_callbacks:
                    self._conn_pending.append((cb, (self, Method(0, _ConnectionMethods.Unblocked()))))
            elif kind == _K_RECOVERY_STARTED:
                self._recovering = True
            elif kind == _K_RECOVERED:
                self._recovering = False
                self._recovered_count += 1
            elif kind == _K_LATE_GET:
                log.warning("channel %d: a basic_get(auto_ack=True) that timed out got its message "
                            "afterwards (delivery tag %d, %d bytes); it is dropped", item[1], item[2], len(item[3]))
            elif kind == _K_CONNECTION_CLOSED:
                self._connection_over(self._close_reason(item[1]))
            elif kind == _K_GONE:
                if self._closed_exc is None:
                    self._connection_over(ConnectionWrongStateError(
                        "the connection ended (%s)" % _ffi.status_name(item[1])))

    def _close_reason(self, info: Optional[ErrorInfo]) -> BaseException:
        if self._closing:
            return ConnectionClosedByClient(200, "Normal shutdown")
        if info is None or info.origin == _ffi.SWAMQP_ORIGIN_NONE or info.status in (
                _ffi.SWAMQP_OK, _ffi.SWAMQP_ERR_CLOSED_BY_APPLICATION):
            return ConnectionClosedByClient(200, info.message if info and info.message else "Normal shutdown")
        return self._map_error(info, None, record=False)

    def _connection_over(self, exc: BaseException) -> None:
        """Under _lock: the connection ended with `exc`; everything waiting learns it."""
        if self._closed_exc is not None:
            return
        self._closed_exc = exc
        for ch in list(self._channels.values()):
            ch._set_closed(exc)
        self._changed()

    # ----------------------------------------------------------------------------------------
    # Dispatching callbacks (on threads in start_consuming / process_data_events / consume)
    # ----------------------------------------------------------------------------------------
    def _work_ready(self, owner: Optional[BlockingChannel]) -> bool:
        """Under _lock: is there a callback this thread may run now?"""
        if owner is not None and owner._pending and not owner._dispatching:
            return True
        for ch in self._channels.values():
            if ch._pending and not ch._owner and not ch._dispatching:
                return True
        if not self._conn_dispatching:
            if self._conn_pending:
                return True
            if self._timers and self._timers[0][0] <= time.monotonic():
                return True
        return False

    def _dispatch_ready(self, owner: Optional[BlockingChannel]) -> int:
        """Runs the callbacks this thread may run now: timers and connection-level callbacks,
        then those of `owner` (the channel whose start_consuming runs here) and of channels no
        thread consumes. Returns how many ran."""
        claims: List[BlockingChannel] = []
        conn_work: List[Tuple[Callable[..., Any], Tuple[Any, ...]]] = []
        took_conn = False
        with self._lock:
            if owner is not None and owner._pending and not owner._dispatching:
                owner._dispatching = True
                claims.append(owner)
            for ch in self._channels.values():
                if ch is not owner and ch._pending and not ch._owner and not ch._dispatching:
                    ch._dispatching = True
                    claims.append(ch)
            if not self._conn_dispatching and (self._conn_pending or (
                    self._timers and self._timers[0][0] <= time.monotonic())):
                self._conn_dispatching = took_conn = True
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    _, timer_id, cb = heapq.heappop(self._timers)
                    if timer_id in self._cancelled_timers:
                        self._cancelled_timers.discard(timer_id)
                    else:
                        conn_work.append((cb, ()))
                conn_work.extend(self._conn_pending)
                self._conn_pending.clear()
        if not claims and not took_conn:
            return 0
        ran = 0
        _tls.depth = _dispatch_depth() + 1
        done = 0
        try:
            with _SigintDefault():
                for cb, args in conn_work:
                    done += 1
                    ran += 1
                    cb(*args)
                for ch in claims:
                    ran += ch._dispatch_pending()
        finally:
            _tls.depth -= 1
            with self._lock:
                if done < len(conn_work):  # a callback raised: the rest runs later, in order
                    self._conn_pending.extendleft(reversed(conn_work[done:]))
                for ch in claims:
                    ch._dispatching = False
                if took_conn:
                    self._conn_dispatching = False
                self._changed()
        return ran

    # ----------------------------------------------------------------------------------------
    # Calls and errors
    # ----------------------------------------------------------------------------------------
    def _handle(self) -> Any:
        handle = self._native.handle
        if handle is None or self._closed_exc is not None:
            raise self._closed_error()
        return handle

    def _check_open_for_events(self) -> None:
        if self._native.handle is None or (self._closed_exc is not None and self._closing):
            raise ConnectionWrongStateError("Connection is closed.")
        if self._closed_exc is not None:
            raise self._closed_error()

    def _raise_if_lost(self) -> None:
        exc = self._closed_exc
        if exc is not None and not isinstance(exc, ConnectionClosedByClient):
            raise _copy(exc)

    def _call(self, fn: Callable[[Any, int, Any], int], channel: Optional[BlockingChannel],
              timeout: Any = _MISSING) -> None:
        """A blocking library call fn(handle, timeout_ms, error) bounded by rpc_timeout (or
        `timeout`); during automatic recovery it waits for the recovery and calls again."""
        limit = self._rpc_timeout if timeout is _MISSING else timeout
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            handle = self._native.handle
            if handle is None or self._closed_exc is not None:
                raise self._closed_error()
            if channel is not None and channel._closed_exc is not None:
                raise channel._state_error()
            mark = self._recovered_count
            err = _ffi.swamqp_error()
            rc = fn(handle, _remaining_ms(deadline), _byref(err))
            if rc == 0:
                return
            if rc == _ffi.SWAMQP_ERR_RECOVERING and (deadline is None or time.monotonic() < deadline):
                self._wait(lambda: self._recovered_count != mark or self._closed_exc is not None, deadline)
                if self._recovered_count != mark:
                    continue
            raise self._map_error(ErrorInfo.take(err, rc), channel)

    def _closed_error(self) -> BaseException:
        exc = self._closed_exc
        if exc is None or isinstance(exc, (ConnectionClosedByClient, ConnectionWrongStateError)):
            return ConnectionWrongStateError("Connection is closed.")
        return _copy(exc)

    def _map_error(self, info: ErrorInfo, channel: Optional[BlockingChannel], *, record: bool = True) -> BaseException:
        """The exception for a failed call or event (pika's classes where they exist)."""
        status = info.status
        name = _ffi.status_name(status)
        text_ = info.message or name
        broker = info.origin == _ffi.SWAMQP_ORIGIN_BROKER and info.reply_code != 0
        exc: BaseException
        if status == _ffi.SWAMQP_ERR_CHANNEL_CLOSED and info.channel != 0 or (
                broker and info.channel != 0 and status != _ffi.SWAMQP_ERR_CONNECTION_CLOSED):
            if broker:
                exc = _closed_by_broker(ChannelClosedByBroker, info.reply_code, info.message)
                if channel is not None and record:
                    with self._lock:
                        channel._set_closed(exc)
                        self._changed()
                    return _copy(exc)
            elif channel is not None:
                if record:
                    # Closed before: its CHANNEL_CLOSED event may not be routed yet.
                    self._flush(time.monotonic() + _SLICE)
                return channel._state_error()
            else:
                exc = ChannelWrongStateError("Channel is closed.")
        elif status == _ffi.SWAMQP_ERR_AUTH:
            cls = ProbableAccessDeniedError if info.reply_code == 530 else ProbableAuthenticationError
            exc = cls("%s: %s" % (name, text_), status)
        elif broker or status == _ffi.SWAMQP_ERR_CONNECTION_CLOSED and info.reply_code:
            exc = _closed_by_broker(ConnectionClosedByBroker, info.reply_code, info.message)
            if record:
                with self._lock:
                    self._connection_over(exc)
                return _copy(exc)
        elif status in (_ffi.SWAMQP_ERR_CONNECTION_CLOSED, _ffi.SWAMQP_ERR_CLOSED_BY_APPLICATION,
                        _ffi.SWAMQP_ERR_INVALID_HANDLE, _ffi.SWAMQP_ERR_FORKED):
            if record and status == _ffi.SWAMQP_ERR_CONNECTION_CLOSED and self._closed_exc is None:
                self._flush(time.monotonic() + _SLICE)  # its CONNECTION_CLOSED event says why
            if self._closed_exc is not None and record:
                return self._closed_error()
            exc = ConnectionWrongStateError("Connection is closed (%s)." % name)
        elif status in (_ffi.SWAMQP_ERR_RESOLVE, _ffi.SWAMQP_ERR_CONNECT, _ffi.SWAMQP_ERR_TLS):
            exc = ConnectError("%s: %s" % (name, text_), status)
        elif status == _ffi.SWAMQP_ERR_HEARTBEAT_TIMEOUT:
            exc = AMQPHeartbeatTimeout("%s: %s" % (name, text_))
        elif status in (_ffi.SWAMQP_ERR_IO, _ffi.SWAMQP_ERR_CONNECTION_LOST):
            exc = StreamLostError("%s: %s" % (name, text_))
        elif status == _ffi.SWAMQP_ERR_TIMEOUT and self._blocked:
            exc = ConnectionBlockedTimeout("%s while the broker blocks the connection: %s" % (name, text_))
        else:
            return make_exception(info)
        exc.status = status  # type: ignore[attr-defined]
        exc.status_name = name  # type: ignore[attr-defined]
        exc.origin = info.origin  # type: ignore[attr-defined]
        exc.class_id = info.class_id  # type: ignore[attr-defined]
        exc.method_id = info.method_id  # type: ignore[attr-defined]
        exc.channel = info.channel  # type: ignore[attr-defined]
        return exc



_K_DELIVERY, _K_CONFIRM, _K_RETURN, _K_CHANNEL_CLOSED, _K_CONNECTION_CLOSED, _K_CANCELLED = range(1, 7)
_K_BLOCKED, _K_UNBLOCKED, _K_RECOVERY_STARTED, _K_RECOVERED, _K_LATE_GET, _K_GONE = range(7, 13)
assert _DELIVERY == _K_DELIVERY  # a routed delivery tuple is queued as it is

_LOG_LEVELS = {
    _ffi.SWAMQP_LOG_ERROR: logging.ERROR,
    _ffi.SWAMQP_LOG_WARNING: logging.WARNING,
    _ffi.SWAMQP_LOG_INFO: logging.INFO,
    _ffi.SWAMQP_LOG_DEBUG: logging.DEBUG,
}


def _library_log_level() -> int:
    """The library's log level for the `swiftamqp` logger's effective level at connect time
    (records the logger would drop are not queued at all)."""
    level = log.getEffectiveLevel()
    if level <= logging.DEBUG:
        return 4
    if level <= logging.INFO:
        return 3
    if level <= logging.WARNING:
        return 2
    if level <= logging.ERROR:
        return 1
    return 0


def _copy(exc: BaseException) -> BaseException:
    """A fresh instance of a recorded exception (one instance must not be raised by two threads)."""
    import copy
    try:
        new = copy.copy(exc)
    except Exception:  # pragma: no cover - an exception class that cannot be rebuilt
        return exc
    new.__traceback__ = None
    return new


def _thread_error() -> Tuple[Any, Any]:
    """A swamqp_error (and a pointer to it) reused by the calling thread."""
    pair = getattr(_tls, "error", None)
    if pair is None:
        err = _ffi.swamqp_error()
        pair = _tls.error = (err, _byref(err))
    return pair


def _table(arguments: Optional[Dict[str, Any]]) -> Tuple[Any, Any]:
    if not arguments:
        return None, None
    table = encode_table(arguments)
    return table, table.pointer


def _require_str(value: Any, what: str) -> None:
    if not isinstance(value, (str, bytes)):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))


_publish = _ffi.unchecked_basic_publish  # arguments passed as their C types (see _ffi._unchecked)


# ============================================================================================
# Channel
# ============================================================================================
class BlockingChannel:
    """A channel, made by :meth:`BlockingConnection.channel`. Thread-safe. Use it as a context
    manager to close it at the end of a block."""

    def __init__(self, connection: BlockingConnection, number: int) -> None:
        self._connection = connection
        self._number = number
        self._consumers: Dict[str, _ConsumerInfo] = {}
        self._cancelled_tags: Dict[str, bool] = {}   # tag -> auto_ack, of consumers gone
        self._pending: Deque[Tuple[int, int, Any, Any]] = collections.deque()
        self._gen: Optional[_Generator] = None
        self._dispatching = False
        self._owner = 0          # ident of the thread in start_consuming, or 0
        self._closed_exc: Optional[BaseException] = None
        self._closing = False
        self._confirm = False
        self._outstanding: Dict[int, _Confirm] = {}
        self._seq = ctypes.c_uint64()
        self._seq_ref = _byref(self._seq)
        self._return_cbs: List[Callable[..., Any]] = []
        self._cancel_cbs: List[Callable[..., Any]] = []

    def __repr__(self) -> str:
        return "<swiftamqp.blocking.BlockingChannel %d %s>" % (self._number, "open" if self.is_open else "closed")

    def __int__(self) -> int:
        return self._number

    def __enter__(self) -> BlockingChannel:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.is_open:
            self.close()

    # ----------------------------------------------------------------------------------------
    @property
    def channel_number(self) -> int:
        return self._number

    @property
    def connection(self) -> BlockingConnection:
        return self._connection

    @property
    def is_open(self) -> bool:
        return self._closed_exc is None and not self._closing and self._connection.is_open

    @property
    def is_closed(self) -> bool:
        return not self.is_open

    @property
    def consumer_tags(self) -> List[str]:
        """Tags of this channel's consumers."""
        return list(self._consumers)

    # ----------------------------------------------------------------------------------------
    # Exchanges and queues
    # ----------------------------------------------------------------------------------------
    def _rpc(self, fn: Any, *args: Any) -> None:
        number = self._number
        self._connection._call(lambda handle, timeout_ms, err: fn(handle, number, *args, timeout_ms, err), self)

    def exchange_declare(self, exchange: str, exchange_type: Union[ExchangeType, str] = ExchangeType.direct,
                         passive: bool = False, durable: bool = False, auto_delete: bool = False,
                         internal: bool = False, arguments: Optional[Dict[str, Any]] = None) -> Method:
        _require_str(exchange, "exchange")
        name = _name(exchange, "exchange")
        kind = _name(_text_of(exchange_type), "exchange_type")
        flags = ((_ffi.SWAMQP_PASSIVE if passive else 0) | (_ffi.SWAMQP_DURABLE if durable else 0)
                 | (_ffi.SWAMQP_AUTO_DELETE if auto_delete else 0) | (_ffi.SWAMQP_INTERNAL if internal else 0))
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_exchange_declare, name[1], kind[1], flags, table)
        return Method(self._number, Exchange.DeclareOk())

    def exchange_delete(self, exchange: Optional[str] = None, if_unused: bool = False) -> Method:
        name = _name(exchange, "exchange")
        self._rpc(_lib.swamqp_exchange_delete, name[1], _ffi.SWAMQP_IF_UNUSED if if_unused else 0)
        return Method(self._number, Exchange.DeleteOk())

    def exchange_bind(self, destination: str, source: str, routing_key: str = "",
                      arguments: Optional[Dict[str, Any]] = None) -> Method:
        _require_str(destination, "destination")
        _require_str(source, "source")
        d, s, k = _name(destination, "destination"), _name(source, "source"), _name(routing_key, "routing_key")
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_exchange_bind, d[1], s[1], k[1], 0, table)
        return Method(self._number, Exchange.BindOk())

    def exchange_unbind(self, destination: Optional[str] = None, source: Optional[str] = None,
                        routing_key: str = "", arguments: Optional[Dict[str, Any]] = None) -> Method:
        d, s, k = _name(destination, "destination"), _name(source, "source"), _name(routing_key, "routing_key")
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_exchange_unbind, d[1], s[1], k[1], 0, table)
        return Method(self._number, Exchange.UnbindOk())

    def queue_declare(self, queue: str, passive: bool = False, durable: bool = False,
                      exclusive: bool = False, auto_delete: bool = False,
                      arguments: Optional[Dict[str, Any]] = None) -> Method:
        """queue.declare; ``''`` asks the broker for a name. The result's ``method`` has
        ``queue``, ``message_count`` and ``consumer_count``."""
        _require_str(queue, "queue")
        name = _name(queue, "queue")
        flags = ((_ffi.SWAMQP_PASSIVE if passive else 0) | (_ffi.SWAMQP_DURABLE if durable else 0)
                 | (_ffi.SWAMQP_EXCLUSIVE if exclusive else 0) | (_ffi.SWAMQP_AUTO_DELETE if auto_delete else 0))
        keep, table = _table(arguments)
        result = _ffi.swamqp_queue_declare_ok()
        self._rpc(_lib.swamqp_queue_declare, name[1], flags, table, _byref(result))
        declared = result.name[:result.name_len].decode("utf-8", "surrogateescape")
        return Method(self._number, Queue.DeclareOk(declared, result.message_count, result.consumer_count))

    def queue_bind(self, queue: str, exchange: str, routing_key: Optional[str] = None,
                   arguments: Optional[Dict[str, Any]] = None) -> Method:
        """queue.bind; ``routing_key`` None binds with the queue's name, as pika does."""
        _require_str(queue, "queue")
        _require_str(exchange, "exchange")
        q, e = _name(queue, "queue"), _name(exchange, "exchange")
        k = _name(queue if routing_key is None else routing_key, "routing_key")
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_queue_bind, q[1], e[1], k[1], 0, table)
        return Method(self._number, Queue.BindOk())

    def queue_unbind(self, queue: str, exchange: Optional[str] = None, routing_key: Optional[str] = None,
                     arguments: Optional[Dict[str, Any]] = None) -> Method:
        q, e = _name(queue, "queue"), _name(exchange, "exchange")
        k = _name(queue if routing_key is None else routing_key, "routing_key")
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_queue_unbind, q[1], e[1], k[1], table)
        return Method(self._number, Queue.UnbindOk())

    def queue_purge(self, queue: str) -> Method:
        """queue.purge; the result's ``method.message_count`` is how many were purged."""
        q = _name(queue, "queue")
        count = ctypes.c_uint32()
        self._rpc(_lib.swamqp_queue_purge, q[1], 0, _byref(count))
        return Method(self._number, Queue.PurgeOk(count.value))

    def queue_delete(self, queue: str, if_unused: bool = False, if_empty: bool = False) -> Method:
        """queue.delete; the result's ``method.message_count`` is how many messages went with it."""
        q = _name(queue, "queue")
        count = ctypes.c_uint32()
        flags = (_ffi.SWAMQP_IF_UNUSED if if_unused else 0) | (_ffi.SWAMQP_IF_EMPTY if if_empty else 0)
        self._rpc(_lib.swamqp_queue_delete, q[1], flags, _byref(count))
        return Method(self._number, Queue.DeleteOk(count.value))

    # ----------------------------------------------------------------------------------------
    # basic
    # ----------------------------------------------------------------------------------------
    def basic_qos(self, prefetch_size: int = 0, prefetch_count: int = 0, global_qos: bool = False) -> None:
        if not 0 <= prefetch_size <= 0xFFFFFFFF or not 0 <= prefetch_count <= 0xFFFF:
            raise ValueError("prefetch_size must fit 32 bits and prefetch_count 16 bits")
        self._rpc(_lib.swamqp_basic_qos, prefetch_size, prefetch_count, _ffi.SWAMQP_GLOBAL if global_qos else 0)

    def basic_recover(self, requeue: bool = False) -> None:
        self._rpc(_lib.swamqp_basic_recover, _ffi.SWAMQP_REQUEUE if requeue else 0)

    def basic_publish(self, exchange: str, routing_key: str, body: Union[bytes, str],
                      properties: Optional[BasicProperties] = None, mandatory: bool = False) -> None:
        """Publishes `body` (bytes, or str sent as UTF-8). Without confirm mode it returns once the
        frames are queued (it waits only while publishing must pause: the broker blocked the
        connection, or the outbound buffer is full, at most ``blocked_connection_timeout`` or
        ``rpc_timeout``). In confirm mode (:meth:`confirm_delivery`) it returns once the broker
        confirmed the message and raises :class:`UnroutableError` when a mandatory message was
        returned, :class:`NackError` when the broker nacked it."""
        conn = self._connection
        handle = conn._native.handle_arg
        if handle is None or self._closed_exc is not None or conn._closed_exc is not None or self._closing:
            raise self._unusable()
        try:
            ex = _names[exchange]
        except (KeyError, TypeError):
            ex = _name(exchange, "exchange")
        try:
            rk = _names[routing_key]
        except (KeyError, TypeError):
            rk = _name(routing_key, "routing_key")
        if type(body) is bytes and _BYTES_OFFSET > 0:  # the common case, inline
            cbody = _Bytes(id(body) + _BYTES_OFFSET, len(body)) if body else _EMPTY
        else:
            cbody, body = _body_struct(body)
        props = None if properties is None else _c_properties(properties)
        flags = _ffi.SWAMQP_MANDATORY if mandatory else 0
        if self._confirm:
            self._publish_confirmed(handle, ex, rk, flags, props, cbody, body, mandatory)
            return
        try:
            err, ref = _tls.error
        except AttributeError:
            err, ref = _thread_error()
        rc = _publish(handle, self._number, ex[1], rk[1], flags, props, cbody, None, conn._publish_ms_arg, ref)
        if rc:
            raise self._error(rc, err)
        conn._publishes += 1
        if not conn._publishes & (_HOUSEKEEPING - 1):
            conn._housekeeping()

    def _publish_confirmed(self, handle: Any, ex: Tuple[bytes, Any], rk: Tuple[bytes, Any], flags: int,
                           props: Any, cbody: Any, body: bytes, mandatory: bool) -> None:
        conn = self._connection
        waiter = _Confirm((_text_of(ex[0]), _text_of(rk[0])) if mandatory else None, body)
        limit = conn._blocked_timeout if conn._blocked_timeout is not None else conn._rpc_timeout
        deadline = None if limit is None else time.monotonic() + limit
        err = _ffi.swamqp_error()
        seq = self._seq
        while True:
            with conn._lock:
                if self._closed_exc is not None:
                    raise self._state_error()
                # Never waits (timeout 0), so the lock is held only for the call; holding it
                # means the sequence is registered before any confirm for it can be routed.
                rc = _publish(handle, self._number, ex[1], rk[1], flags, props, cbody, self._seq_ref, 0,
                              _byref(err))
                if rc == 0:
                    self._outstanding[seq.value] = waiter
            if rc != _ffi.SWAMQP_ERR_WOULD_BLOCK:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                if conn._blocked:
                    raise ConnectionBlockedTimeout("publish waited %s s while the broker blocks the connection" % limit)
                raise AMQPTimeoutError("publish could not be queued within %s s (outbound buffer full or "
                                       "max_unconfirmed reached)" % limit, _ffi.SWAMQP_ERR_TIMEOUT)
            # Publishing must pause: let confirms (or unblocked) come in, then try again.
            conn._wait(lambda: self._closed_exc is not None or conn._closed_exc is not None,
                       now + 0.005 if deadline is None else min(deadline, now + 0.005))
        if rc:
            raise self._error(rc, err)
        conn._wait(lambda: waiter.done, deadline)
        if not waiter.done:
            with conn._lock:
                for s, w in list(self._outstanding.items()):
                    if w is waiter:
                        del self._outstanding[s]
            if not waiter.done:
                if conn._closed_exc is not None or conn._native.handle is None:
                    raise conn._closed_error()
                raise AMQPTimeoutError("no confirm for the publish within %s s" % limit, _ffi.SWAMQP_ERR_TIMEOUT)
        if waiter.error is not None:
            raise _copy(waiter.error)
        if not waiter.ack:
            raise NackError([waiter.returned] if waiter.returned is not None else [])
        if waiter.returned is not None:
            raise UnroutableError([waiter.returned])

    def basic_get(self, queue: str, auto_ack: bool = False) -> Tuple[Optional[Basic.GetOk], Optional[BasicProperties], Optional[bytes]]:
        """basic.get: ``(Basic.GetOk, BasicProperties, body)``, or ``(None, None, None)`` when the
        queue is empty."""
        _require_str(queue, "queue")
        q = _name(queue, "queue")
        msg = _c_void_p()
        self._rpc(_lib.swamqp_basic_get, q[1], _ffi.SWAMQP_NO_ACK if auto_ack else 0, _byref(msg))
        if not msg.value:
            return None, None, None
        try:
            f = _fields_at(msg.value)
            method = Basic.GetOk(f[_F_DELIVERY_TAG], f[_F_REDELIVERED], text(_bytes_at(f[_F_EXCHANGE], f[_F_EXCHANGE_LEN])),
                                 text(_bytes_at(f[_F_RKEY], f[_F_RKEY_LEN])), f[_F_MESSAGE_COUNT])
            return method, _properties_from(f), _bytes_at(f[_F_BODY], f[_F_BODY_LEN])
        finally:
            _lib.swamqp_message_free(msg.value)

    def _ack_call(self, fn: Any, delivery_tag: int, flags: int) -> None:
        conn = self._connection
        handle = conn._native.handle
        if handle is None or self._closed_exc is not None or conn._closed_exc is not None:
            raise self._unusable()
        err, ref = _thread_error()
        rc = fn(handle, self._number, delivery_tag, flags, ref)
        if rc == 0:
            return
        if rc == _ffi.SWAMQP_ERR_STALE_DELIVERY_TAG:
            # Delivered before an automatic recovery: the broker redelivers it; nothing to do.
            log.info("channel %d: delivery tag %d is from before the recovery; the broker redelivers it",
                     self._number, delivery_tag)
            ctypes.memset(ref, 0, ctypes.sizeof(err))
            return
        raise self._error(rc, err)

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        self._ack_call(_lib.swamqp_basic_ack, delivery_tag, _ffi.SWAMQP_MULTIPLE if multiple else 0)

    def basic_nack(self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True) -> None:
        self._ack_call(_lib.swamqp_basic_nack, delivery_tag,
                       (_ffi.SWAMQP_MULTIPLE if multiple else 0) | (_ffi.SWAMQP_REQUEUE if requeue else 0))

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        self._ack_call(_lib.swamqp_basic_reject, delivery_tag, _ffi.SWAMQP_REQUEUE if requeue else 0)

    def _reject_quietly(self, delivery_tag: int) -> None:
        try:
            self.basic_reject(delivery_tag, requeue=True)
        except AMQPError as exc:
            log.debug("reject of an undispatched delivery failed: %r", exc)

    # ----------------------------------------------------------------------------------------
    # Consumers
    # ----------------------------------------------------------------------------------------
    def _new_tag(self) -> str:
        return "ctag%d.%s" % (self._number, uuid.uuid4().hex)

    def _start_consumer(self, queue: str, tag: str, auto_ack: bool, exclusive: bool,
                        arguments: Optional[Dict[str, Any]]) -> None:
        q, t = _name(queue, "queue"), _name(tag, "consumer_tag")
        flags = (_ffi.SWAMQP_NO_ACK if auto_ack else 0) | (_ffi.SWAMQP_EXCLUSIVE if exclusive else 0)
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_basic_consume, q[1], t[1], flags, table, None)

    def basic_consume(self, queue: str, on_message_callback: Callable[[BlockingChannel, Basic.Deliver, BasicProperties, bytes], Any],
                      auto_ack: bool = False, exclusive: bool = False, consumer_tag: Optional[str] = None,
                      arguments: Optional[Dict[str, Any]] = None) -> str:
        """basic.consume; ``on_message_callback(channel, method, properties, body)`` runs for each
        delivery on a thread in start_consuming (or process_data_events). Returns the tag."""
        _require_str(queue, "queue")
        if not callable(on_message_callback):
            raise TypeError("on_message_callback must be callable")
        self._check_usable()
        tag = consumer_tag or self._new_tag()
        conn = self._connection
        with conn._lock:
            if tag in self._consumers:
                raise DuplicateConsumerTag(tag)
            self._consumers[tag] = _ConsumerInfo(tag, auto_ack, on_message_callback)
        try:
            self._start_consumer(queue, tag, auto_ack, exclusive, arguments)
        except BaseException:
            with conn._lock:
                if self._consumers.get(tag) is not None and self._consumers[tag].callback is on_message_callback:
                    del self._consumers[tag]
                conn._changed()
            raise
        return tag

    def basic_cancel(self, consumer_tag: str) -> List[Tuple[Basic.Deliver, BasicProperties, bytes]]:
        """basic.cancel. Deliveries of the consumer not yet dispatched are rejected (requeued)
        for a manual-ack consumer; for an auto_ack one they are returned as
        ``[(method, properties, body), ...]``."""
        info, collected = self._cancel_consumer(consumer_tag)
        if info is None or info.auto_ack:
            return collected
        for method, _, _ in collected:
            self._reject_quietly(method.delivery_tag)
        return []

    def _cancel_consumer(self, consumer_tag: str) -> Tuple[Optional[_ConsumerInfo], List[Any]]:
        """Cancels the consumer; returns its info and the deliveries it left undispatched."""
        conn = self._connection
        with conn._lock:
            info = self._consumers.get(consumer_tag)
            if info is None:
                log.warning("basic_cancel: unknown consumer %r (already cancelled?)", consumer_tag)
                return None, []
            info.state = _TEARING_DOWN
            self._cancelled_tags[consumer_tag] = info.auto_ack
            if len(self._cancelled_tags) > 1024:
                self._cancelled_tags.pop(next(iter(self._cancelled_tags)))
        collected: List[Tuple[Any, Any, Any]] = []
        try:
            if self._closed_exc is None:
                t = _name(consumer_tag, "consumer_tag")
                self._rpc(_lib.swamqp_basic_cancel, t[1], 0)
                # Deliveries the library queued before the cancel-ok are in the event queue now.
                conn._flush(time.monotonic() + _CLOSE_TIMEOUT)
        finally:
            with conn._lock:
                self._consumers.pop(consumer_tag, None)
                keep: Deque[Tuple[int, int, Any, Any]] = collections.deque()
                for item in self._pending:
                    if item[0] == _DELIVERY and item[2] == consumer_tag:
                        collected.append(item[3])
                    elif not (item[0] == _CANCEL and item[2] == consumer_tag):
                        keep.append(item)
                self._pending = keep
                gen = self._gen
                if gen is not None and gen.tag == consumer_tag:
                    collected.extend(m for m in gen.pending if m is not None)
                    gen.pending.clear()
                collected = info.leftover + collected
                info.leftover = []
                conn._changed()
        return info, collected

    def start_consuming(self) -> None:
        """Runs this channel's consumer callbacks (and the connection's other due callbacks, see
        the module docs) until its consumers are all cancelled or the channel is closed. Raises
        ChannelClosedByBroker when the broker closed the channel, the connection's error when it
        was lost, ReentrancyError from inside a callback. Ctrl-C raises KeyboardInterrupt at once
        (at most 0.1 s) with everything consistent: ``stop_consuming()`` and ``close()`` work."""
        if _dispatch_depth():
            raise ReentrancyError("start_consuming may not be called from the scope of another "
                                  "BlockingConnection or BlockingChannel callback")
        self._check_usable()
        conn = self._connection
        me = threading.get_ident()
        with conn._lock:
            if self._owner not in (0, me):
                raise ReentrancyError("start_consuming already runs on this channel in another thread")
            self._owner = me
        entered = _sigint_enter()
        try:
            def ready() -> bool:
                return (conn._work_ready(self) or not self._consumers or self._closed_exc is not None
                        or conn._closed_exc is not None)

            while self._consumers and self._closed_exc is None:
                if conn._dispatch_ready(self):
                    continue
                conn._wait(ready, None, timers=True)
            self._raise_if_failed()
        finally:
            with conn._lock:
                if self._owner == me:
                    self._owner = 0
                conn._changed()
            if entered:
                _sigint_exit()

    def stop_consuming(self, consumer_tag: Optional[str] = None) -> None:
        """Cancels `consumer_tag`, or every consumer of the channel (start_consuming returns)."""
        if consumer_tag:
            self.basic_cancel(consumer_tag)
            return
        if self._gen is not None:
            self.cancel()
        for tag in list(self._consumers):
            self.basic_cancel(tag)

    def consume(self, queue: str, auto_ack: bool = False, exclusive: bool = False,
                arguments: Optional[Dict[str, Any]] = None, inactivity_timeout: Optional[float] = None,
                consumer_tag: Optional[str] = None) -> Iterator[Tuple[Optional[Basic.Deliver], Optional[BasicProperties], Optional[bytes]]]:
        """A generator of ``(method, properties, body)``; with `inactivity_timeout` (seconds) it
        yields ``(None, None, None)`` after that long without a message. It ends when the
        consumer is cancelled (:meth:`cancel`, or by the broker). Iterating it again with the
        same (queue, auto_ack, exclusive) resumes the same consumer."""
        if _dispatch_depth():
            raise ReentrancyError("consume may not be iterated from the scope of a callback")
        self._check_usable()
        conn = self._connection
        params = (queue, auto_ack, exclusive)
        gen = self._gen
        if gen is not None:
            if gen.params != params:
                raise ValueError("Consume with different params not allowed on existing queue consumer "
                                 "generator; previous params: %r; new params: %r" % (gen.params, params))
        else:
            _require_str(queue, "queue")
            tag = consumer_tag or self._new_tag()
            gen = _Generator(params, tag)
            with conn._lock:
                if tag in self._consumers:
                    raise DuplicateConsumerTag(tag)
                self._consumers[tag] = _ConsumerInfo(tag, auto_ack, None, generator=True)
                self._gen = gen
            try:
                self._start_consumer(queue, tag, auto_ack, exclusive, arguments)
            except BaseException:
                with conn._lock:
                    if self._gen is gen:
                        self._gen = None
                    self._consumers.pop(tag, None)
                raise
        me = threading.get_ident()

        def ready() -> bool:
            return (bool(gen.pending) or self._gen is not gen or self._closed_exc is not None
                    or conn._closed_exc is not None or conn._work_ready(self if self._owner in (0, me) else None))

        while self._gen is gen:
            if gen.pending:
                item = gen.pending.popleft()
                if item is None:  # cancelled by the broker
                    with conn._lock:
                        if self._gen is gen:
                            self._gen = None
                        self._consumers.pop(gen.tag, None)
                    break
                yield item
                continue
            deadline = None if inactivity_timeout is None else time.monotonic() + inactivity_timeout
            while not gen.pending and self._gen is gen and self._closed_exc is None:
                owner = self if self._owner in (0, me) else None
                if conn._dispatch_ready(owner):
                    continue
                if conn._closed_exc is not None:
                    break
                if not conn._wait(ready, deadline, timers=True) and deadline is not None \
                        and time.monotonic() >= deadline:
                    break
            if self._closed_exc is not None or conn._closed_exc is not None:
                self._raise_if_failed()
                return
            if not gen.pending and self._gen is gen and deadline is not None and time.monotonic() >= deadline:
                yield (None, None, None)

    def get_waiting_message_count(self) -> int:
        """Messages the consume() generator holds, ready to be yielded without waiting."""
        gen = self._gen
        if gen is None:
            return 0
        return sum(1 for m in list(gen.pending) if m is not None)

    def cancel(self) -> int:
        """Cancels the consume() generator's consumer; its messages not yet yielded are
        requeued (manual ack). Returns how many were requeued."""
        gen = self._gen
        if gen is None:
            log.warning("cancel: the queue consumer generator is not active")
            return 0
        conn = self._connection
        auto_ack = gen.params[1]
        with conn._lock:
            held = [m for m in gen.pending if m is not None]
            gen.pending.clear()
        try:
            _, late = self._cancel_consumer(gen.tag) if gen.tag in self._consumers else (None, [])
        finally:
            with conn._lock:
                if self._gen is gen:
                    self._gen = None
                conn._changed()
        if auto_ack:
            return 0
        for method, _, _ in held + late:
            self._reject_quietly(method.delivery_tag)
        return len(held) + len(late)

    def add_on_cancel_callback(self, callback: Callable[[Method], Any]) -> None:
        """``callback(Method(channel, Basic.Cancel(consumer_tag)))`` when the broker cancels a
        consumer of this channel (its queue was deleted)."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._cancel_cbs.append(callback)

    def add_on_return_callback(self, callback: Callable[[BlockingChannel, Basic.Return, BasicProperties, bytes], Any]) -> None:
        """``callback(channel, Basic.Return, properties, body)`` for each message the broker
        returned (an unroutable mandatory publish)."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._return_cbs.append(callback)

    # ----------------------------------------------------------------------------------------
    # Confirms, transactions, flow, close
    # ----------------------------------------------------------------------------------------
    def confirm_delivery(self) -> None:
        """confirm.select: from now on basic_publish waits for each message's confirm."""
        if self._confirm:
            log.error("confirm_delivery: confirmation was already enabled on channel=%s", self._number)
            return
        self._rpc(_lib.swamqp_confirm_select)
        self._confirm = True

    def tx_select(self) -> Method:
        self._rpc(_lib.swamqp_tx_select)
        return Method(self._number, Tx.SelectOk())

    def tx_commit(self) -> Method:
        self._rpc(_lib.swamqp_tx_commit)
        return Method(self._number, Tx.CommitOk())

    def tx_rollback(self) -> Method:
        self._rpc(_lib.swamqp_tx_rollback)
        return Method(self._number, Tx.RollbackOk())

    def flow(self, active: bool) -> bool:
        """Not offered: RabbitMQ answers channel.flow(active=False) by closing the whole
        connection (540 NOT_IMPLEMENTED). Use basic_qos to limit deliveries."""
        raise NotImplementedError("channel.flow is not offered (RabbitMQ closes the connection on it); "
                                  "use basic_qos(prefetch_count=...)")

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Cancels the channel's consumers (their undispatched manual-ack deliveries are requeued),
        then closes it (channel.close / close-ok). Raises ChannelWrongStateError when it is
        already closed, as pika does."""
        conn = self._connection
        if self._closed_exc is not None or self._closing or not conn.is_open:
            raise self._unusable()
        try:
            self.stop_consuming()
        except AMQPChannelError as exc:
            log.debug("cancelling consumers before close: %r", exc)
        with conn._lock:
            if self._closed_exc is not None:
                return
            self._closing = True
        try:
            self._rpc(_lib.swamqp_channel_close)
        except AMQPChannelError:
            pass
        finally:
            with conn._lock:
                self._set_closed(ChannelClosedByClient(reply_code, reply_text))
                conn._changed()

    # ----------------------------------------------------------------------------------------
    # Plumbing (the methods called under the connection's lock say so)
    # ----------------------------------------------------------------------------------------
    def _check_usable(self) -> None:
        if self._closed_exc is not None or self._closing or not self._connection.is_open:
            raise self._unusable()

    def _unusable(self) -> BaseException:
        conn = self._connection
        if self._closed_exc is None and conn._closed_exc is None and conn._native.handle is not None \
                and not conn._closing:
            return ChannelWrongStateError("Channel is closing.")
        return self._state_error()

    def _state_error(self) -> BaseException:
        """The error for a call on this closed channel: the broker's close every time, the
        connection's error when the connection ended, else ChannelWrongStateError."""
        conn = self._connection
        exc = self._closed_exc
        if exc is None and conn._closed_exc is None and conn._native.handle is not None:
            return ChannelWrongStateError("Channel is closed.")
        if isinstance(exc, ChannelClosedByBroker):
            return _copy(exc)
        if exc is not None and exc is conn._closed_exc or (exc is None and (conn._closed_exc is not None or conn._native.handle is None)):
            return conn._closed_error()
        return ChannelWrongStateError("Channel is closed.")

    def _error(self, rc: int, err: Any) -> BaseException:
        return self._connection._map_error(ErrorInfo.take(err, rc), self)

    def _raise_if_failed(self) -> None:
        exc = self._closed_exc
        if isinstance(exc, ChannelClosedByBroker):
            raise _copy(exc)
        self._connection._raise_if_lost()

    def _set_closed(self, exc: BaseException) -> None:
        """Under the lock: the channel is over."""
        if self._closed_exc is not None:
            return
        self._closed_exc = exc
        outstanding, self._outstanding = self._outstanding, {}
        for waiter in outstanding.values():
            waiter.done = True
            waiter.error = exc
        self._consumers.clear()
        if self._gen is not None:
            self._gen.cancelled = True
            self._gen = None
        self._pending.clear()

    def _on_closed_event(self, info: Optional[ErrorInfo]) -> None:
        """Under the lock: a CHANNEL_CLOSED event."""
        if self._closed_exc is not None:
            return
        if info is not None and info.origin == _ffi.SWAMQP_ORIGIN_BROKER and info.reply_code:
            self._set_closed(_closed_by_broker(ChannelClosedByBroker, info.reply_code, info.message))
        elif self._closing:
            self._set_closed(ChannelClosedByClient(0, "Normal shutdown"))
        elif info is not None and info.origin == _ffi.SWAMQP_ORIGIN_LIBRARY:
            self._set_closed(ChannelClosed(0, info.message or _ffi.status_name(info.status)))
        # else: the close of an earlier channel with this number, after our own close

    def _on_confirm(self, ack: bool, tag: int, multiple: bool, status: int, info: Optional[ErrorInfo]) -> None:
        """Under the lock: a confirm (ack or nack) for `tag` (and all before it with `multiple`)."""
        out = self._outstanding
        if not out:
            return
        error = self._connection._map_error(info, None, record=False) if (not ack and status and info) else None
        if multiple:
            while out:
                seq = next(iter(out))
                if seq > tag:
                    break
                waiter = out.pop(seq)
                waiter.done, waiter.ack, waiter.error = True, ack, error
        else:
            single = out.pop(tag, None)
            if single is not None:
                single.done, single.ack, single.error = True, ack, error

    def _on_return(self, returned: ReturnedMessage) -> None:
        """Under the lock: a basic.return. RabbitMQ sends it before the publish's confirm, so in
        confirm mode the publish is still outstanding: it is the oldest one with the same
        exchange, routing key and body."""
        matched = False
        if self._outstanding:
            key = (returned.method.exchange, returned.method.routing_key)
            for waiter in self._outstanding.values():
                if waiter.key == key and waiter.returned is None and waiter.body == returned.body:
                    waiter.returned = returned
                    matched = True
                    break
        if self._return_cbs:
            self._pending.append((_RETURN, self._number, None, returned))
        elif not matched:
            log.warning("channel %d: message returned by the broker (%s %s) and no return callback: %r",
                        self._number, returned.method.reply_code, returned.method.reply_text, returned)

    def _on_broker_cancel(self, tag: str) -> None:
        """Under the lock: the broker cancelled consumer `tag`."""
        gen = self._gen
        if gen is not None and gen.tag == tag:
            gen.pending.append(None)
        elif tag in self._consumers:
            self._pending.append((_CANCEL, self._number, tag, None))

    def _dispatch_pending(self) -> int:
        """Runs this channel's pending callbacks (the caller claimed the channel). What is
        pending is taken out under the lock, so basic_cancel on another thread never sees (and
        hands back) a delivery that is also dispatched here; a delivery whose consumer was
        cancelled meanwhile is requeued instead of dispatched."""
        consumers = self._consumers
        lock = self._connection._lock
        ran = 0
        while True:
            with lock:
                pending = self._pending
                if not pending:
                    return ran
                batch = list(pending)
                pending.clear()
            for index, (kind, _, tag, payload) in enumerate(batch):
                ran += 1
                try:
                    if kind == _DELIVERY:
                        info = consumers.get(tag)
                        if info is not None and info.state == _ACTIVE and info.callback is not None:
                            info.callback(self, payload[0], payload[1], payload[2])
                        else:
                            self._not_dispatched(info, tag, payload)
                    else:
                        self._dispatch_other(kind, tag, payload)
                except BaseException:
                    with lock:  # what this batch did not run yet stays first in line
                        self._pending.extendleft(reversed(batch[index + 1:]))
                    raise

    def _dispatch_other(self, kind: int, tag: Any, payload: Any) -> None:
        """A pending return (payload: ReturnedMessage) or broker cancel (tag)."""
        if kind == _RETURN:
            for cb in list(self._return_cbs):
                cb(self, payload.method, payload.properties, payload.body)
        elif kind == _CANCEL:
            conn = self._connection
            with conn._lock:
                info = self._consumers.pop(tag, None)
                if info is not None:
                    self._cancelled_tags[tag] = info.auto_ack
                conn._changed()
            if info is not None:
                frame_ = Method(self._number, Basic.Cancel(tag))
                for cb in list(self._cancel_cbs):
                    cb(frame_)

    def _not_dispatched(self, info: Optional[_ConsumerInfo], tag: str, payload: Any) -> None:
        auto_ack = info.auto_ack if info is not None else self._cancelled_tags.get(tag)
        if auto_ack is None:
            log.debug("channel %d: delivery for unknown consumer %r dropped", self._number, tag)
        elif auto_ack:
            if info is not None:
                info.leftover.append(payload)
        else:
            self._reject_quietly(payload[0].delivery_tag)


# ============================================================================================
# connect
# ============================================================================================
_INT_OPTIONS = {
    # keyword: (options field, scale, maximum)
    "heartbeat": ("heartbeat", 1, 0xFFFF),
    "frame_max": ("frame_max", 1, 0xFFFFFFFF),
    "channel_max": ("channel_max", 1, 0xFFFF),
    "connect_timeout": ("connect_timeout_ms", 1000, 0xFFFFFFFF),
    "max_message_size": ("max_message_size", 1, (1 << 64) - 1),
    "event_queue_limit": ("event_queue_limit", 1, (1 << 64) - 1),
    "outbound_limit": ("outbound_limit", 1, (1 << 64) - 1),
    "max_unconfirmed": ("max_unconfirmed", 1, 0xFFFFFFFF),
    "recovery_initial_delay": ("recovery_initial_delay_ms", 1000, 0xFFFFFFFF),
    "recovery_max_delay": ("recovery_max_delay_ms", 1000, 0xFFFFFFFF),
    "recovery_max_attempts": ("recovery_max_attempts", 1, 0xFFFFFFFF),
}
_TLS_STRINGS = ("tls_ca_file", "tls_ca_dir", "tls_cert_file", "tls_key_file", "tls_key_password",
                "tls_server_name", "tls_ciphers")
_FLAGS = ("tls", "tls_insecure_skip_verify", "tls_insecure_skip_hostname_check", "automatic_recovery")
_AUTH = {None: _ffi.SWAMQP_AUTH_AUTO, "AUTO": _ffi.SWAMQP_AUTH_AUTO, "PLAIN": _ffi.SWAMQP_AUTH_PLAIN,
         "AMQPLAIN": _ffi.SWAMQP_AUTH_AMQPLAIN, "EXTERNAL": _ffi.SWAMQP_AUTH_EXTERNAL}


def _c_string(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    raw = value.encode("utf-8")
    if b"\0" in raw:
        raise ValueError("%s must not contain NUL characters" % what)
    return raw


def _apply_options(opts: Any, kwargs: Dict[str, Any], keep: List[Any]) -> None:
    known = set(_INT_OPTIONS) | set(_TLS_STRINGS) | set(_FLAGS) | {
        "connection_name", "auth_mechanism", "tls_ca_certificates", "endpoints"}
    unknown = set(kwargs) - known
    if unknown:
        raise TypeError("connect() got unsupported keyword arguments: %s" % ", ".join(sorted(unknown)))
    for name, (field, scale, maximum) in _INT_OPTIONS.items():
        value = kwargs.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("%s must be a number" % name)
        value = int(round(value * scale))
        if not 0 <= value <= maximum:
            raise ValueError("%s out of range" % name)
        setattr(opts, field, value)
    if "auth_mechanism" in kwargs:
        mechanism = kwargs["auth_mechanism"]
        mechanism = mechanism.upper() if isinstance(mechanism, str) else mechanism
        if mechanism not in _AUTH:
            raise ValueError("auth_mechanism must be 'PLAIN', 'AMQPLAIN', 'EXTERNAL' or None")
        opts.auth_mechanism = _AUTH[mechanism]
    for field in _FLAGS:
        if kwargs.get(field) is not None:
            setattr(opts, field, bool(kwargs[field]))
    for field in _TLS_STRINGS:
        if kwargs.get(field) is not None:
            raw = _c_string(kwargs[field], field)
            keep.append(raw)
            setattr(opts, field, raw)
    certificates = kwargs.get("tls_ca_certificates")
    if certificates:
        ders = [bytes(c) for c in certificates]
        array = (_Bytes * len(ders))()
        for i, der in enumerate(ders):
            keep.append(der)
            array[i] = _Bytes(_address(der), len(der))
        keep.append(array)
        opts.tls_ca_certificates = ctypes.addressof(array)
        opts.tls_ca_certificate_count = len(ders)
    endpoints = kwargs.get("endpoints")
    if endpoints:
        hosts = (_ffi.swamqp_endpoint * len(endpoints))()
        for i, endpoint in enumerate(endpoints):
            if isinstance(endpoint, str):
                if endpoint.startswith("["):  # [IPv6]:port
                    host, _, rest = endpoint[1:].partition("]")
                    port_text = rest[1:] if rest.startswith(":") else "5672"
                else:
                    host, sep, port_text = endpoint.partition(":")
                    port_text = port_text if sep else "5672"
                port = int(port_text)
            else:
                host, port = endpoint
            raw = _c_string(host, "endpoint host")
            keep.append(raw)
            hosts[i].host = raw
            hosts[i].port = int(port)
        keep.append(hosts)
        opts.endpoints = ctypes.addressof(hosts)
        opts.endpoint_count = len(endpoints)
    connection_name = kwargs.get("connection_name")
    if connection_name is not None:
        raw_name = _c_string(connection_name, "connection_name")
        keep.append(raw_name)
        opts.connection_name = raw_name


def connect(url: Optional[Union[str, Sequence[str]]] = None, *, host: Optional[str] = None,
            port: Optional[int] = None, virtual_host: Optional[str] = None,
            credentials: Optional[Union[PlainCredentials, ExternalCredentials]] = None,
            heartbeat: Optional[int] = None, ssl: Any = None, ssl_options: Optional[SSLOptions] = None,
            recovery: bool = False, connection_name: Optional[str] = None,
            connect_timeout: Optional[float] = None, rpc_timeout: Optional[float] = _DEFAULT_RPC_TIMEOUT,
            blocked_connection_timeout: Optional[float] = None, **options: Any) -> BlockingConnection:
    """Connects, logs in and returns a :class:`BlockingConnection` (a context manager).

    ``url``: ``amqp://user:password@host:port/vhost?heartbeat=30`` or ``amqps://...`` (parsed by
    the library with RabbitMQ's URI rules; ``/%2f`` is the vhost "/"), or several (a list, or
    separated by commas or spaces: a cluster's nodes, tried in turn on recovery). ``host``,
    ``port``, ``virtual_host`` and ``credentials`` (:class:`PlainCredentials`, or
    :class:`ExternalCredentials` for the TLS certificate) override the URL's parts; without a URL
    the defaults are localhost:5672, vhost "/", guest/guest.

    ``heartbeat``: seconds we propose (0: none; None: the library's 60, or the broker's if smaller).
    ``ssl``: True, a :class:`swiftamqp.TLSOptions` or an ``ssl.SSLContext`` (see swiftamqp.tls);
    ``ssl_options``: pika's :class:`SSLOptions` (context and server_hostname).
    ``recovery``: automatic recovery: after an unexpected loss the library reconnects and restores
    channels, qos, confirm and tx modes, exchanges, queues, bindings and consumers (same tags);
    calls made meanwhile wait for it (up to their timeout). Options ``recovery_initial_delay``,
    ``recovery_max_delay`` (seconds), ``recovery_max_attempts``, ``endpoints``.
    ``rpc_timeout``: seconds every request to the broker (and a confirm-mode publish) may take
    (None: no limit). ``blocked_connection_timeout``: seconds a publish may wait while the broker
    blocks the connection, then ConnectionBlockedTimeout (default: rpc_timeout).
    ``connect_timeout`` (seconds; default 30) bounds resolve + TCP + TLS + handshake.
    Further options as for :func:`swiftamqp.connect`: ``frame_max``, ``channel_max``,
    ``max_message_size``, ``event_queue_limit``, ``outbound_limit``, ``max_unconfirmed``,
    ``auth_mechanism``, ``tls_*``.
    """
    opts = _ffi.new_connection_options()
    _lib.swamqp_connection_options_init(_byref(opts))
    keep: List[Any] = []
    err = _ffi.swamqp_error()
    description_host, description_port, description_vhost = "localhost", 5672, "/"
    if url is not None:
        text_url = (url if isinstance(url, str) else " ".join(url)).strip()
        parse = _lib.swamqp_parse_url_list if (" " in text_url or "," in text_url) else _lib.swamqp_parse_url
        rc = parse(_c_string(text_url, "url"), _byref(opts), _byref(err))
        if rc:
            info = ErrorInfo.take(err, rc)
            raise ValueError(info.message or "invalid AMQP URL (%s)" % _ffi.status_name(rc))
        # The strings point into the library's per-thread parse storage: copy what we show.
        description_host = (opts.host or b"").decode("utf-8", "replace")
        description_port = opts.port
        description_vhost = (opts.vhost or b"").decode("utf-8", "replace")
    if host is not None:
        raw = _c_string(host, "host")
        keep.append(raw)
        opts.host = raw
        description_host = host
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= 0xFFFF:
            raise ValueError("port must be an int in 1..65535")
        opts.port = port
        description_port = port
    if virtual_host is not None:
        raw = _c_string(virtual_host, "virtual_host")
        keep.append(raw)
        opts.vhost = raw
        description_vhost = virtual_host
    if credentials is not None:
        if isinstance(credentials, ExternalCredentials):
            options.setdefault("auth_mechanism", "EXTERNAL")
        elif isinstance(credentials, PlainCredentials):
            user, password = _c_string(credentials.username, "username"), _c_string(credentials.password, "password")
            keep += [user, password]
            opts.user, opts.password = user, password
            if credentials.erase_on_connect:
                credentials.password = None  # type: ignore[assignment]
        else:
            raise TypeError("credentials must be PlainCredentials or ExternalCredentials")
    if ssl_options is not None:
        if ssl is None:
            ssl = ssl_options.context
        if ssl_options.server_hostname is not None:
            options.setdefault("tls_server_name", ssl_options.server_hostname)
    if ssl is not None:
        options["ssl"] = ssl
    options = merge_ssl(options)
    if heartbeat is not None:
        options["heartbeat"] = heartbeat
    if connect_timeout is not None:
        options["connect_timeout"] = connect_timeout
    if recovery:
        options["automatic_recovery"] = True
    if connection_name is not None:
        options["connection_name"] = connection_name
    _apply_options(opts, options, keep)
    for value in (rpc_timeout, blocked_connection_timeout):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise ValueError("rpc_timeout and blocked_connection_timeout must be positive numbers or None")
    handle = _c_void_p()
    rc = _lib.swamqp_connect(_byref(opts), _byref(handle), _byref(err))
    opts.password = None
    opts.tls_key_password = None
    del keep
    if rc:
        raise _connect_error(ErrorInfo.take(err, rc))
    connection = BlockingConnection.__new__(BlockingConnection)
    connection._setup(handle.value, rpc_timeout=rpc_timeout, blocked_timeout=blocked_connection_timeout,
                      description="%s:%s vhost=%r" % (description_host, description_port, description_vhost))
    publish_limit = blocked_connection_timeout if blocked_connection_timeout is not None else rpc_timeout
    connection._publish_ms = 0xFFFFFFFF if publish_limit is None else max(1, int(publish_limit * 1000))
    connection._publish_ms_arg = _ffi.c_timeout(connection._publish_ms)
    return connection


def _connect_error(info: ErrorInfo) -> BaseException:
    status = info.status
    name = _ffi.status_name(status)
    text_ = info.message or name
    if status == _ffi.SWAMQP_ERR_AUTH:
        cls = ProbableAccessDeniedError if info.reply_code == 530 else ProbableAuthenticationError
        exc: BaseException = cls("%s: %s" % (name, text_), status)
    elif status in (_ffi.SWAMQP_ERR_RESOLVE, _ffi.SWAMQP_ERR_CONNECT, _ffi.SWAMQP_ERR_TLS, _ffi.SWAMQP_ERR_TIMEOUT):
        exc = ConnectError("%s: %s" % (name, text_), status)
    elif info.origin == _ffi.SWAMQP_ORIGIN_BROKER and info.reply_code:
        exc = _closed_by_broker(ConnectionClosedByBroker, info.reply_code, info.message)
    elif status in (_ffi.SWAMQP_ERR_IO, _ffi.SWAMQP_ERR_CONNECTION_LOST, _ffi.SWAMQP_ERR_HEARTBEAT_TIMEOUT):
        exc = StreamLostError("%s: %s" % (name, text_))
    else:
        return make_exception(info, connection_level=True)
    exc.status = status  # type: ignore[attr-defined]
    exc.status_name = name  # type: ignore[attr-defined]
    return exc


#: pika's class name, for isinstance checks and annotations; make one with connect().
BlockingConnection.__module__ = __name__
