"""swiftamqp.blocking's BlockingChannel (its consumers are in _consumers.py)."""

from __future__ import annotations

import collections
import ctypes
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Optional, Tuple, Union

from .. import _ffi
from .._errors import ErrorInfo
from ._consumers import _Consumers
from ._dispatcher import _HOUSEKEEPING
from ._exceptions import (AMQPChannelError, AMQPError, AMQPTimeoutError, ChannelClosed, ChannelClosedByBroker,
                          ChannelClosedByClient, ChannelWrongStateError, ConnectionBlockedTimeout, NackError,
                          UnroutableError, _closed_by_broker, _copy)
from ._items import _Confirm, _ConsumerInfo, _Generator
from ._native import (_BYTES_OFFSET, _EMPTY, _body_struct, _byref, _Bytes, _c_void_p, _lib, _name, _names,
                      _require_str, _table, _text_of)
from ._properties import (_F_BODY, _F_BODY_LEN, _F_DELIVERY_TAG, _F_EXCHANGE, _F_EXCHANGE_LEN, _F_MESSAGE_COUNT,
                          _F_REDELIVERED, _F_RKEY, _F_RKEY_LEN, _bytes_at, _c_properties, _fields_at,
                          _properties_from, text)
from ._spec import Basic, BasicProperties, Exchange, ExchangeType, Method, Queue, Tx
from ._threads import _thread_error, _tls

if TYPE_CHECKING:  # pragma: no cover
    from ._connection import BlockingConnection

log = logging.getLogger("swiftamqp")

_publish = _ffi.unchecked_basic_publish  # arguments passed as their C types (see _ffi._unchecked)


class BlockingChannel(_Consumers):
    """A channel, made by :meth:`BlockingConnection.channel`. Thread-safe. Use it as a context
    manager to close it at the end of a block."""

    def __init__(self, connection: BlockingConnection, number: int) -> None:
        self._connection = connection
        self._number = number
        self._consumers: Dict[str, _ConsumerInfo] = {}
        self._cancelled_tags: Dict[str, bool] = {}   # tag -> auto_ack, of consumers gone
        self._pending: Deque[Tuple[int, int, Any, Any]] = collections.deque()
        self._gen: Optional[_Generator] = None
        self._dispatching = False
        self._owner = 0          # ident of the thread in start_consuming, or 0
        self._closed_exc: Optional[BaseException] = None
        self._closing = False
        self._confirm = False
        self._outstanding: Dict[int, _Confirm] = {}
        self._seq = ctypes.c_uint64()
        self._seq_ref = _byref(self._seq)
        self._return_cbs: List[Callable[..., Any]] = []
        self._cancel_cbs: List[Callable[..., Any]] = []

    def __repr__(self) -> str:
        return "<swiftamqp.blocking.BlockingChannel %d %s>" % (self._number, "open" if self.is_open else "closed")

    def __int__(self) -> int:
        return self._number

    def __enter__(self) -> BlockingChannel:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.is_open:
            self.close()

    # ----------------------------------------------------------------------------------------
    @property
    def channel_number(self) -> int:
        return self._number

    @property
    def connection(self) -> BlockingConnection:
        return self._connection

    @property
    def is_open(self) -> bool:
        return self._closed_exc is None and not self._closing and self._connection.is_open

    @property
    def is_closed(self) -> bool:
        return not self.is_open

    @property
    def consumer_tags(self) -> List[str]:
        """Tags of this channel's consumers."""
        return list(self._consumers)

    # ----------------------------------------------------------------------------------------
    # Exchanges and queues
    # ----------------------------------------------------------------------------------------
    def _rpc(self, fn: Any, *args: Any) -> None:
        number = self._number
        self._connection._call(lambda handle, timeout_ms, err: fn(handle, number, *args, timeout_ms, err), self)

    def exchange_declare(self, exchange: str, exchange_type: Union[ExchangeType, str] = ExchangeType.direct,
                         passive: bool = False, durable: bool = False, auto_delete: bool = False,
                         internal: bool = False, arguments: Optional[Dict[str, Any]] = None) -> Method:
        _require_str(exchange, "exchange")
        name = _name(exchange, "exchange")
        kind = _name(_text_of(exchange_type), "exchange_type")
        flags = ((_ffi.SWAMQP_PASSIVE if passive else 0) | (_ffi.SWAMQP_DURABLE if durable else 0)
                 | (_ffi.SWAMQP_AUTO_DELETE if auto_delete else 0) | (_ffi.SWAMQP_INTERNAL if internal else 0))
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_exchange_declare, name[1], kind[1], flags, table)
        return Method(self._number, Exchange.DeclareOk())

    def exchange_delete(self, exchange: Optional[str] = None, if_unused: bool = False) -> Method:
        name = _name(exchange, "exchange")
        self._rpc(_lib.swamqp_exchange_delete, name[1], _ffi.SWAMQP_IF_UNUSED if if_unused else 0)
        return Method(self._number, Exchange.DeleteOk())

    def exchange_bind(self, destination: str, source: str, routing_key: str = "",
                      arguments: Optional[Dict[str, Any]] = None) -> Method:
        _require_str(destination, "destination")
        _require_str(source, "source")
        d, s, k = _name(destination, "destination"), _name(source, "source"), _name(routing_key, "routing_key")
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_exchange_bind, d[1], s[1], k[1], 0, table)
        return Method(self._number, Exchange.BindOk())

    def exchange_unbind(self, destination: Optional[str] = None, source: Optional[str] = None,
                        routing_key: str = "", arguments: Optional[Dict[str, Any]] = None) -> Method:
        d, s, k = _name(destination, "destination"), _name(source, "source"), _name(routing_key, "routing_key")
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_exchange_unbind, d[1], s[1], k[1], 0, table)
        return Method(self._number, Exchange.UnbindOk())

    def queue_declare(self, queue: str, passive: bool = False, durable: bool = False,
                      exclusive: bool = False, auto_delete: bool = False,
                      arguments: Optional[Dict[str, Any]] = None) -> Method:
        """queue.declare; ``''`` asks the broker for a name. The result's ``method`` has
        ``queue``, ``message_count`` and ``consumer_count``."""
        _require_str(queue, "queue")
        name = _name(queue, "queue")
        flags = ((_ffi.SWAMQP_PASSIVE if passive else 0) | (_ffi.SWAMQP_DURABLE if durable else 0)
                 | (_ffi.SWAMQP_EXCLUSIVE if exclusive else 0) | (_ffi.SWAMQP_AUTO_DELETE if auto_delete else 0))
        keep, table = _table(arguments)
        result = _ffi.swamqp_queue_declare_ok()
        self._rpc(_lib.swamqp_queue_declare, name[1], flags, table, _byref(result))
        declared = result.name[:result.name_len].decode("utf-8", "surrogateescape")
        return Method(self._number, Queue.DeclareOk(declared, result.message_count, result.consumer_count))

    def queue_bind(self, queue: str, exchange: str, routing_key: Optional[str] = None,
                   arguments: Optional[Dict[str, Any]] = None) -> Method:
        """queue.bind; ``routing_key`` None binds with the queue's name, as pika does."""
        _require_str(queue, "queue")
        _require_str(exchange, "exchange")
        q, e = _name(queue, "queue"), _name(exchange, "exchange")
        k = _name(queue if routing_key is None else routing_key, "routing_key")
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_queue_bind, q[1], e[1], k[1], 0, table)
        return Method(self._number, Queue.BindOk())

    def queue_unbind(self, queue: str, exchange: Optional[str] = None, routing_key: Optional[str] = None,
                     arguments: Optional[Dict[str, Any]] = None) -> Method:
        q, e = _name(queue, "queue"), _name(exchange, "exchange")
        k = _name(queue if routing_key is None else routing_key, "routing_key")
        keep, table = _table(arguments)
        self._rpc(_lib.swamqp_queue_unbind, q[1], e[1], k[1], table)
        return Method(self._number, Queue.UnbindOk())

    def queue_purge(self, queue: str) -> Method:
        """queue.purge; the result's ``method.message_count`` is how many were purged."""
        q = _name(queue, "queue")
        count = ctypes.c_uint32()
        self._rpc(_lib.swamqp_queue_purge, q[1], 0, _byref(count))
        return Method(self._number, Queue.PurgeOk(count.value))

    def queue_delete(self, queue: str, if_unused: bool = False, if_empty: bool = False) -> Method:
        """queue.delete; the result's ``method.message_count`` is how many messages went with it."""
        q = _name(queue, "queue")
        count = ctypes.c_uint32()
        flags = (_ffi.SWAMQP_IF_UNUSED if if_unused else 0) | (_ffi.SWAMQP_IF_EMPTY if if_empty else 0)
        self._rpc(_lib.swamqp_queue_delete, q[1], flags, _byref(count))
        return Method(self._number, Queue.DeleteOk(count.value))

    # ----------------------------------------------------------------------------------------
    # basic
    # ----------------------------------------------------------------------------------------
    def basic_qos(self, prefetch_size: int = 0, prefetch_count: int = 0, global_qos: bool = False) -> None:
        if not 0 <= prefetch_size <= 0xFFFFFFFF or not 0 <= prefetch_count <= 0xFFFF:
            raise ValueError("prefetch_size must fit 32 bits and prefetch_count 16 bits")
        self._rpc(_lib.swamqp_basic_qos, prefetch_size, prefetch_count, _ffi.SWAMQP_GLOBAL if global_qos else 0)

    def basic_recover(self, requeue: bool = False) -> None:
        self._rpc(_lib.swamqp_basic_recover, _ffi.SWAMQP_REQUEUE if requeue else 0)

    def basic_publish(self, exchange: str, routing_key: str, body: Union[bytes, str],
                      properties: Optional[BasicProperties] = None, mandatory: bool = False) -> None:
        """Publishes `body` (bytes, or str sent as UTF-8). Without confirm mode it returns once the
        frames are queued (it waits only while publishing must pause: the broker blocked the
        connection, or the outbound buffer is full, at most ``blocked_connection_timeout`` or
        ``rpc_timeout``). In confirm mode (:meth:`confirm_delivery`) it returns once the broker
        confirmed the message and raises :class:`UnroutableError` when a mandatory message was
        returned, :class:`NackError` when the broker nacked it."""
        conn = self._connection
        handle = conn._native.handle_arg
        if handle is None or self._closed_exc is not None or conn._closed_exc is not None or self._closing:
            raise self._unusable()
        try:
            ex = _names[exchange]
        except (KeyError, TypeError):
            ex = _name(exchange, "exchange")
        try:
            rk = _names[routing_key]
        except (KeyError, TypeError):
            rk = _name(routing_key, "routing_key")
        if type(body) is bytes and _BYTES_OFFSET > 0:  # the common case, inline
            cbody = _Bytes(id(body) + _BYTES_OFFSET, len(body)) if body else _EMPTY
        else:
            cbody, body = _body_struct(body)
        props = None if properties is None else _c_properties(properties)
        flags = _ffi.SWAMQP_MANDATORY if mandatory else 0
        if self._confirm:
            self._publish_confirmed(handle, ex, rk, flags, props, cbody)
            return
        try:
            err, ref = _tls.error
        except AttributeError:
            err, ref = _thread_error()
        rc = _publish(handle, self._number, ex[1], rk[1], flags, props, cbody, None, conn._publish_ms_arg, ref)
        if rc:
            raise self._error(rc, err)
        conn._publishes += 1
        if not conn._publishes & (_HOUSEKEEPING - 1):
            conn._housekeeping()

    def _publish_confirmed(self, handle: Any, ex: Tuple[bytes, Any], rk: Tuple[bytes, Any], flags: int,
                           props: Any, cbody: Any) -> None:
        conn = self._connection
        waiter = _Confirm()
        limit = conn._blocked_timeout if conn._blocked_timeout is not None else conn._rpc_timeout
        deadline = None if limit is None else time.monotonic() + limit
        err = _ffi.swamqp_error()
        seq = self._seq
        while True:
            with conn._lock:
                if self._closed_exc is not None:
                    raise self._state_error()
                # Never waits (timeout 0), so the lock is held only for the call; holding it
                # means the sequence is registered before any confirm for it can be routed.
                rc = _publish(handle, self._number, ex[1], rk[1], flags, props, cbody, self._seq_ref, 0,
                              _byref(err))
                if rc == 0:
                    self._outstanding[seq.value] = waiter
            if rc != _ffi.SWAMQP_ERR_WOULD_BLOCK:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                if conn._blocked:
                    raise ConnectionBlockedTimeout("publish waited %s s while the broker blocks the connection" % limit)
                raise AMQPTimeoutError("publish could not be queued within %s s (outbound buffer full or "
                                       "max_unconfirmed reached)" % limit, _ffi.SWAMQP_ERR_TIMEOUT)
            # Publishing must pause: let confirms (or unblocked) come in, then try again.
            conn._wait(lambda: self._closed_exc is not None or conn._closed_exc is not None,
                       now + 0.005 if deadline is None else min(deadline, now + 0.005))
        if rc:
            raise self._error(rc, err)
        conn._wait(lambda: waiter.done, deadline)
        if not waiter.done:
            with conn._lock:
                for s, w in list(self._outstanding.items()):
                    if w is waiter:
                        del self._outstanding[s]
            if not waiter.done:
                if conn._closed_exc is not None or conn._native.handle is None:
                    raise conn._closed_error()
                raise AMQPTimeoutError("no confirm for the publish within %s s" % limit, _ffi.SWAMQP_ERR_TIMEOUT)
        if waiter.error is not None:
            raise _copy(waiter.error)
        if not waiter.ack:
            raise NackError([waiter.returned] if waiter.returned is not None else [])
        if waiter.returned is not None:
            raise UnroutableError([waiter.returned])

    def basic_get(self, queue: str, auto_ack: bool = False) -> Tuple[Optional[Basic.GetOk], Optional[BasicProperties], Optional[bytes]]:
        """basic.get: ``(Basic.GetOk, BasicProperties, body)``, or ``(None, None, None)`` when the
        queue is empty."""
        _require_str(queue, "queue")
        q = _name(queue, "queue")
        msg = _c_void_p()
        self._rpc(_lib.swamqp_basic_get, q[1], _ffi.SWAMQP_NO_ACK if auto_ack else 0, _byref(msg))
        if not msg.value:
            return None, None, None
        try:
            f = _fields_at(msg.value)
            method = Basic.GetOk(f[_F_DELIVERY_TAG], f[_F_REDELIVERED], text(_bytes_at(f[_F_EXCHANGE], f[_F_EXCHANGE_LEN])),
                                 text(_bytes_at(f[_F_RKEY], f[_F_RKEY_LEN])), f[_F_MESSAGE_COUNT])
            return method, _properties_from(f), _bytes_at(f[_F_BODY], f[_F_BODY_LEN])
        finally:
            _lib.swamqp_message_free(msg.value)

    def _ack_call(self, fn: Any, delivery_tag: int, flags: int) -> None:
        conn = self._connection
        handle = conn._native.handle
        if handle is None or self._closed_exc is not None or conn._closed_exc is not None:
            raise self._unusable()
        err, ref = _thread_error()
        rc = fn(handle, self._number, delivery_tag, flags, ref)
        if rc == 0:
            return
        if rc == _ffi.SWAMQP_ERR_STALE_DELIVERY_TAG:
            # Delivered before an automatic recovery: the broker redelivers it; nothing to do.
            log.info("channel %d: delivery tag %d is from before the recovery; the broker redelivers it",
                     self._number, delivery_tag)
            ctypes.memset(ref, 0, ctypes.sizeof(err))
            return
        raise self._error(rc, err)

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        self._ack_call(_lib.swamqp_basic_ack, delivery_tag, _ffi.SWAMQP_MULTIPLE if multiple else 0)

    def basic_nack(self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True) -> None:
        self._ack_call(_lib.swamqp_basic_nack, delivery_tag,
                       (_ffi.SWAMQP_MULTIPLE if multiple else 0) | (_ffi.SWAMQP_REQUEUE if requeue else 0))

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        self._ack_call(_lib.swamqp_basic_reject, delivery_tag, _ffi.SWAMQP_REQUEUE if requeue else 0)

    def _reject_quietly(self, delivery_tag: int) -> None:
        try:
            self.basic_reject(delivery_tag, requeue=True)
        except AMQPError as exc:
            log.debug("reject of an undispatched delivery failed: %r", exc)

    # ----------------------------------------------------------------------------------------
    # Confirms, transactions, flow, close
    # ----------------------------------------------------------------------------------------
    def confirm_delivery(self) -> None:
        """confirm.select: from now on basic_publish waits for each message's confirm."""
        if self._confirm:
            log.error("confirm_delivery: confirmation was already enabled on channel=%s", self._number)
            return
        self._rpc(_lib.swamqp_confirm_select)
        self._confirm = True

    def tx_select(self) -> Method:
        self._rpc(_lib.swamqp_tx_select)
        return Method(self._number, Tx.SelectOk())

    def tx_commit(self) -> Method:
        self._rpc(_lib.swamqp_tx_commit)
        return Method(self._number, Tx.CommitOk())

    def tx_rollback(self) -> Method:
        self._rpc(_lib.swamqp_tx_rollback)
        return Method(self._number, Tx.RollbackOk())

    def flow(self, active: bool) -> bool:
        """Not offered: RabbitMQ answers channel.flow(active=False) by closing the whole
        connection (540 NOT_IMPLEMENTED). Use basic_qos to limit deliveries."""
        raise NotImplementedError("channel.flow is not offered (RabbitMQ closes the connection on it); "
                                  "use basic_qos(prefetch_count=...)")

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Cancels the channel's consumers (their undispatched manual-ack deliveries are requeued),
        then closes it (channel.close / close-ok). Raises ChannelWrongStateError when it is
        already closed, as pika does."""
        conn = self._connection
        if self._closed_exc is not None or self._closing or not conn.is_open:
            raise self._unusable()
        try:
            self.stop_consuming()
        except AMQPChannelError as exc:
            log.debug("cancelling consumers before close: %r", exc)
        with conn._lock:
            if self._closed_exc is not None:
                return
            self._closing = True
        try:
            self._rpc(_lib.swamqp_channel_close)
        except AMQPChannelError:
            pass
        finally:
            with conn._lock:
                self._set_closed(ChannelClosedByClient(reply_code, reply_text))
                conn._changed()

    # ----------------------------------------------------------------------------------------
    # Plumbing (the methods called under the connection's lock say so)
    # ----------------------------------------------------------------------------------------
    def _check_usable(self) -> None:
        if self._closed_exc is not None or self._closing or not self._connection.is_open:
            raise self._unusable()

    def _unusable(self) -> BaseException:
        conn = self._connection
        if self._closed_exc is None and conn._closed_exc is None and conn._native.handle is not None \
                and not conn._closing:
            return ChannelWrongStateError("Channel is closing.")
        return self._state_error()

    def _state_error(self) -> BaseException:
        """The error for a call on this closed channel: the broker's close every time, the
        connection's error when the connection ended, else ChannelWrongStateError."""
        conn = self._connection
        exc = self._closed_exc
        if exc is None and conn._closed_exc is None and conn._native.handle is not None:
            return ChannelWrongStateError("Channel is closed.")
        if isinstance(exc, ChannelClosedByBroker):
            return _copy(exc)
        if exc is not None and exc is conn._closed_exc or (exc is None and (conn._closed_exc is not None or conn._native.handle is None)):
            return conn._closed_error()
        return ChannelWrongStateError("Channel is closed.")

    def _error(self, rc: int, err: Any) -> BaseException:
        return self._connection._map_error(ErrorInfo.take(err, rc), self)

    def _raise_if_failed(self) -> None:
        exc = self._closed_exc
        if isinstance(exc, ChannelClosedByBroker):
            raise _copy(exc)
        self._connection._raise_if_lost()

    def _set_closed(self, exc: BaseException) -> None:
        """Under the lock: the channel is over."""
        if self._closed_exc is not None:
            return
        self._closed_exc = exc
        outstanding, self._outstanding = self._outstanding, {}
        for waiter in outstanding.values():
            waiter.done = True
            waiter.error = exc
        self._consumers.clear()
        if self._gen is not None:
            self._gen.cancelled = True
            self._gen = None
        self._pending.clear()

    def _on_closed_event(self, info: Optional[ErrorInfo]) -> None:
        """Under the lock: a CHANNEL_CLOSED event."""
        if self._closed_exc is not None:
            return
        if info is not None and info.origin == _ffi.SWAMQP_ORIGIN_BROKER and info.reply_code:
            self._set_closed(_closed_by_broker(ChannelClosedByBroker, info.reply_code, info.message))
        elif self._closing:
            self._set_closed(ChannelClosedByClient(0, "Normal shutdown"))
        elif info is not None and info.origin == _ffi.SWAMQP_ORIGIN_LIBRARY:
            self._set_closed(ChannelClosed(0, info.message or _ffi.status_name(info.status)))
        # else: the close of an earlier channel with this number, after our own close

    def _on_confirm(self, ack: bool, tag: int, multiple: bool, status: int, info: Optional[ErrorInfo]) -> None:
        """Under the lock: a confirm (ack or nack) for `tag` (and all before it with `multiple`)."""
        out = self._outstanding
        if not out:
            return
        error = self._connection._map_error(info, None, record=False) if (not ack and status and info) else None
        if multiple:
            while out:
                seq = next(iter(out))
                if seq > tag:
                    break
                waiter = out.pop(seq)
                waiter.done, waiter.ack, waiter.error = True, ack, error
        else:
            single = out.pop(tag, None)
            if single is not None:
                single.done, single.ack, single.error = True, ack, error
