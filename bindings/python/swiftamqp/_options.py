"""The connect options of both Python APIs in one table, and how they are written into a
``swamqp_connection_options``. :func:`swiftamqp.connect` / :func:`~swiftamqp.connect_url`
(:mod:`swiftamqp._connect`) and :func:`swiftamqp.blocking.connect`
(:mod:`swiftamqp.blocking._connect`) both check and write their keyword options with
:func:`apply_options`, their address and login with :func:`set_address`, and parse URLs with
:func:`parse_url`. Each API keeps its own signature (asynqp's positional address, pika's URL and
credentials objects) and turns it into these options; what differs between the two on purpose is
written down here: which address defaults each writes (:func:`set_address`) and the timeouts the
binding keeps itself, with each API's default (``BINDING_OPTIONS``)."""

from __future__ import annotations

import ctypes
from typing import Any, Dict, List, Optional, Tuple

from . import _ffi
from ._errors import ErrorInfo
from ._table import bytes_struct
from ._timeouts import DEFAULT_PUBLISH_TIMEOUT, DEFAULT_RPC_TIMEOUT

# ---------------------------------------------------------------------------------------------
# The keyword options written into swamqp_connection_options: the same names, checks and fields
# for both APIs. Not given (or None): the library's default (include/swiftamqp.h), or the URL's.
# ---------------------------------------------------------------------------------------------
#: Numbers. keyword: (options field, scale, maximum); scale 1000: given in seconds, set in ms.
INT_OPTIONS = {
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
#: Strings (a str without NUL); the keyword is the options field.
TLS_STRINGS = ("tls_ca_file", "tls_ca_dir", "tls_cert_file", "tls_key_file", "tls_key_password",
               "tls_server_name", "tls_ciphers")
#: Booleans (any value, taken as bool); the keyword is the options field.
TLS_FLAGS = ("tls", "tls_insecure_skip_verify", "tls_insecure_skip_hostname_check")
FLAGS = TLS_FLAGS + ("automatic_recovery",)
#: auth_mechanism (a str, any case, or None) -> the options' auth_mechanism.
AUTH_MECHANISMS = {
    None: _ffi.SWAMQP_AUTH_AUTO,
    "AUTO": _ffi.SWAMQP_AUTH_AUTO,
    "PLAIN": _ffi.SWAMQP_AUTH_PLAIN,
    "AMQPLAIN": _ffi.SWAMQP_AUTH_AMQPLAIN,
    "EXTERNAL": _ffi.SWAMQP_AUTH_EXTERNAL,
}
#: With code of their own in apply_options: auth_mechanism (above), tls_ca_certificates (DER
#: bytes, copied by the library), endpoints ((host, port) or "host:port"), connection_name (a str).
OTHER_OPTIONS = frozenset({"connection_name", "auth_mechanism", "tls_ca_certificates", "endpoints"})
#: Every keyword apply_options takes (any other is a TypeError).
OPTIONS = frozenset(INT_OPTIONS) | frozenset(TLS_STRINGS) | frozenset(FLAGS) | OTHER_OPTIONS
#: The address and login, which each API takes in its own way (see set_address): keyword ->
#: options field, written in this order.
ADDRESS = {"host": "host", "port": "port", "virtual_host": "vhost", "username": "user", "password": "password"}

# ---------------------------------------------------------------------------------------------
# Options the binding keeps itself (not in the struct), with each API's default. They differ on
# purpose, and each API documents its own (its connect docstring, bindings/python/README.md):
# - rpc_timeout: seconds a request waits for the broker's reply (None: no bound). asyncio 60
#   (DEFAULT_RPC_TIMEOUT; a coroutine also takes timeout=), blocking 30.
# - publish_timeout (asyncio only): seconds a plain publish waits for room, then PublishTimeout
#   (0: WouldBlock at once); default 5 (DEFAULT_PUBLISH_TIMEOUT).
# - blocked_connection_timeout (blocking only, pika's): seconds a publish waits while the broker
#   blocks the connection, then ConnectionBlockedTimeout; None (default): rpc_timeout.
# An option an API does not take is NOT_TAKEN there: passing it is a TypeError (unsupported).
# ---------------------------------------------------------------------------------------------
class _NotTaken:
    def __repr__(self) -> str:
        return "NOT_TAKEN"


NOT_TAKEN: Any = _NotTaken()
ASYNCIO, BLOCKING = 0, 1  # the index of each API's default in BINDING_OPTIONS
#: keyword: (the asyncio API's default, the blocking API's default)
BINDING_OPTIONS: Dict[str, Tuple[Any, Any]] = {
    "rpc_timeout": (DEFAULT_RPC_TIMEOUT, 30.0),
    "publish_timeout": (DEFAULT_PUBLISH_TIMEOUT, NOT_TAKEN),
    "blocked_connection_timeout": (NOT_TAKEN, None),
}


def c_string(value: Any, what: str) -> bytes:
    """`value` (a str) as UTF-8 bytes for a C string field."""
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    raw = value.encode("utf-8")
    if b"\0" in raw:
        raise ValueError("%s must not contain NUL characters" % what)
    return raw


def check_port(port: Any) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= 0xFFFF:
        raise ValueError("port must be an int in 1..65535")
    return port


def endpoint(value: Any) -> Tuple[str, int]:
    """(host, port) from a (host, port) pair or a "host:port" / "[v6]:port" / "host" string."""
    if isinstance(value, str):
        if value.startswith("["):  # [IPv6]:port
            host, _, rest = value[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else (rest or "5672")
        else:
            host, sep, port = value.partition(":")
            port = port if sep else "5672"
        try:
            port = int(port)  # type: ignore[assignment]
        except ValueError:
            raise ValueError("bad endpoint %r: expected host:port" % (value,)) from None
    else:
        host, port = value
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= 0xFFFF:
        raise ValueError("bad endpoint port in %r" % (value,))
    return host, port


def parse_url(opts: Any, url: str) -> None:
    """Parses `url` (one AMQP URL, or several separated by commas or spaces) into `opts` with the
    library's parser. The strings it sets point into storage of the library valid until the next
    parse on this thread: copy what is shown, and create the connection before anything else
    can parse."""
    err = _ffi.swamqp_error()
    lib = _ffi.lib
    parse = lib.swamqp_parse_url_list if (" " in url or "," in url) else lib.swamqp_parse_url
    rc = parse(c_string(url, "url"), ctypes.byref(opts), ctypes.byref(err))
    if rc:
        info = ErrorInfo.take(err, rc)
        # The URL itself is not repeated: it may carry a password.
        raise ValueError(info.message or "invalid AMQP URL (%s)" % _ffi.status_name(rc))


def set_address(opts: Any, keep: List[Any], **given: Any) -> None:
    """Writes the address and login `given` (keywords of ADDRESS) into `opts`, in ADDRESS's
    order; what they point into is appended to `keep`. A None given is refused as any other
    non-str (for port: non-int). The two APIs differ on purpose: the asyncio connect() has
    defaults for all five in its signature ('localhost', 5672, '/', 'guest', 'guest') and always
    gives them; blocking.connect() gives only those that are not None, so a None leaves the URL's
    part, or else swamqp_connection_options_init's (the same values)."""
    unknown = set(given) - set(ADDRESS)
    if unknown:
        raise TypeError("set_address() got unknown keywords: %s" % ", ".join(sorted(unknown)))
    for keyword, field in ADDRESS.items():
        if keyword not in given:
            continue
        if keyword == "port":
            opts.port = check_port(given[keyword])
        else:
            setattr(opts, field, _kept(c_string(given[keyword], keyword), keep))


def _kept(raw: bytes, keep: List[Any]) -> bytes:
    keep.append(raw)
    return raw


def apply_options(opts: Any, kwargs: Dict[str, Any], keep: List[Any]) -> Optional[str]:
    """Checks the keyword options of `kwargs` (with ``ssl`` already merged into ``tls_*``, see
    swiftamqp.tls) and writes them into `opts`; what the struct points into is appended to
    `keep`, which must live until swamqp_connect / swamqp_connection_create returned. Returns
    the connection_name (or None)."""
    unknown = set(kwargs) - OPTIONS
    if unknown:
        raise TypeError("connect() got unsupported keyword arguments: %s" % ", ".join(sorted(unknown)))
    for name, (field, scale, maximum) in INT_OPTIONS.items():
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
        if mechanism not in AUTH_MECHANISMS:
            raise ValueError("auth_mechanism must be 'PLAIN', 'AMQPLAIN', 'EXTERNAL' or None "
                             "(automatic), not %r" % (kwargs["auth_mechanism"],))
        opts.auth_mechanism = AUTH_MECHANISMS[mechanism]
    for field in FLAGS:
        if kwargs.get(field) is not None:
            setattr(opts, field, bool(kwargs[field]))
    for field in TLS_STRINGS:
        if kwargs.get(field) is not None:
            setattr(opts, field, _kept(c_string(kwargs[field], field), keep))
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
        hosts = (_ffi.swamqp_endpoint * len(endpoints))()
        for i, value in enumerate(endpoints):
            host, port = endpoint(value)
            hosts[i].host = _kept(c_string(host, "endpoint host"), keep)
            hosts[i].port = port
        keep.append(hosts)
        opts.endpoints = ctypes.addressof(hosts)
        opts.endpoint_count = len(endpoints)
    connection_name: Optional[str] = kwargs.get("connection_name")
    if connection_name is not None:
        opts.connection_name = _kept(c_string(connection_name, "connection_name"), keep)
    return connection_name
