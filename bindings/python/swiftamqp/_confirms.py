"""Publisher confirms and returns of a Channel: the publish_confirmed calls awaiting their confirm,
their deadlines, and the returns matched to them. A mixin of :class:`swiftamqp.channel.Channel`,
whose ``__init__`` sets the state these methods use."""

from __future__ import annotations

import bisect
import collections
import logging

from . import _ffi
from ._errors import ErrorInfo, make_exception
from ._timeouts import expire_request
from .exceptions import PublishNacked, UndeliverableMessage

log = logging.getLogger("swiftamqp")


class _Outstanding:
    """A publish_confirmed awaiting its confirm."""

    __slots__ = ("future", "message", "key", "returned")

    def __init__(self, future, message, key):
        self.future = future
        self.message = message
        self.key = key          # (exchange, routing_key) for mandatory publishes, else None
        self.returned = None    # the IncomingMessage when the broker returned it


class _PublisherConfirms:
    """Confirm and return handling of a channel (state set by Channel.__init__: ``_outstanding``,
    ``_mandatory``, ``_confirm_deadlines``, ``_confirm_timer``, ``_plain_nacks``,
    ``_return_handler``, ``_loop``, ``id``)."""

    def _on_return(self, message):
        if self._outstanding and self._mandatory:
            entry = self._match_return(message)
            if entry is not None:
                entry.returned = message
                return
        self._loop.call_soon(self._return_handler, message)

    def _match_return(self, message):
        """The outstanding mandatory publish_confirmed that `message` (a basic.return) is.

        A return names no sequence number, but RabbitMQ sends it before the confirm of its
        publish, so that publish is still outstanding: it is the oldest one with the same
        exchange, routing key and body (identical messages are indistinguishable anyway)."""
        key = (message.exchange_name, message.routing_key)
        sequences = self._mandatory.get(key)
        if not sequences:
            return None
        for seq in sequences:
            entry = self._outstanding.get(seq)
            if entry is not None and entry.returned is None and entry.message.body == message.body:
                return entry
        return None

    def _track(self, seq, message, mandatory, exchange_name, routing_key, deadline, seconds):
        """Registers a publish_confirmed's sequence; returns the Future its confirm resolves,
        which fails with AMQPTimeoutError at `deadline` (loop time; None: never)."""
        fut = self._loop.create_future()
        key = None
        if mandatory:
            key = (exchange_name, routing_key)
            self._mandatory.setdefault(key, collections.deque()).append(seq)
        self._outstanding[seq] = _Outstanding(fut, message, key)
        if deadline is not None:
            deadlines = self._confirm_deadlines
            item = (deadline, seq, seconds)
            if not deadlines or deadline >= deadlines[-1][0]:
                deadlines.append(item)  # the usual case: one timeout, so deadlines only grow
            else:
                deadlines.insert(bisect.bisect(deadlines, item), item)
            timer = self._confirm_timer
            if timer is None or deadline < timer.when():
                if timer is not None:
                    timer.cancel()
                self._confirm_timer = self._loop.call_at(deadlines[0][0], self._expire_confirms)
        return fut

    def _expire_confirms(self):
        self._confirm_timer = None
        deadlines, outstanding = self._confirm_deadlines, self._outstanding
        now = self._loop.time()
        while deadlines and deadlines[0][0] <= now:
            _, seq, seconds = deadlines.popleft()
            entry = outstanding.get(seq)
            if entry is not None:
                expire_request(entry.future, "publish_confirmed (sequence %d)" % seq, seconds)
        self._trim_deadlines()

    def _trim_deadlines(self):
        """Drops the deadlines of publishes no longer waited for and arms the timer for the
        earliest one left."""
        deadlines, outstanding = self._confirm_deadlines, self._outstanding
        while deadlines:
            entry = outstanding.get(deadlines[0][1])
            if entry is not None and not entry.future.done():
                break
            deadlines.popleft()
        timer = self._confirm_timer
        if not deadlines:
            if timer is not None:  # nothing left to expire: no timer keeps the channel alive
                timer.cancel()
                self._confirm_timer = None
        elif timer is None:
            self._confirm_timer = self._loop.call_at(deadlines[0][0], self._expire_confirms)

    def _on_confirm(self, tag, flags, status, ack, error):
        """A CONFIRM_ACK / CONFIRM_NACK event's fields (`error`: its swamqp_error pointer)."""
        outstanding = self._outstanding
        multiple = flags & _ffi.SWAMQP_EVENT_FLAG_MULTIPLE
        if multiple:
            done = []
            while outstanding:
                seq = next(iter(outstanding))
                if seq > tag:
                    break
                done.append((seq, outstanding.popitem(last=False)[1]))
        else:
            entry = outstanding.pop(tag, None)
            done = [(tag, entry)] if entry is not None else []
        if not ack and not done and status == 0:
            self._plain_nacks += 1
            log.warning("channel %d: the broker nacked publish %d%s", self.id, tag,
                        " and earlier ones" if multiple else "")
        failure = None
        if not ack and status:
            failure = make_exception(ErrorInfo.from_pointer(error, status))
        for seq, entry in done:
            if entry.key is not None:
                self._forget_mandatory(entry.key, seq)
            fut = entry.future
            if fut.done():
                continue  # the publisher stopped waiting
            if failure is not None:
                fut.set_exception(failure)
            elif not ack:
                fut.set_exception(PublishNacked("the broker nacked publish %d" % seq, entry.message, seq))
            elif entry.returned is not None:
                exc = UndeliverableMessage(entry.returned)
                exc.sequence = seq
                fut.set_exception(exc)
            else:
                fut.set_result(None)
        deadlines = self._confirm_deadlines
        if deadlines and deadlines[0][1] not in outstanding:
            self._trim_deadlines()

    def _forget_mandatory(self, key, seq):
        sequences = self._mandatory.get(key)
        if sequences is None:
            return
        if sequences and sequences[0] == seq:
            sequences.popleft()
        else:
            try:
                sequences.remove(seq)
            except ValueError:
                pass
        if not sequences:
            del self._mandatory[key]
