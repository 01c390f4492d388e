"""Events of an asyncio connection: the pump that :meth:`Connection._drain` runs when the
event fd is readable, and what each event does to the connection and its channels.

The library queues events and makes its event fd readable; the loop calls ``_drain``, which
takes them in batches of up to 256 with one ``swamqp_next_events`` call. Deliveries, confirms and
completions (the hot path) are handled inline in :meth:`_EventPump._drain_batches`; every other
event type goes through ``_HANDLERS``, a table from event type to the method that handles it.
Mixed into :class:`~swiftamqp.connection.Connection`.
"""

from __future__ import annotations

import asyncio
import ctypes
import inspect
import logging
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from . import _ffi
from ._errors import ErrorInfo, make_exception
from ._reader import DELIVERY_RECORD, EVENT_CONFIRM, EVENT_HEAD, EVENT_SIZE
from ._table import read_bytes
from .exceptions import ChannelClosed, ConnectionClosed, ConnectionLostError
from .message import IncomingMessage

if TYPE_CHECKING:  # pragma: no cover
    from ._native import _Native
    from ._requests import _Pending
    from .channel import Channel
    from .queue import Queue

log = logging.getLogger("swiftamqp")

_BATCH = 256          # events per swamqp_next_events call
_PACK_BYTES = 1 << 18  # deliveries of a batch copied at once (swamqp_deliveries_pack); the rest one by one
_MAX_BATCHES = 64     # per readiness callback, so a flood cannot starve the loop (the fd stays readable)

_LOG_LEVELS = {
    _ffi.SWAMQP_LOG_ERROR: logging.ERROR,
    _ffi.SWAMQP_LOG_WARNING: logging.WARNING,
    _ffi.SWAMQP_LOG_INFO: logging.INFO,
    _ffi.SWAMQP_LOG_DEBUG: logging.DEBUG,
}

# Connection states
_OPENING, _OPEN, _CLOSING, _CLOSED = "opening", "open", "closing", "closed"


def _text(b: Any) -> str:
    return read_bytes(b).decode("utf-8", "replace")


class _EventPump:
    """The event side of a Connection (the attributes are set by ``Connection.__init__``;
    ``_on_completion`` is the request side's, see :mod:`swiftamqp._requests`)."""

    _loop: asyncio.AbstractEventLoop
    _native: _Native
    _state: str
    _pending: Dict[int, _Pending]
    _channels: Dict[int, Channel]
    _late_routes: Dict[int, Any]
    _server_named: Dict[str, "weakref.WeakSet[Queue]"]
    _room_waiters: List[asyncio.Future]
    _draining: bool
    _blocked: bool
    _recovering: bool
    _on_connection_close: Optional[Callable[..., Any]]
    _on_blocked: Optional[Callable[[str], Any]]
    _on_unblocked: Optional[Callable[[], Any]]
    _on_recovery_started: Optional[Callable[[BaseException], Any]]
    _on_recovered: Optional[Callable[[int], Any]]
    closed: asyncio.Future
    # the reused batch buffers (see Connection.__init__)
    _events: Any
    _events_view: memoryview
    _pack: Any
    _packed_ref: ctypes.c_size_t
    _pack_written_ref: ctypes.c_size_t
    _count: ctypes.c_size_t
    _count_ref: Any

    if TYPE_CHECKING:  # pragma: no cover - Connection's and the _Requests mixin's
        def _on_completion(self, ev: _ffi.swamqp_event) -> None: ...
        def _wake_publishers(self) -> None: ...
        def _spawn(self, awaitable: Any) -> asyncio.Future: ...
        def _release(self) -> None: ...

    # ------------------------------------------------------------------------------------
    # The pump
    # ------------------------------------------------------------------------------------
    def _drain(self) -> None:
        if self._draining:  # never re-entered: the batch being dispatched would be released
            return
        self._draining = True
        try:
            self._drain_batches()
        finally:
            self._draining = False

    def _drain_batches(self) -> None:
        next_events = _ffi.lib.swamqp_next_events
        events = self._events
        view = self._events_view
        head = EVENT_HEAD.unpack_from
        count = self._count
        native = self._native
        channels = self._channels
        delivery = _ffi.SWAMQP_EVENT_DELIVERY
        completion = _ffi.SWAMQP_EVENT_COMPLETION
        confirm_ack, confirm_nack = _ffi.SWAMQP_EVENT_CONFIRM_ACK, _ffi.SWAMQP_EVENT_CONFIRM_NACK
        confirm_fields = EVENT_CONFIRM.unpack_from
        pack = _ffi.lib.swamqp_deliveries_pack
        pack_buffer = self._pack
        packed_ref, written_ref = self._packed_ref, self._pack_written_ref
        record_at = DELIVERY_RECORD.unpack_from
        string_at = ctypes._string_at  # type: ignore[attr-defined] # the C function behind string_at
        for _ in range(_MAX_BATCHES):
            handle = native.handle
            if handle is None:
                return
            rc = next_events(handle, events, _BATCH, self._count_ref, 0)
            if rc:
                if rc == _ffi.SWAMQP_ERR_CONNECTION_CLOSED:
                    native.remove_reader()  # nothing more will come
                else:
                    log.error("swamqp_next_events failed: %s", _ffi.status_name(rc))
                    if rc == _ffi.SWAMQP_ERR_INVALID_HANDLE:
                        native.remove_reader()
                return
            n = count.value
            if n == 0:
                return
            # The batch's deliveries in one buffer, read with one call (the rest: one by one).
            packed = 0
            if pack(events, n, pack_buffer, _PACK_BYTES, packed_ref, written_ref, None) == 0:
                packed = packed_ref.value
                blob = string_at(pack_buffer, written_ref.value)
                offset = 0
            for i in range(n):
                kind, number, message = head(view, i * EVENT_SIZE)
                try:
                    if kind == delivery:
                        # the hot path: no ctypes object for the event
                        channel = channels.get(number)
                        if i < packed:
                            record = record_at(blob, offset)
                            start = offset + 56
                            offset += record[0]
                            if channel is not None:
                                channel._on_packed_delivery(record, blob, start, message)
                            else:
                                log.debug("delivery on unknown channel %d dropped", number)
                        elif channel is not None:
                            channel._on_delivery(message)
                        else:
                            log.debug("delivery on unknown channel %d dropped", number)
                    elif kind == confirm_ack or kind == confirm_nack:
                        channel = channels.get(number)
                        if channel is not None:
                            status, flags, tag = confirm_fields(view, i * EVENT_SIZE)
                            channel._on_confirm(tag, flags, status, kind == confirm_ack,
                                                events[i].error if status else None)
                        if self._room_waiters:
                            self._wake_publishers()
                    elif kind == completion:
                        self._on_completion(events[i])
                    else:
                        self._dispatch(events[i], kind)
                except Exception as exc:  # a bug here must not stop the other events
                    self._loop.call_exception_handler({
                        "message": "swiftamqp: error while dispatching event type %d" % kind,
                        "exception": exc,
                        "connection": self,
                    })
            if n < _BATCH:
                return

    # ------------------------------------------------------------------------------------
    # The other event types (through _HANDLERS)
    # ------------------------------------------------------------------------------------
    def _dispatch(self, ev: _ffi.swamqp_event, kind: int) -> None:
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, ev)
        else:
            # RAW_FRAME (raw channels are not offered by this binding) and future event types.
            log.debug("unhandled event type %d on channel %d", kind, ev.channel)

    def _on_log(self, ev: _ffi.swamqp_event) -> None:
        level = _LOG_LEVELS.get(ev.log_level, logging.INFO)
        if log.isEnabledFor(level):
            log.log(level, "%s", _text(ev.name))

    def _on_consumer_cancelled(self, ev: _ffi.swamqp_event) -> None:
        channel = self._channels.get(ev.channel)
        if channel is not None:
            channel._on_consumer_cancelled(read_bytes(ev.name))

    def _on_blocked_event(self, ev: _ffi.swamqp_event) -> None:
        self._blocked = True
        reason = _text(ev.name)
        log.debug("BLOCKED event: %s", reason)  # the library logs it too
        if self._on_blocked is not None:
            self._call_handler(self._on_blocked, reason)

    def _on_unblocked_event(self, ev: _ffi.swamqp_event) -> None:
        self._blocked = False
        log.debug("UNBLOCKED event")
        self._wake_publishers()
        if self._on_unblocked is not None:
            self._call_handler(self._on_unblocked)

    def _on_flow(self, ev: _ffi.swamqp_event) -> None:
        channel = self._channels.get(ev.channel)
        active = bool(ev.flags & _ffi.SWAMQP_EVENT_FLAG_ACTIVE)
        log.info("channel %d flow %s by the broker", ev.channel, "resumed" if active else "stopped")
        if channel is not None:
            channel._flow_active = active
        if active:
            self._wake_publishers()

    def _on_recovery_started_event(self, ev: _ffi.swamqp_event) -> None:
        self._recovering = True
        exc = make_exception(ErrorInfo.from_pointer(ev.error, _ffi.SWAMQP_ERR_CONNECTION_LOST),
                             connection_level=True)
        log.debug("RECOVERY_STARTED event: %s", exc)  # the library logs it too
        if self._on_recovery_started is not None:
            self._call_handler(self._on_recovery_started, exc)

    def _on_recovery_entity_failed(self, ev: _ffi.swamqp_event) -> None:
        info = ErrorInfo.from_pointer(ev.error, 0)
        log.debug("RECOVERY_ENTITY_FAILED event: %s: %s", _text(ev.name),
                  info.message or _ffi.status_name(info.status))

    def _on_recovered_event(self, ev: _ffi.swamqp_event) -> None:
        self._recovering = False
        log.debug("RECOVERED event (%d entities not restored)", ev.message_count)
        self._wake_publishers()
        if self._on_recovered is not None:
            self._call_handler(self._on_recovered, ev.message_count)

    def _on_queue_renamed_event(self, ev: _ffi.swamqp_event) -> None:
        self._on_queue_renamed(read_bytes(ev.payload).decode("utf-8", "surrogateescape"),
                               read_bytes(ev.name).decode("utf-8", "surrogateescape"))

    def _on_recovery_failed(self, ev: _ffi.swamqp_event) -> None:
        info = ErrorInfo.from_pointer(ev.error, 0)
        log.debug("RECOVERY_FAILED event: %s", info.message or _ffi.status_name(info.status))

    def _on_return(self, ev: _ffi.swamqp_event) -> None:
        channel = self._channels.get(ev.channel)
        if channel is None or not ev.message:
            log.debug("basic.return on unknown channel %d dropped", ev.channel)
            return
        msg = IncomingMessage._from_address(ev.message, channel, None, returned=True)
        channel._on_return(msg, ev.delivery_tag)

    def _on_channel_closed(self, ev: _ffi.swamqp_event) -> None:
        channel = self._channels.get(ev.channel)
        if channel is None or channel._generation != ev.request_id:
            # An earlier channel with this number (retired when its close completed, or one whose
            # open was abandoned): the event must not touch the current one.
            return
        info = ErrorInfo.from_pointer(ev.error, _ffi.SWAMQP_ERR_CHANNEL_CLOSED) if ev.error else None
        if info is None or info.origin == _ffi.SWAMQP_ORIGIN_NONE:
            exc = ChannelClosed("Channel %d closed" % ev.channel)
        else:
            exc = make_exception(info)
        self._channel_over(ev.channel, exc)

    def _on_late_message(self, ev: _ffi.swamqp_event) -> None:
        """A no-ack message of a get or consume that was abandoned after the broker sent it: it
        waits for the next no-ack get on its Queue (see Queue.get)."""
        queue = self._late_routes.get(ev.request_id)
        channel = self._channels.get(ev.channel)
        if queue is None or channel is None or not ev.message:
            log.warning("a late no-ack message on channel %d (request %d) has nobody to take it",
                        ev.channel, ev.request_id)
            return
        queue._unclaimed.append(IncomingMessage._from_address(ev.message, channel, None))

    def _on_connection_closed(self, ev: _ffi.swamqp_event) -> None:
        info = ErrorInfo.from_pointer(ev.error, _ffi.SWAMQP_ERR_CONNECTION_CLOSED) if ev.error else None
        by_us = self._state == _CLOSING
        if self._state == _OPENING and info is not None and info.status not in (
                _ffi.SWAMQP_OK, _ffi.SWAMQP_ERR_CONNECTION_CLOSED, _ffi.SWAMQP_ERR_CLOSED_BY_APPLICATION):
            # The handshake failed: the open request's error is the most useful one.
            exc = make_exception(info, connection_level=True)
        elif info is not None and info.from_broker:
            exc = make_exception(info, connection_level=True)
            if not isinstance(exc, ConnectionClosed):
                exc = ConnectionClosed(info.message, info.reply_code)
        elif info is None or info.origin == _ffi.SWAMQP_ORIGIN_NONE or info.status in (
                _ffi.SWAMQP_OK, _ffi.SWAMQP_ERR_CONNECTION_CLOSED, _ffi.SWAMQP_ERR_CLOSED_BY_APPLICATION):
            exc = ConnectionClosed("Closed by application" if by_us else
                                   (info.message if info and info.message else "Connection closed"))
        else:
            exc = make_exception(info, connection_level=True)
            if not isinstance(exc, (ConnectionClosed, ConnectionLostError)):
                lost = ConnectionLostError("The connection was lost: %s" % exc)
                lost.original_exc = exc
                for attr in ("status", "status_name", "origin", "class_id", "method_id"):
                    setattr(lost, attr, getattr(exc, attr))
                exc = lost
        self._connection_over(exc, notify=True, by_us=by_us)
        self._native.remove_reader()
        # Free the handle once this batch is done (its pointers are still being read).
        self._loop.call_soon(self._release_if_closed)

    # ------------------------------------------------------------------------------------
    # Server-named queues, application callbacks, the end of channels and of the connection
    # ------------------------------------------------------------------------------------
    def _track_server_named(self, queue: Queue) -> None:
        self._server_named.setdefault(queue.name, weakref.WeakSet()).add(queue)

    def _on_queue_renamed(self, old: str, new: str) -> None:
        """Recovery re-declared the server-named queue `old` as `new`: its Queue objects follow."""
        queues = self._server_named.pop(old, None)
        if not queues:
            return
        for queue in list(queues):
            queue._renamed(new)
        self._server_named.setdefault(new, weakref.WeakSet()).update(queues)

    def _call_handler(self, fn: Callable[..., Any], *args: Any) -> None:
        """Runs an application callback now; its exception goes to the loop's exception handler
        and a returned awaitable is scheduled as a task."""
        try:
            result = fn(*args)
            if inspect.isawaitable(result):
                self._spawn(result)
        except Exception as exc:
            self._loop.call_exception_handler({
                "message": "Exception in swiftamqp callback %r" % (fn,),
                "exception": exc,
                "connection": self,
            })

    def _channel_over(self, number: int, exc: BaseException) -> None:
        """Retires channel `number`: marks it closed and fails its pending requests with `exc`.
        A CHANNEL_CLOSED event for it that is still to come finds another generation (or none)
        under its number and is ignored."""
        channel = self._channels.pop(number, None)
        if channel is None:
            return
        for rid, pending in list(self._pending.items()):
            if pending.channel == number:
                del self._pending[rid]
                if not pending.future.done():
                    pending.future.set_exception(exc)
        channel._set_closed(exc)
        self._wake_publishers()

    def _release_if_closed(self) -> None:
        if self.closed.done():
            self._release()

    def _connection_over(self, exc: BaseException, *, notify: bool, by_us: bool = False) -> None:
        if self._state != _CLOSING:  # close() finishes the job itself
            self._state = _CLOSED
        if not self.closed.done():
            self.closed.set_exception(exc)
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(exc)
        for number in list(self._channels):
            channel = self._channels.pop(number)
            channel._set_closed(exc)
        self._wake_publishers()
        callback = self._on_connection_close
        if notify and callback is not None:
            self._loop.call_soon(self._call_handler, callback, None if by_us else exc)


#: What _dispatch does per event type (DELIVERY, CONFIRM_ACK/NACK and COMPLETION never get
#: there: _drain_batches handles them inline).
_HANDLERS: Dict[int, Callable[[_EventPump, _ffi.swamqp_event], None]] = {
    _ffi.SWAMQP_EVENT_LOG: _EventPump._on_log,
    _ffi.SWAMQP_EVENT_RETURN: _EventPump._on_return,
    _ffi.SWAMQP_EVENT_CHANNEL_CLOSED: _EventPump._on_channel_closed,
    _ffi.SWAMQP_EVENT_CONNECTION_CLOSED: _EventPump._on_connection_closed,
    _ffi.SWAMQP_EVENT_CONSUMER_CANCELLED: _EventPump._on_consumer_cancelled,
    _ffi.SWAMQP_EVENT_BLOCKED: _EventPump._on_blocked_event,
    _ffi.SWAMQP_EVENT_UNBLOCKED: _EventPump._on_unblocked_event,
    _ffi.SWAMQP_EVENT_FLOW: _EventPump._on_flow,
    _ffi.SWAMQP_EVENT_RECOVERY_STARTED: _EventPump._on_recovery_started_event,
    _ffi.SWAMQP_EVENT_RECOVERY_ENTITY_FAILED: _EventPump._on_recovery_entity_failed,
    _ffi.SWAMQP_EVENT_RECOVERED: _EventPump._on_recovered_event,
    _ffi.SWAMQP_EVENT_QUEUE_RENAMED: _EventPump._on_queue_renamed_event,
    _ffi.SWAMQP_EVENT_RECOVERY_FAILED: _EventPump._on_recovery_failed,
    _ffi.SWAMQP_EVENT_LATE_GET_MESSAGE: _EventPump._on_late_message,
}
