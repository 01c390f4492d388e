"""swiftamqp.blocking's per-thread state: Ctrl-C deferred while the main thread is inside the
dispatcher, the depth of callbacks running on a thread, the thread's reused swamqp_error."""

from __future__ import annotations

import signal
import threading
from typing import Any, Tuple

from .. import _ffi
from ._native import _byref

_MAIN_THREAD = threading.main_thread().ident


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


def _thread_error() -> Tuple[Any, Any]:
    """A swamqp_error (and a pointer to it) reused by the calling thread."""
    pair = getattr(_tls, "error", None)
    if pair is None:
        err = _ffi.swamqp_error()
        pair = _tls.error = (err, _byref(err))
    return pair
