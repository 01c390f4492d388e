"""swiftamqp.blocking's consumers, mixed into BlockingChannel: basic_consume and basic_cancel,
start_consuming, the consume() generator, the callbacks for returns and broker cancels, and the
running of a channel's pending callbacks."""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Iterator, List, Optional, Tuple

from .. import _ffi
from ._dispatcher import _CLOSE_TIMEOUT
from ._exceptions import DuplicateConsumerTag, ReentrancyError
from ._items import _ACTIVE, _CANCEL, _DELIVERY, _RETURN, _TEARING_DOWN, _ConsumerInfo, _Generator
from ._native import _lib, _name, _require_str, _table
from ._spec import Basic, BasicProperties, Method, ReturnedMessage
from ._threads import _dispatch_depth, _sigint_enter, _sigint_exit

if TYPE_CHECKING:  # pragma: no cover
    from ._channel import BlockingChannel
    from ._connection import BlockingConnection
    from ._items import _Confirm

log = logging.getLogger("swiftamqp")


class _Consumers:
    """The consumer side of a BlockingChannel (its attributes are set by
    ``BlockingChannel.__init__``; the methods it calls on self and not defined here are the
    channel's; where self is passed as the channel, mypy is told to let it be)."""

    _connection: BlockingConnection
    _number: int
    _consumers: Dict[str, _ConsumerInfo]
    _cancelled_tags: Dict[str, bool]
    _pending: Deque[Tuple[int, int, Any, Any]]
    _gen: Optional[_Generator]
    _dispatching: bool
    _owner: int
    _closed_exc: Optional[BaseException]
    _outstanding: Dict[int, _Confirm]
    _return_cbs: List[Callable[..., Any]]
    _cancel_cbs: List[Callable[..., Any]]

    if TYPE_CHECKING:  # pragma: no cover - BlockingChannel's
        def _rpc(self, fn: Any, *args: Any) -> None: ...
        def _check_usable(self) -> None: ...
        def _raise_if_failed(self) -> None: ...
        def _reject_quietly(self, delivery_tag: int) -> None: ...

    # ----------------------------------------------------------------------------------------
    # Consumers
    # ----------------------------------------------------------------------------------------
    def _new_tag(self) -> str:
        return "ctag%d.%s" % (self._number, uuid.uuid4().hex)

    def _start_consumer(self, queue: str, tag: str, auto_ack: bool, exclusive: bool,
                        arguments: Optional[Dict[str, Any]]) -> None:
        q, t = _name(queue, "queue"), _name(tag, "consumer_tag")
        flags = (_ffi.SWAMQP_NO_ACK if auto_ack else 0) | (_ffi.SWAMQP_EXCLUSIVE if exclusive else 0)
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_basic_consume, q[1], t[1], flags, table, None)

    def basic_consume(self, queue: str, on_message_callback: Callable[[BlockingChannel, Basic.Deliver, BasicProperties, bytes], Any],
                      auto_ack: bool = False, exclusive: bool = False, consumer_tag: Optional[str] = None,
                      arguments: Optional[Dict[str, Any]] = None) -> str:
        """basic.consume; ``on_message_callback(channel, method, properties, body)`` runs for each
        delivery on a thread in start_consuming (or process_data_events). Returns the tag."""
        _require_str(queue, "queue")
        if not callable(on_message_callback):
            raise TypeError("on_message_callback must be callable")
        self._check_usable()
        tag = consumer_tag or self._new_tag()
        conn = self._connection
        with conn._lock:
            if tag in self._consumers:
                raise DuplicateConsumerTag(tag)
            self._consumers[tag] = _ConsumerInfo(tag, auto_ack, on_message_callback)
        try:
            self._start_consumer(queue, tag, auto_ack, exclusive, arguments)
        except BaseException:
            with conn._lock:
                if self._consumers.get(tag) is not None and self._consumers[tag].callback is on_message_callback:
                    del self._consumers[tag]
                conn._changed()
            raise
        return tag

    def basic_cancel(self, consumer_tag: str) -> List[Tuple[Basic.Deliver, BasicProperties, bytes]]:
        """basic.cancel. Deliveries of the consumer not yet dispatched are rejected (requeued)
        for a manual-ack consumer; for an auto_ack one they are returned as
        ``[(method, properties, body), ...]``."""
        info, collected = self._cancel_consumer(consumer_tag)
        if info is None or info.auto_ack:
            return collected
        for method, _, _ in collected:
            self._reject_quietly(method.delivery_tag)
        return []

    def _cancel_consumer(self, consumer_tag: str) -> Tuple[Optional[_ConsumerInfo], List[Any]]:
        """Cancels the consumer; returns its info and the deliveries it left undispatched."""
        conn = self._connection
        with conn._lock:
            info = self._consumers.get(consumer_tag)
            if info is None:
                log.warning("basic_cancel: unknown consumer %r (already cancelled?)", consumer_tag)
                return None, []
            info.state = _TEARING_DOWN
            self._cancelled_tags[consumer_tag] = info.auto_ack
            if len(self._cancelled_tags) > 1024:
                self._cancelled_tags.pop(next(iter(self._cancelled_tags)))
        collected: List[Tuple[Any, Any, Any]] = []
        try:
            if self._closed_exc is None:
                t = _name(consumer_tag, "consumer_tag")
                self._rpc(_lib.swamqp_basic_cancel, t[1], 0)
                # Deliveries the library queued before the cancel-ok are in the event queue now.
                conn._flush(time.monotonic() + _CLOSE_TIMEOUT)
        finally:
            with conn._lock:
                self._consumers.pop(consumer_tag, None)
                keep: Deque[Tuple[int, int, Any, Any]] = collections.deque()
                for item in self._pending:
                    if item[0] == _DELIVERY and item[2] == consumer_tag:
                        collected.append(item[3])
                    elif not (item[0] == _CANCEL and item[2] == consumer_tag):
                        keep.append(item)
                self._pending = keep
                gen = self._gen
                if gen is not None and gen.tag == consumer_tag:
                    collected.extend(m for m in gen.pending if m is not None)
                    gen.pending.clear()
                collected = info.leftover + collected
                info.leftover = []
                conn._changed()
        return info, collected

    def start_consuming(self) -> None:
        """Runs this channel's consumer callbacks (and the connection's other due callbacks, see
        the module docs) until its consumers are all cancelled or the channel is closed. Raises
        ChannelClosedByBroker when the broker closed the channel, the connection's error when it
        was lost, ReentrancyError from inside a callback. Ctrl-C raises KeyboardInterrupt at once
        (at most 0.1 s) with everything consistent: ``stop_consuming()`` and ``close()`` work."""
        if _dispatch_depth():
            raise ReentrancyError("start_consuming may not be called from the scope of another "
                                  "BlockingConnection or BlockingChannel callback")
        self._check_usable()
        conn = self._connection
        me = threading.get_ident()
        with conn._lock:
            if self._owner not in (0, me):
                raise ReentrancyError("start_consuming already runs on this channel in another thread")
            self._owner = me
        entered = _sigint_enter()
        try:
            def ready() -> bool:
                return (conn._work_ready(self) or not self._consumers or self._closed_exc is not None  # type: ignore[arg-type]
                        or conn._closed_exc is not None)

            while self._consumers and self._closed_exc is None:
                if conn._dispatch_ready(self):  # type: ignore[arg-type]
                    continue
                conn._wait(ready, None, timers=True)
            self._raise_if_failed()
        finally:
            with conn._lock:
                if self._owner == me:
                    self._owner = 0
                conn._changed()
            if entered:
                _sigint_exit()

    def stop_consuming(self, consumer_tag: Optional[str] = None) -> None:
        """Cancels `consumer_tag`, or every consumer of the channel (start_consuming returns)."""
        if consumer_tag:
            self.basic_cancel(consumer_tag)
            return
        if self._gen is not None:
            self.cancel()
        for tag in list(self._consumers):
            self.basic_cancel(tag)

    def consume(self, queue: str, auto_ack: bool = False, exclusive: bool = False,
                arguments: Optional[Dict[str, Any]] = None, inactivity_timeout: Optional[float] = None,
                consumer_tag: Optional[str] = None) -> Iterator[Tuple[Optional[Basic.Deliver], Optional[BasicProperties], Optional[bytes]]]:
        """A generator of ``(method, properties, body)``; with `inactivity_timeout` (seconds) it
        yields ``(None, None, None)`` after that long without a message. It ends when the
        consumer is cancelled (:meth:`cancel`, or by the broker). Iterating it again with the
        same (queue, auto_ack, exclusive) resumes the same consumer."""
        if _dispatch_depth():
            raise ReentrancyError("consume may not be iterated from the scope of a callback")
        self._check_usable()
        conn = self._connection
        params = (queue, auto_ack, exclusive)
        gen = self._gen
        if gen is not None:
            if gen.params != params:
                raise ValueError("Consume with different params not allowed on existing queue consumer "
                                 "generator; previous params: %r; new params: %r" % (gen.params, params))
        else:
            _require_str(queue, "queue")
            tag = consumer_tag or self._new_tag()
            gen = _Generator(params, tag)
            with conn._lock:
                if tag in self._consumers:
                    raise DuplicateConsumerTag(tag)
                self._consumers[tag] = _ConsumerInfo(tag, auto_ack, None, generator=True)
                self._gen = gen
            try:
                self._start_consumer(queue, tag, auto_ack, exclusive, arguments)
            except BaseException:
                with conn._lock:
                    if self._gen is gen:
                        self._gen = None
                    self._consumers.pop(tag, None)
                raise
        me = threading.get_ident()

        def ready() -> bool:
            return (bool(gen.pending) or self._gen is not gen or self._closed_exc is not None
                    or conn._closed_exc is not None or conn._work_ready(self if self._owner in (0, me) else None))  # type: ignore[arg-type]

        while self._gen is gen:
            if gen.pending:
                item = gen.pending.popleft()
                if item is None:  # cancelled by the broker
                    with conn._lock:
                        if self._gen is gen:
                            self._gen = None
                        self._consumers.pop(gen.tag, None)
                    break
                yield item
                continue
            deadline = None if inactivity_timeout is None else time.monotonic() + inactivity_timeout
            while not gen.pending and self._gen is gen and self._closed_exc is None:
                owner = self if self._owner in (0, me) else None
                if conn._dispatch_ready(owner):  # type: ignore[arg-type]
                    continue
                if conn._closed_exc is not None:
                    break
                if not conn._wait(ready, deadline, timers=True) and deadline is not None \
                        and time.monotonic() >= deadline:
                    break
            if self._closed_exc is not None or conn._closed_exc is not None:
                self._raise_if_failed()
                return
            if not gen.pending and self._gen is gen and deadline is not None and time.monotonic() >= deadline:
                yield (None, None, None)

    def get_waiting_message_count(self) -> int:
        """Messages the consume() generator holds, ready to be yielded without waiting."""
        gen = self._gen
        if gen is None:
            return 0
        return sum(1 for m in list(gen.pending) if m is not None)

    def cancel(self) -> int:
        """Cancels the consume() generator's consumer; its messages not yet yielded are
        requeued (manual ack). Returns how many were requeued."""
        gen = self._gen
        if gen is None:
            log.warning("cancel: the queue consumer generator is not active")
            return 0
        conn = self._connection
        auto_ack = gen.params[1]
        with conn._lock:
            held = [m for m in gen.pending if m is not None]
            gen.pending.clear()
        try:
            _, late = self._cancel_consumer(gen.tag) if gen.tag in self._consumers else (None, [])
        finally:
            with conn._lock:
                if self._gen is gen:
                    self._gen = None
                conn._changed()
        if auto_ack:
            return 0
        for method, _, _ in held + late:
            self._reject_quietly(method.delivery_tag)
        return len(held) + len(late)

    def add_on_cancel_callback(self, callback: Callable[[Method], Any]) -> None:
        """``callback(Method(channel, Basic.Cancel(consumer_tag)))`` when the broker cancels a
        consumer of this channel (its queue was deleted)."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._cancel_cbs.append(callback)

    def add_on_return_callback(self, callback: Callable[[BlockingChannel, Basic.Return, BasicProperties, bytes], Any]) -> None:
        """``callback(channel, Basic.Return, properties, body)`` for each message the broker
        returned (an unroutable mandatory publish)."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._return_cbs.append(callback)

    # ----------------------------------------------------------------------------------------
    # Returns, broker cancels, and running what is pending
    # ----------------------------------------------------------------------------------------
    def _on_return(self, returned: ReturnedMessage, sequence: int) -> None:
        """Under the lock: a basic.return; `sequence` is the returned publish's confirm sequence
        number, which the library matched to it (0: none, e.g. outside confirm mode)."""
        waiter = self._outstanding.get(sequence) if sequence else None
        matched = False
        if waiter is not None and waiter.returned is None:
            waiter.returned = returned
            matched = True
        if self._return_cbs:
            self._pending.append((_RETURN, self._number, None, returned))
        elif not matched:
            log.warning("channel %d: message returned by the broker (%s %s) and no return callback: %r",
                        self._number, returned.method.reply_code, returned.method.reply_text, returned)

    def _on_broker_cancel(self, tag: str) -> None:
        """Under the lock: the broker cancelled consumer `tag`."""
        gen = self._gen
        if gen is not None and gen.tag == tag:
            gen.pending.append(None)
        elif tag in self._consumers:
            self._pending.append((_CANCEL, self._number, tag, None))

    def _dispatch_pending(self) -> int:
        """Runs this channel's pending callbacks (the caller claimed the channel). What is
        pending is taken out under the lock, so basic_cancel on another thread never sees (and
        hands back) a delivery that is also dispatched here; a delivery whose consumer was
        cancelled meanwhile is requeued instead of dispatched."""
        consumers = self._consumers
        lock = self._connection._lock
        ran = 0
        while True:
            with lock:
                pending = self._pending
                if not pending:
                    return ran
                batch = list(pending)
                pending.clear()
            for index, (kind, _, tag, payload) in enumerate(batch):
                ran += 1
                try:
                    if kind == _DELIVERY:
                        info = consumers.get(tag)
                        if info is not None and info.state == _ACTIVE and info.callback is not None:
                            info.callback(self, payload[0], payload[1], payload[2])
                        else:
                            self._not_dispatched(info, tag, payload)
                    else:
                        self._dispatch_other(kind, tag, payload)
                except BaseException:
                    with lock:  # what this batch did not run yet stays first in line
                        self._pending.extendleft(reversed(batch[index + 1:]))
                    raise

    def _dispatch_other(self, kind: int, tag: Any, payload: Any) -> None:
        """A pending return (payload: ReturnedMessage) or broker cancel (tag)."""
        if kind == _RETURN:
            for cb in list(self._return_cbs):
                cb(self, payload.method, payload.properties, payload.body)
        elif kind == _CANCEL:
            conn = self._connection
            with conn._lock:
                info = self._consumers.pop(tag, None)
                if info is not None:
                    self._cancelled_tags[tag] = info.auto_ack
                conn._changed()
            if info is not None:
                frame_ = Method(self._number, Basic.Cancel(tag))
                for cb in list(self._cancel_cbs):
                    cb(frame_)

    def _not_dispatched(self, info: Optional[_ConsumerInfo], tag: str, payload: Any) -> None:
        auto_ack = info.auto_ack if info is not None else self._cancelled_tags.get(tag)
        if auto_ack is None:
            log.debug("channel %d: delivery for unknown consumer %r dropped", self._number, tag)
        elif auto_ack:
            if info is not None:
                info.leftover.append(payload)
        else:
            self._reject_quietly(payload[0].delivery_tag)
