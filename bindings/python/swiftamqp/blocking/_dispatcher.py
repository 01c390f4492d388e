"""swiftamqp.blocking's dispatcher, mixed into BlockingConnection: the leader/follower drain of
the connection's one event queue (see the package's docs), the routing of what a batch holds,
and the running of the callbacks that are due on a thread that may run them."""

from __future__ import annotations

import heapq
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Optional, Tuple

from .. import _ffi
from .._errors import ErrorInfo
from .._reader import EVENT_HEAD, EVENT_SIZE, text
from .._table import read_bytes
from ._exceptions import ConnectionClosedByClient, ConnectionWrongStateError
from ._items import (_K_BLOCKED, _K_CANCELLED, _K_CHANNEL_CLOSED, _K_CONFIRM, _K_CONNECTION_CLOSED,
                     _K_DELIVERY, _K_GONE, _K_LATE_GET, _K_RECOVERED, _K_RECOVERY_STARTED, _K_RETURN,
                     _K_UNBLOCKED)
from ._native import _lib
from ._properties import (_F_BODY, _F_BODY_LEN, _F_CTAG, _F_CTAG_LEN, _F_DELIVERY_TAG, _F_EXCHANGE,
                          _F_EXCHANGE_LEN, _F_REDELIVERED, _F_RKEY, _F_RKEY_LEN, _PACK_BYTES, _bytes_at,
                          _fields_at, _new, _properties_from, _reader_texts, _record_at, _returned_from,
                          _string_at_raw)
from ._spec import Basic, BasicProperties, Method, _ConnectionMethods
from ._threads import _dispatch_depth, _Sigint, _sigint_check, _sigint_enter, _sigint_exit, _SigintDefault, _tls

if TYPE_CHECKING:  # pragma: no cover
    from ._channel import BlockingChannel
    from ._native import _Native

log = logging.getLogger("swiftamqp")

_SLICE = 0.1              # seconds: the longest a thread waits without looking around
_BATCH = 256              # events per drain
_CLOSE_TIMEOUT = 5.0
_HOUSEKEEPING = 1024      # plain publishes between opportunistic drains

_LOG_LEVELS = {
    _ffi.SWAMQP_LOG_ERROR: logging.ERROR,
    _ffi.SWAMQP_LOG_WARNING: logging.WARNING,
    _ffi.SWAMQP_LOG_INFO: logging.INFO,
    _ffi.SWAMQP_LOG_DEBUG: logging.DEBUG,
}


class _Dispatcher:
    """The dispatcher of a BlockingConnection (its attributes are set by
    ``BlockingConnection._setup``; ``_map_error`` is the connection's)."""

    _native: _Native
    _lock: threading.Lock
    _cond: threading.Condition
    _leading: bool
    _wake_armed: bool
    _pass_started: int
    _last_empty_pass: int
    _channels: Dict[int, BlockingChannel]
    _closed_exc: Optional[BaseException]
    _closing: bool
    _recovering: bool
    _recovered_count: int
    _blocked: bool
    _conn_pending: Deque[Tuple[Callable[..., Any], Tuple[Any, ...]]]
    _conn_dispatching: bool
    _timers: List[Tuple[float, int, Callable[[], Any]]]
    _cancelled_timers: set
    _blocked_callbacks: List[Callable[..., Any]]
    _unblocked_callbacks: List[Callable[..., Any]]
    _events: Any
    _events_view: memoryview
    _pack: Any
    _packed_ref: Any
    _pack_written_ref: Any
    _count: Any
    _count_ref: Any
    _poller: Any

    if TYPE_CHECKING:  # pragma: no cover - BlockingConnection's
        def _map_error(self, info: ErrorInfo, channel: Optional[BlockingChannel], *,
                       record: bool = True) -> BaseException: ...

    # ----------------------------------------------------------------------------------------
    # The dispatcher
    # ----------------------------------------------------------------------------------------
    def _changed(self) -> None:
        """Under _lock: something a waiting thread may be waiting for changed."""
        self._cond.notify_all()
        if self._leading and not self._wake_armed:
            self._wake_armed = True
            try:
                os.write(self._native.wake_w, b"x")
            except OSError:
                pass

    def _wait(self, ready: Callable[[], bool], deadline: Optional[float], *, fresh: bool = False,
              timers: bool = False) -> bool:
        """Waits until ``ready()`` (evaluated under _lock) or `deadline` (monotonic; None: no
        limit), draining events meanwhile as the leader or waiting as a follower. With `fresh`
        it also returns (False) once a drain that started after the call emptied the event
        queue. `timers`: the caller runs timers, so it wakes when one is due. Returns ready()."""
        entered = _sigint_enter()
        try:
            return self._wait_loop(ready, deadline, fresh, timers)
        finally:
            if entered:
                _sigint_exit()

    def _wait_loop(self, ready: Callable[[], bool], deadline: Optional[float], fresh: bool,
                   timers: bool) -> bool:
        cond = self._cond
        mark = -1
        while True:
            lead = False
            number = 0
            with cond:
                if fresh and mark < 0:
                    mark = self._pass_started
                    if self._leading:
                        self._changed()  # wake the leader: a drain must start after now
                while True:
                    if ready():
                        return True
                    if fresh and self._last_empty_pass > mark:
                        return False
                    if self._native.handle is None:
                        return False
                    now = time.monotonic()
                    if deadline is not None and now >= deadline:
                        return False
                    if _Sigint.pending and _Sigint.installed:
                        break
                    if not self._leading:
                        self._leading = True
                        self._pass_started += 1
                        number = self._pass_started
                        lead = True
                        break
                    timeout = _SLICE if deadline is None else min(_SLICE, deadline - now)
                    if timers and self._timers:
                        timeout = min(timeout, self._timers[0][0] - now)
                    cond.wait(max(0.0, timeout))
            if not lead:
                _sigint_check()
                continue
            try:
                now = time.monotonic()
                if fresh:
                    timeout = 0.0
                else:
                    timeout = _SLICE if deadline is None else min(_SLICE, deadline - now)
                    if timers and self._timers:
                        timeout = min(timeout, self._timers[0][0] - now)
                items, empty = self._pass(max(0.0, timeout))
            except BaseException:
                with cond:
                    self._leading = False
                    cond.notify_all()
                raise
            with cond:
                try:
                    if items:
                        self._route(items)
                finally:
                    if empty:
                        self._last_empty_pass = number
                    self._leading = False
                    self._wake_armed = False
                    cond.notify_all()
            _sigint_check()

    def _flush(self, deadline: Optional[float]) -> None:
        """Routes every event the library queued before this call (or until `deadline`)."""
        self._wait(lambda: False, deadline, fresh=True)

    def _housekeeping(self) -> None:
        """A non-blocking drain when nobody drains: a publish-only program still empties the
        event queue (returns, closes, log records), so the library never stops reading."""
        with self._lock:
            if self._leading or self._native.handle is None:
                return
        self._flush(time.monotonic() + _SLICE)

    def _pass(self, timeout: float) -> Tuple[List[Tuple[Any, ...]], bool]:
        """One drain (leader only): up to _BATCH events, waiting up to `timeout` seconds for the
        first. Returns (items, whether the queue was drained empty)."""
        handle = self._native.handle
        if handle is None:
            return [], True
        count = self._count
        rc = _lib.swamqp_next_events(handle, self._events, _BATCH, self._count_ref, 0)
        n = count.value if rc == 0 else 0
        if rc == 0 and n == 0 and timeout > 0:
            ready = self._poller.poll(int(timeout * 1000.0 + 0.999))
            wake = self._native.wake_r
            for fd, _ in ready:
                if fd == wake:
                    try:
                        os.read(wake, 512)
                    except OSError:
                        pass
            rc = _lib.swamqp_next_events(handle, self._events, _BATCH, self._count_ref, 0)
            n = count.value if rc == 0 else 0
        if rc:
            if rc in (_ffi.SWAMQP_ERR_CONNECTION_CLOSED, _ffi.SWAMQP_ERR_INVALID_HANDLE,
                      _ffi.SWAMQP_ERR_FORKED):
                return [(_K_GONE, rc)], True
            log.error("swamqp_next_events failed: %s", _ffi.status_name(rc))
            return [], True
        if not n:
            return [], True
        return self._convert(n), n < _BATCH

    def _convert(self, n: int) -> List[Tuple[Any, ...]]:
        """Copies `n` events of the batch into Python objects (the batch is released by the
        next drain)."""
        items: List[Tuple[Any, ...]] = []
        append = items.append
        view = self._events_view
        head = EVENT_HEAD.unpack_from
        events = self._events
        # the hot path (deliveries), with everything it uses in locals
        delivery = _ffi.SWAMQP_EVENT_DELIVERY
        fields_at = _fields_at
        texts = _reader_texts
        decode = text
        deliver = Basic.Deliver
        new = _new
        props_cls = BasicProperties
        props_from = _properties_from
        # The batch's deliveries in one buffer, read with one call (any rest: one by one).
        packed = 0
        if _lib.swamqp_deliveries_pack(events, n, self._pack, _PACK_BYTES, self._packed_ref,
                                       self._pack_written_ref, None) == 0:
            packed = self._packed_ref.value
            blob = _string_at_raw(self._pack, self._pack_written_ref.value)
            offset = 0
        for i in range(n):
            kind, ch, msg = head(view, i * EVENT_SIZE)
            if kind == delivery:
                if i < packed:
                    r = _record_at(blob, offset)
                    start = offset + 56
                    offset += r[0]
                    exchange_at = start + r[7]
                    key_at = exchange_at + r[8]
                    body_at = key_at + r[9] + r[10]
                    raw = blob[start:exchange_at]
                    tag = texts.get(raw) or decode(raw)
                    raw = blob[exchange_at:key_at]
                    exchange = texts.get(raw) or decode(raw)
                    raw = blob[key_at:key_at + r[9]]
                    routing_key = texts.get(raw) or decode(raw)
                    append((_K_DELIVERY, ch, tag, (
                        deliver(tag, r[2], bool(r[6]), exchange, routing_key),
                        props_from(fields_at(msg)) if r[4] else new(props_cls), blob[body_at:body_at + r[12]])))
                    continue
                f = fields_at(msg)
                tag = decode(_bytes_at(f[_F_CTAG], f[_F_CTAG_LEN]))
                append((_K_DELIVERY, ch, tag, (
                    deliver(tag, f[_F_DELIVERY_TAG], f[_F_REDELIVERED], decode(_bytes_at(f[_F_EXCHANGE], f[_F_EXCHANGE_LEN])),
                            decode(_bytes_at(f[_F_RKEY], f[_F_RKEY_LEN]))),
                    props_from(f), _bytes_at(f[_F_BODY], f[_F_BODY_LEN]))))
                continue
            ev = events[i]
            if kind == _ffi.SWAMQP_EVENT_CONFIRM_ACK or kind == _ffi.SWAMQP_EVENT_CONFIRM_NACK:
                info = ErrorInfo.from_pointer(ev.error, ev.status) if ev.status else None
                append((_K_CONFIRM, ch, kind == _ffi.SWAMQP_EVENT_CONFIRM_ACK, ev.delivery_tag,
                        bool(ev.flags & _ffi.SWAMQP_EVENT_FLAG_MULTIPLE), ev.status, info))
            elif kind == _ffi.SWAMQP_EVENT_LOG:
                level = _LOG_LEVELS.get(ev.log_level, logging.INFO)
                if log.isEnabledFor(level):
                    log.log(level, "%s", read_bytes(ev.name).decode("utf-8", "replace"))
            elif kind == _ffi.SWAMQP_EVENT_RETURN:
                if msg:
                    append((_K_RETURN, ch, _returned_from(_fields_at(msg)), ev.delivery_tag))
            elif kind == _ffi.SWAMQP_EVENT_CHANNEL_CLOSED:
                append((_K_CHANNEL_CLOSED, ch, ErrorInfo.from_pointer(ev.error, ev.status) if ev.error else None))
            elif kind == _ffi.SWAMQP_EVENT_CONNECTION_CLOSED:
                append((_K_CONNECTION_CLOSED, ErrorInfo.from_pointer(ev.error, ev.status) if ev.error else None))
            elif kind == _ffi.SWAMQP_EVENT_CONSUMER_CANCELLED:
                append((_K_CANCELLED, ch, text(read_bytes(ev.name))))
            elif kind == _ffi.SWAMQP_EVENT_BLOCKED:
                append((_K_BLOCKED, read_bytes(ev.name).decode("utf-8", "replace")))
            elif kind == _ffi.SWAMQP_EVENT_UNBLOCKED:
                append((_K_UNBLOCKED,))
            elif kind == _ffi.SWAMQP_EVENT_FLOW:
                active = bool(ev.flags & _ffi.SWAMQP_EVENT_FLAG_ACTIVE)
                log.info("channel %d flow %s by the broker", ch, "resumed" if active else "stopped")
            elif kind == _ffi.SWAMQP_EVENT_RECOVERY_STARTED:
                append((_K_RECOVERY_STARTED,))
            elif kind == _ffi.SWAMQP_EVENT_RECOVERED:
                append((_K_RECOVERED, ev.message_count))
            elif kind == _ffi.SWAMQP_EVENT_RECOVERY_ENTITY_FAILED:
                info = ErrorInfo.from_pointer(ev.error, 0)
                log.warning("recovery could not restore %s: %s", read_bytes(ev.name).decode("utf-8", "replace"),
                            info.message or _ffi.status_name(info.status))
            elif kind == _ffi.SWAMQP_EVENT_RECOVERY_FAILED:
                info = ErrorInfo.from_pointer(ev.error, 0)
                log.warning("recovery gave up: %s", info.message or _ffi.status_name(info.status))
            elif kind == _ffi.SWAMQP_EVENT_QUEUE_RENAMED:
                log.info("recovery re-declared server-named queue %s as %s",
                         read_bytes(ev.payload).decode("utf-8", "replace"),
                         read_bytes(ev.name).decode("utf-8", "replace"))
            elif kind == _ffi.SWAMQP_EVENT_LATE_GET_MESSAGE:
                if msg:
                    f = _fields_at(msg)
                    append((_K_LATE_GET, ch, f[_F_DELIVERY_TAG], _bytes_at(f[_F_BODY], f[_F_BODY_LEN])))
            else:  # completions (this API makes blocking calls only), raw frames, future types
                log.debug("event type %d on channel %d ignored", kind, ch)
        return items

    def _route(self, items: List[Tuple[Any, ...]]) -> None:
        """Under _lock: hands each copied event to whom it belongs."""
        channels = self._channels
        last_number = -1
        ch: Optional[BlockingChannel] = None
        for item in items:
            kind = item[0]
            if kind == _K_DELIVERY:
                if item[1] != last_number:
                    last_number = item[1]
                    ch = channels.get(last_number)
                if ch is not None and ch._closed_exc is None:
                    gen = ch._gen
                    if gen is not None and item[2] == gen.tag:
                        gen.pending.append(item[3])
                    else:
                        ch._pending.append(item)
                else:
                    log.debug("delivery on channel %d dropped (channel closed)", item[1])
                continue
            last_number = -1  # other events may close or replace channels
            if kind == _K_CONFIRM:
                ch = channels.get(item[1])
                if ch is not None:
                    ch._on_confirm(item[2], item[3], item[4], item[5], item[6])
            elif kind == _K_RETURN:
                ch = channels.get(item[1])
                if ch is not None:
                    ch._on_return(item[2], item[3])
            elif kind == _K_CHANNEL_CLOSED:
                ch = channels.get(item[1])
                if ch is not None:
                    ch._on_closed_event(item[2])
            elif kind == _K_CANCELLED:
                ch = channels.get(item[1])
                if ch is not None:
                    ch._on_broker_cancel(item[2])
            elif kind == _K_BLOCKED:
                self._blocked = True
                for cb in self._blocked_callbacks:
                    self._conn_pending.append((cb, (self, Method(0, _ConnectionMethods.Blocked(item[1])))))
            elif kind == _K_UNBLOCKED:
                self._blocked = False
                for cb in self._unblocked_callbacks:
                    self._conn_pending.append((cb, (self, Method(0, _ConnectionMethods.Unblocked()))))
            elif kind == _K_RECOVERY_STARTED:
                self._recovering = True
            elif kind == _K_RECOVERED:
                self._recovering = False
                self._recovered_count += 1
            elif kind == _K_LATE_GET:
                log.warning("channel %d: a basic_get(auto_ack=True) that timed out got its message "
                            "afterwards (delivery tag %d, %d bytes); it is dropped", item[1], item[2], len(item[3]))
            elif kind == _K_CONNECTION_CLOSED:
                self._connection_over(self._close_reason(item[1]))
            elif kind == _K_GONE:
                if self._closed_exc is None:
                    self._connection_over(ConnectionWrongStateError(
                        "the connection ended (%s)" % _ffi.status_name(item[1])))

    def _close_reason(self, info: Optional[ErrorInfo]) -> BaseException:
        if self._closing:
            return ConnectionClosedByClient(200, "Normal shutdown")
        if info is None or info.origin == _ffi.SWAMQP_ORIGIN_NONE or info.status in (
                _ffi.SWAMQP_OK, _ffi.SWAMQP_ERR_CLOSED_BY_APPLICATION):
            return ConnectionClosedByClient(200, info.message if info and info.message else "Normal shutdown")
        return self._map_error(info, None, record=False)

    def _connection_over(self, exc: BaseException) -> None:
        """Under _lock: the connection ended with `exc`; everything waiting learns it."""
        if self._closed_exc is not None:
            return
        self._closed_exc = exc
        for ch in list(self._channels.values()):
            ch._set_closed(exc)
        self._changed()

    # ----------------------------------------------------------------------------------------
    # Dispatching callbacks (on threads in start_consuming / process_data_events / consume)
    # ----------------------------------------------------------------------------------------
    def _work_ready(self, owner: Optional[BlockingChannel]) -> bool:
        """Under _lock: is there a callback this thread may run now?"""
        if owner is not None and owner._pending and not owner._dispatching:
            return True
        for ch in self._channels.values():
            if ch._pending and not ch._owner and not ch._dispatching:
                return True
        if not self._conn_dispatching:
            if self._conn_pending:
                return True
            if self._timers and self._timers[0][0] <= time.monotonic():
                return True
        return False

    def _dispatch_ready(self, owner: Optional[BlockingChannel]) -> int:
        """Runs the callbacks this thread may run now: timers and connection-level callbacks,
        then those of `owner` (the channel whose start_consuming runs here) and of channels no
        thread consumes. Returns how many ran."""
        claims: List[BlockingChannel] = []
        conn_work: List[Tuple[Callable[..., Any], Tuple[Any, ...]]] = []
        took_conn = False
        with self._lock:
            if owner is not None and owner._pending and not owner._dispatching:
                owner._dispatching = True
                claims.append(owner)
            for ch in self._channels.values():
                if ch is not owner and ch._pending and not ch._owner and not ch._dispatching:
                    ch._dispatching = True
                    claims.append(ch)
            if not self._conn_dispatching and (self._conn_pending or (
                    self._timers and self._timers[0][0] <= time.monotonic())):
                self._conn_dispatching = took_conn = True
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    _, timer_id, cb = heapq.heappop(self._timers)
                    if timer_id in self._cancelled_timers:
                        self._cancelled_timers.discard(timer_id)
                    else:
                        conn_work.append((cb, ()))
                conn_work.extend(self._conn_pending)
                self._conn_pending.clear()
        if not claims and not took_conn:
            return 0
        ran = 0
        _tls.depth = _dispatch_depth() + 1
        done = 0
        try:
            with _SigintDefault():
                for cb, args in conn_work:
                    done += 1
                    ran += 1
                    cb(*args)
                for ch in claims:
                    ran += ch._dispatch_pending()
        finally:
            _tls.depth -= 1
            with self._lock:
                if done < len(conn_work):  # a callback raised: the rest runs later, in order
                    self._conn_pending.extendleft(reversed(conn_work[done:]))
                for ch in claims:
                    ch._dispatching = False
                if took_conn:
                    self._conn_dispatching = False
                self._changed()
        return ran
