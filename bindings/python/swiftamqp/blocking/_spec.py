"""swiftamqp.blocking's spec objects: methods, properties and frames with pika's names."""

from __future__ import annotations

import enum
from typing import Any, Dict, Optional, Union

_PROPERTY_NAMES = ("content_type", "content_encoding", "headers", "delivery_mode", "priority",
                   "correlation_id", "reply_to", "expiration", "message_id", "timestamp", "type",
                   "user_id", "app_id", "cluster_id")


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
