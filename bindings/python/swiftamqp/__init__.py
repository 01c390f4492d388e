"""swiftamqp: asyncio AMQP 0-9-1 client on libswiftamqp, with asynqp 0.6's API.

asynqp programs run with ``import swiftamqp as asynqp`` once ``yield from`` became ``await``.
Beyond asynqp: publisher confirms (``Exchange.publish_confirmed``), nack, transactions,
exchange-to-exchange bindings, recover, ``async with`` and ``async for``, ``connect_url``,
blocked/cancel/recovery handlers and automatic recovery (see the package README).

Linux only. Importing the package loads libswiftamqp (see ``swiftamqp._ffi`` for where it is
looked for; ``SWIFTAMQP_LIBRARY`` overrides); :class:`LibraryNotFoundError` (an ImportError)
lists every path tried when none works.
"""

from ._ffi import LibraryNotFoundError, library_path, version as library_version
from .exceptions import *  # noqa: F401,F403
from .exceptions import __all__ as _exceptions_all
from .message import Message, IncomingMessage, RawTimestamp
from .connection import Connection, ConnectionStats, connect, connect_and_open_channel, connect_robust, connect_url
from .channel import Channel
from .tls import TLSOptions
from .exchange import Exchange, ExchangeBinding
from .queue import Queue, QueueBinding, Consumer, QueueIterator

__version__ = "0.1.0"

__all__ = [
    "Message", "IncomingMessage", "RawTimestamp",
    "Connection", "Channel", "Exchange", "Queue", "QueueBinding", "Consumer",
    "connect", "connect_and_open_channel",
    "connect_url", "connect_robust", "ConnectionStats", "ExchangeBinding", "QueueIterator",
    "LibraryNotFoundError", "library_path", "library_version", "TLSOptions",
]
__all__ += _exceptions_all
