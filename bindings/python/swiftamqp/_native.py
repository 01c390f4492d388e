"""The native side of an asyncio connection: its handle and the loop reader on its event fd
(:class:`_Native`, freed by a finalizer when the Connection is collected unclosed), and the
per-loop guard that closes the connections still open when their event loop shuts down."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, AsyncGenerator, Callable, Optional

from . import _ffi
from .exceptions import ConnectionLostError

if TYPE_CHECKING:  # pragma: no cover
    from .connection import Connection

log = logging.getLogger("swiftamqp")

_LOOP_END_CLOSE_WAIT = 5.0  # seconds the loop-end guard waits for connections to close


class _Native:
    """The native resources of a connection: the handle and the loop reader on its event fd.

    Kept apart from Connection so that a weakref.finalize can release them after the Connection
    was collected without close(): the reader is removed first (on the loop's thread), then the
    handle is freed (which closes the connection, stops the I/O thread and closes the fd).
    """

    __slots__ = ("handle", "handle_arg", "fd", "loop", "thread_id", "reader", "__weakref__")

    def __init__(self, handle: int, loop: asyncio.AbstractEventLoop) -> None:
        self.handle: Optional[int] = handle
        # the handle as unchecked functions take it
        self.handle_arg: Optional[ctypes.c_void_p] = ctypes.c_void_p(handle)
        self.loop = loop
        self.thread_id = threading.get_ident()
        self.fd = -1
        self.reader = False

    def add_reader(self, callback: Callable[..., Any], *args: Any) -> None:
        fd = _ffi.lib.swamqp_connection_event_fd(self.handle)
        if fd < 0:
            raise ConnectionLostError("swamqp_connection_event_fd returned %d" % fd)
        self.fd = fd
        self.loop.add_reader(fd, callback, *args)
        self.reader = True

    def remove_reader(self) -> None:
        if not self.reader:
            return
        self.reader = False
        loop = self.loop
        if loop.is_closed():
            return  # closing the loop closed its selector and every registration
        try:
            loop.remove_reader(self.fd)
        except Exception:  # pragma: no cover - loop torn down concurrently
            log.debug("remove_reader(%d) failed", self.fd, exc_info=True)

    def release(self) -> None:
        """Removes the reader, then frees the handle. Idempotent."""
        loop = self.loop
        if (self.reader and threading.get_ident() != self.thread_id
                and not loop.is_closed() and loop.is_running()):
            # Collected on another thread: selector changes belong to the loop's thread.
            try:
                loop.call_soon_threadsafe(self.release)
                return
            except RuntimeError:
                pass
        self.remove_reader()
        handle, self.handle = self.handle, None
        self.handle_arg = None
        if handle is not None:
            _ffi.lib.swamqp_connection_free(handle)


def _drain_callback(ref: "weakref.ref[Connection]") -> None:
    conn = ref()
    if conn is not None:
        conn._drain()


# ----------------------------------------------------------------------------------------
# Closing what is left open when the event loop ends
# ----------------------------------------------------------------------------------------
class _LoopGuard:
    """Per event loop: the open connections, and an async generator the loop closes at shutdown.

    ``loop.shutdown_asyncgens()`` (called by ``asyncio.run``) runs ``aclose()`` on every async
    generator started in the loop, while the loop still runs: the generator's ``finally`` then
    closes the connections left open, with the close handshake.
    """

    __slots__ = ("connections", "agen", "__weakref__")

    def __init__(self) -> None:
        self.connections: "weakref.WeakSet[Connection]" = weakref.WeakSet()
        self.agen: Optional[AsyncGenerator[None, None]] = None


async def _loop_guard_body(guard_ref: "weakref.ref[_LoopGuard]") -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        guard = guard_ref()
        connections = [c for c in list(guard.connections) if not c.closed.done()] if guard else []
        if connections:
            log.info("event loop shutting down: closing %d connection(s) left open", len(connections))
            tasks = [asyncio.ensure_future(c.close()) for c in connections]
            done, pending = await asyncio.wait(tasks, timeout=_LOOP_END_CLOSE_WAIT)
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.debug("close at loop end failed: %r", task.exception())
            for c in connections:
                c._release()


_guards: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopGuard]" = \
    weakref.WeakKeyDictionary()  # loop -> _LoopGuard


async def _watch_loop_end(loop: asyncio.AbstractEventLoop, connection: Connection) -> None:
    guard = _guards.get(loop)
    if guard is None:
        guard = _LoopGuard()
        agen = _loop_guard_body(weakref.ref(guard))
        await agen.asend(None)  # started inside the loop: the loop now tracks it
        guard.agen = agen
        _guards[loop] = guard
    guard.connections.add(connection)
