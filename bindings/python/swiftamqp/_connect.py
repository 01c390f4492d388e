"""What :func:`~swiftamqp.connect` and :func:`~swiftamqp.connect_url` do before a Connection
exists: their keyword options checked and written into a ``swamqp_connection_options`` (the URL
parsed by the library; the options' table, shared with swiftamqp.blocking, is in
:mod:`swiftamqp._options`), the options the binding keeps for itself (``publish_timeout``,
``rpc_timeout``), and :class:`_Connecting`, the awaitable (and async context manager) they
return. :mod:`swiftamqp.connection` then creates the handle and opens the Connection."""

from __future__ import annotations

import asyncio
import ctypes
from typing import TYPE_CHECKING, Any, Callable, Dict, Generator, List, Optional, Tuple

from . import _ffi
from ._options import apply_options, parse_url, set_address
from ._timeouts import check_timeout
from .tls import merge_ssl

if TYPE_CHECKING:  # pragma: no cover
    import socket

    from .connection import Connection

#: (event loop, swamqp_connection_options, what they point into, keyword arguments of
#: connection._create_and_open)
_Arguments = Tuple[asyncio.AbstractEventLoop, Any, List[Any], Dict[str, Any]]


def _python_options(kwargs: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(kwargs without the options the binding handles itself, those options). Their defaults,
    beside the blocking API's, are in _options.BINDING_OPTIONS; Connection applies them."""
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


def _get_loop(loop: Optional[asyncio.AbstractEventLoop]) -> asyncio.AbstractEventLoop:
    running = asyncio.get_running_loop()
    if loop is not None and loop is not running:
        raise ValueError("loop must be the running event loop")
    return running


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
    keep: List[Any] = []
    set_address(opts, keep, host=host, port=port, virtual_host=virtual_host, username=username,
                password=password)
    name = apply_options(opts, merge_ssl(kwargs), keep)
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
    if isinstance(url, (list, tuple)):
        url = " ".join(url)
    parse_url(opts, url.strip())
    # The strings point into storage of the library valid until the next parse on this thread:
    # copy what is shown, and create the connection before anything else can parse.
    host = (opts.host or b"").decode("utf-8", "replace")
    vhost = (opts.vhost or b"").decode("utf-8", "replace")
    user = (opts.user or b"").decode("utf-8", "replace")
    port = opts.port
    keep: List[Any] = []
    name = apply_options(opts, merge_ssl(kwargs), keep)
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
