"""swiftamqp.blocking.connect and what it takes: pika's credentials and TLS settings, and the
connect options."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Union

from .. import _ffi
from .._errors import ErrorInfo, make_exception
from .._options import BINDING_OPTIONS, BLOCKING, apply_options, parse_url, set_address
from ..tls import merge_ssl
from ._connection import BlockingConnection
from ._exceptions import (ConnectError, ConnectionClosedByBroker, ProbableAccessDeniedError,
                          ProbableAuthenticationError, StreamLostError, _closed_by_broker)
from ._native import _byref, _c_void_p, _lib

_DEFAULT_RPC_TIMEOUT = BINDING_OPTIONS["rpc_timeout"][BLOCKING]  # 30 s (the asyncio API's: 60 s)


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
# connect (its options' table, shared with the asyncio API: swiftamqp._options)
# ============================================================================================
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
        parse_url(opts, text_url)
        # The strings point into the library's per-thread parse storage: copy what we show.
        description_host = (opts.host or b"").decode("utf-8", "replace")
        description_port = opts.port
        description_vhost = (opts.vhost or b"").decode("utf-8", "replace")
    # only what is given: None leaves the URL's part, or else the library's default
    if host is not None:
        set_address(opts, keep, host=host)
        description_host = host
    if port is not None:
        set_address(opts, keep, port=port)
        description_port = port
    if virtual_host is not None:
        set_address(opts, keep, virtual_host=virtual_host)
        description_vhost = virtual_host
    if credentials is not None:
        if isinstance(credentials, ExternalCredentials):
            options.setdefault("auth_mechanism", "EXTERNAL")
        elif isinstance(credentials, PlainCredentials):
            set_address(opts, keep, username=credentials.username, password=credentials.password)
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
    apply_options(opts, options, keep)
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
