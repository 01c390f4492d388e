"""What :func:`~swiftamqp.connect` and :func:`~swiftamqp.connect_url` do before a Connection
exists: their keyword options checked and written into a ``swamqp_connection_options`` (the URL
parsed by the library), the options the binding keeps for itself (``publish_timeout``,
``rpc_timeout``), and :class:`_Connecting`, the awaitable (and async context manager) they
return. :mod:`swiftamqp.connection` then creates the handle and opens the Connection."""

from __future__ import annotations

import asyncio
import ctypes
from typing import TYPE_CHECKING, Any, Callable, Dict, Generator, List, Optional, Tuple

from . import _ffi
from ._errors import ErrorInfo
from ._table import bytes_struct
from ._timeouts import check_timeout
from .tls import merge_ssl

if TYPE_CHECKING:  # pragma: no cover
    import socket

    from .connection import Connection

_AUTH_MECHANISMS = {
    None: _ffi.SWAMQP_AUTH_AUTO,
    "AUTO": _ffi.SWAMQP_AUTH_AUTO,
    "PLAIN": _ffi.SWAMQP_AUTH_PLAIN,
    "AMQPLAIN": _ffi.SWAMQP_AUTH_AMQPLAIN,
    "EXTERNAL": _ffi.SWAMQP_AUTH_EXTERNAL,
}

_INT_OPTIONS = {
    # kwarg: (options field, scale, maximum)
    "heartbeat": ("heartbeat", 1, 0xFFFF),
    "frame_max": ("frame_max", 1, 0xFFFFFFFF),
    "channel_max": ("channel_max", 1, 0xFFFF),
    "connect_timeout": ("connect_timeout_ms", 1000, 0xFFFFFFFF),  # seconds
    "max_message_size": ("max_message_size", 1, (1 << 64) - 1),
    "event_queue_limit": ("event_queue_limit", 1, (1 << 64) - 1),
    "outbound_limit": ("outbound_limit", 1, (1 << 64) - 1),
    "max_unconfirmed": ("max_unconfirmed", 1, 0xFFFFFFFF),
    "recovery_initial_delay": ("recovery_initial_delay_ms", 1000, 0xFFFFFFFF),  # seconds
    "recovery_max_delay": ("recovery_max_delay_ms", 1000, 0xFFFFFFFF),  # seconds
    "recovery_max_attempts": ("recovery_max_attempts", 1, 0xFFFFFFFF),
}
_TLS_STRINGS = ("tls_ca_file", "tls_ca_dir", "tls_cert_file", "tls_key_file", "tls_key_password",
                "tls_server_name", "tls_ciphers")
_TLS_FLAGS = ("tls", "tls_insecure_skip_verify", "tls_insecure_skip_hostname_check")
_FLAGS = _TLS_FLAGS + ("automatic_recovery",)
_OTHER_OPTIONS = ({"connection_name", "auth_mechanism", "tls_ca_certificates", "endpoints"}
                  | set(_TLS_STRINGS) | set(_FLAGS))

#: (event loop, swamqp_connection_options, what they point into, keyword arguments of
#: connection._create_and_open)
_Arguments = Tuple[asyncio.AbstractEventLoop, Any, List[Any], Dict[str, Any]]


def _python_options(kwargs: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(kwargs without the options the binding handles itself, those options)."""
    if "publish_timeout" not in kwargs and "rpc_timeout" not in kwargs:
        return kwargs, {}
    kwargs = dict(kwargs)
    out: Dict[str, Optional[float]] = {}
    if "publish_timeout" in kwargs:
        value = kwargs.pop("publish_timeout")
        if value is not None:
            out["publish_timeout"] = check_timeout(value, "publish_timeout")
    if "rpc_timeout" in kwargs:
        out["rpc_timeout"] = check_timeout(kwargs.pop("rpc_timeout"), "rpc_timeout", allow_none=True)
    return kwargs, out


def _endpoint(endpoint: Any) -> Tuple[str, int]:
    """(host, port) from a (host, port) pair or a "host:port" / "[v6]:port" / "host" string."""
    if isinstance(endpoint, str):
        if endpoint.startswith("["):  # [IPv6]:port
            host, _, rest = endpoint[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else (rest or "5672")
        else:
            host, sep, port = endpoint.partition(":")
            port = port if sep else "5672"
        try:
            port = int(port)  # type: ignore[assignment]
        except ValueError:
            raise ValueError("bad endpoint %r: expected host:port" % (endpoint,)) from None
    else:
        host, port = endpoint
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= 0xFFFF:
        raise ValueError("bad endpoint port in %r" % (endpoint,))
    return host, port


def _get_loop(loop: Optional[asyncio.AbstractEventLoop]) -> asyncio.AbstractEventLoop:
    running = asyncio.get_running_loop()
    if loop is not None and loop is not running:
        raise ValueError("loop must be the running event loop")
    return running


def _c_string(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    raw = value.encode("utf-8")
    if b"\0" in raw:
        raise ValueError("%s must not contain NUL characters" % what)
    return raw


def _apply_options(opts: Any, kwargs: Dict[str, Any], keep: List[Any]) -> Optional[str]:
    """Sets the options of `kwargs`; what the struct points into is appended to `keep`, which
    must live until swamqp_connection_create returned."""
    unknown = set(kwargs) - set(_INT_OPTIONS) - _OTHER_OPTIONS
    if unknown:
        raise TypeError("connect() got unsupported keyword arguments: %s" % ", ".join(sorted(unknown)))
    for name, (field, scale, maximum) in _INT_OPTIONS.items():
        if kwargs.get(name) is None:
            continue
        value = kwargs[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("%s must be a number" % name)
        value = int(round(value * scale))
        if not 0 <= value <= maximum:
            raise ValueError("%s out of range" % name)
        setattr(opts, field, value)
    if "auth_mechanism" in kwargs:
        mechanism = kwargs["auth_mechanism"]
        if isinstance(mechanism, str):
            mechanism = mechanism.upper()
        if mechanism not in _AUTH_MECHANISMS:
            raise ValueError("auth_mechanism must be 'PLAIN', 'AMQPLAIN', 'EXTERNAL' or None "
                             "(automatic), not %r" % (kwargs["auth_mechanism"],))
        opts.auth_mechanism = _AUTH_MECHANISMS[mechanism]
    for field in _FLAGS:
        if kwargs.get(field) is not None:
            setattr(opts, field, bool(kwargs[field]))
    for field in _TLS_STRINGS:
        if kwargs.get(field) is not None:
            setattr(opts, field, _c_string(kwargs[field], field))
    certificates = kwargs.get("tls_ca_certificates")
    if certificates:
        certificates = [bytes(c) for c in certificates]
        array = (_ffi.swamqp_bytes * len(certificates))()
        for i, der in enumerate(certificates):
            array[i] = bytes_struct(der, keep)
        keep.append(array)
        opts.tls_ca_certificates = ctypes.addressof(array)
        opts.tls_ca_certificate_count = len(certificates)
    endpoints = kwargs.get("endpoints")
    if endpoints:
        array = (_ffi.swamqp_endpoint * len(endpoints))()  # type: ignore[assignment]
        for i, endpoint in enumerate(endpoints):
            host, port = _endpoint(endpoint)
            raw = _c_string(host, "endpoint host")
            keep.append(raw)
            array[i].host = raw
            array[i].port = port
        keep.append(array)
        opts.endpoints = ctypes.addressof(array)
        opts.endpoint_count = len(endpoints)
    name = kwargs.get("connection_name")  # type: ignore[assignment]
    if name is not None:
        opts.connection_name = _c_string(name, "connection_name")
    return name


def _connect_arguments(host: str = 'localhost', port: int = 5672, username: str = 'guest',
                       password: str = 'guest', virtual_host: str = '/',
                       on_connection_close: Optional[Callable[..., Any]] = None, *,
                       loop: Optional[asyncio.AbstractEventLoop] = None,
                       sock: Optional[socket.socket] = None, **kwargs: Any) -> _Arguments:
    """connect()'s arguments as (loop, options, what they point into, the Connection's)."""
    loop = _get_loop(loop)
    kwargs, python_options = _python_options(kwargs)
    opts = _ffi.new_connection_options()
    _ffi.lib.swamqp_connection_options_init(ctypes.byref(opts))
    opts.host = _c_string(host, "host")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= 0xFFFF:
        raise ValueError("port must be an int in 1..65535")
    opts.port = port
    opts.vhost = _c_string(virtual_host, "virtual_host")
    opts.user = _c_string(username, "username")
    opts.password = _c_string(password, "password")
    keep: List[Any] = []
    name = _apply_options(opts, merge_ssl(kwargs), keep)
    if on_connection_close is not None and not callable(on_connection_close):
        raise TypeError("on_connection_close must be callable")
    if sock is not None:
        fd = sock.fileno()
        if fd < 0:
            raise ValueError("sock is closed")
        opts.socket_fd = fd
    return loop, opts, keep, dict(
        sock=sock, host=host if sock is None else "<socket>", port=port if sock is None else None,
        virtual_host=virtual_host, username=username, connection_name=name,
        on_connection_close=on_connection_close, python_options=python_options)


def _url_arguments(url: Any, on_connection_close: Optional[Callable[..., Any]] = None, *,
                   loop: Optional[asyncio.AbstractEventLoop] = None, **kwargs: Any) -> _Arguments:
    """connect_url()'s arguments as (loop, options, what they point into, the Connection's).
    The options' strings point into the library's parse storage: swamqp_connection_create must
    follow before anything else parses on this thread."""
    loop = _get_loop(loop)
    kwargs, python_options = _python_options(kwargs)
    opts = _ffi.new_connection_options()
    _ffi.lib.swamqp_connection_options_init(ctypes.byref(opts))
    err = _ffi.swamqp_error()
    if isinstance(url, (list, tuple)):
        url = " ".join(url)
    parse = _ffi.lib.swamqp_parse_url_list if (" " in url.strip() or "," in url) else _ffi.lib.swamqp_parse_url
    rc = parse(_c_string(url.strip(), "url"), ctypes.byref(opts), ctypes.byref(err))
    if rc:
        info = ErrorInfo.take(err, rc)
        # The URL itself is not repeated: it may carry a password.
        raise ValueError(info.message or "invalid AMQP URL (%s)" % _ffi.status_name(rc))
    # The strings point into storage of the library valid until the next parse on this thread:
    # copy what is shown, and create the connection before anything else can parse.
    host = (opts.host or b"").decode("utf-8", "replace")
    vhost = (opts.vhost or b"").decode("utf-8", "replace")
    user = (opts.user or b"").decode("utf-8", "replace")
    port = opts.port
    keep: List[Any] = []
    name = _apply_options(opts, merge_ssl(kwargs), keep)
    if on_connection_close is not None and not callable(on_connection_close):
        raise TypeError("on_connection_close must be callable")
    return loop, opts, keep, dict(host=host, port=port, virtual_host=vhost, username=user,
                                  connection_name=name, on_connection_close=on_connection_close,
                                  python_options=python_options)


class _Connecting:
    """What :func:`connect` and :func:`connect_url` return: await it for the Connection, or use
    it as ``async with connect(...) as connection:`` (closed at the end of the block)."""

    __slots__ = ("_factory", "_args", "_kwargs", "_connection")

    def __init__(self, factory: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        self._factory = factory
        self._args = args
        self._kwargs = kwargs
        self._connection: Optional[Connection] = None

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._factory(*self._args, **self._kwargs).__await__()

    async def __aenter__(self) -> Connection:
        self._connection = await self
        return self._connection

    async def __aexit__(self, *exc_info: Any) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
