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

import logging

# The package's modules, lowest first (each imports only those above it):
#   _exceptions (pika's exception classes), _spec (methods, properties, frames),
#   _native (library helpers, the native side of a connection), _properties (BasicProperties
#   encoded, received messages read), _threads (Ctrl-C, per-thread state), _items (what the
#   dispatcher routes), _dispatcher (the leader/follower event drain, mixed into
#   BlockingConnection), _consumers (mixed into BlockingChannel), _channel, _connection,
#   _connect (connect, credentials; the connect options' table, shared with the asyncio API, is
#   swiftamqp._options).
from ._exceptions import (  # noqa: F401 - the module's names, as before it was split
    AMQPChannelError, AMQPConnectionError, AMQPError, AMQPHeartbeatTimeout, AMQPTimeoutError,
    AuthenticationError, ChannelClosed, ChannelClosedByBroker, ChannelClosedByClient,
    ChannelWrongStateError, ConnectError, ConnectionBlockedTimeout, ConnectionClosed,
    ConnectionClosedByBroker, ConnectionClosedByClient, ConnectionWrongStateError, ConsumerCancelled,
    DuplicateConsumerTag, NackError, ProbableAccessDeniedError, ProbableAuthenticationError, Recovering,
    ReentrancyError, StreamLostError, UnroutableError, _PikaArgs, exceptions,
)
from ._spec import (  # noqa: F401
    Basic, BasicProperties, Confirm, DeliveryMode, Exchange, ExchangeType, Method, Queue, ReturnedMessage,
    Tx, _AMQPObject, _ConnectionMethods, _Method, frame, spec,
)
from ._channel import BlockingChannel
from ._connection import BlockingConnection
from ._connect import ExternalCredentials, PlainCredentials, SSLOptions, connect

__all__ = [
    "connect", "BlockingConnection", "BlockingChannel", "BasicProperties", "PlainCredentials",
    "ExternalCredentials", "SSLOptions", "DeliveryMode", "ExchangeType", "ReturnedMessage",
    "exceptions", "spec", "frame", "Basic", "Queue", "Exchange", "Tx", "Confirm",
]

log = logging.getLogger("swiftamqp")


def _name_here(obj: object) -> None:
    """Makes a class (and the classes defined inside it) or function of a submodule say it is
    swiftamqp.blocking's, as it was before the module became a package (reprs, tracebacks,
    pickles, help())."""
    module = getattr(obj, "__module__", "")
    if not module.startswith(__name__ + "."):
        return
    obj.__module__ = __name__
    if isinstance(obj, type):
        for inner in vars(obj).values():
            if isinstance(inner, type) and inner.__qualname__.startswith(obj.__qualname__ + "."):
                _name_here(inner)


for _public in list(globals().values()):
    _name_here(_public)
del _public
