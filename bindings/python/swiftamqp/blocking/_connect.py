"""swiftamqp.blocking.connect and what it takes: pika's credentials and TLS settings, and the
connect options."""

from __future__ import annotations

import ctypes
from typing import Any, Dict, List, Optional, Sequence, Union

from .. import _ffi
from .._connect import _endpoint as parse_endpoint
from .._errors import ErrorInfo, make_exception
from ..tls import merge_ssl
from ._connection import BlockingConnection
from ._exceptions import (ConnectError, ConnectionClosedByBroker, ProbableAccessDeniedError,
                          ProbableAuthenticationError, StreamLostError, _closed_by_broker)
from ._native import _address, _byref, _Bytes, _c_void_p, _lib

_DEFAULT_RPC_TIMEOUT = 30.0


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
            host, port = parse_endpoint(endpoint)  # the asyncio API's parser: ports checked
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
