"""Publisher confirms and returns of a Channel: the publish_confirmed calls awaiting their confirm,
their deadlines, and the returns the library matched to them (a RETURN event names the
publish's sequence number). A mixin of :class:`swiftamqp.channel.Channel`,
whose ``__init__`` sets the state these methods use."""

from __future__ import annotations

import bisect
import logging

from . import _ffi
from ._errors import ErrorInfo, make_exception
from ._timeouts import expire_request
from .exceptions import PublishNacked, UndeliverableMessage

log = logging.getLogger("swiftamqp")


class _Outstanding:
    """A publish_confirmed awaiting its confirm."""

    __slots__ = ("future", "message", "returned")

    def __init__(self, future, message):
        self.future = future
        self.message = message
        self.returned = None    # the IncomingMessage when the broker returned it


class _PublisherConfirms:
    """Confirm and return handling of a channel (state set by Channel.__init__: ``_outstanding``,
    ``_confirm_deadlines``, ``_confirm_timer``, ``_plain_nacks``, ``_return_handler``,
    ``_loop``, ``id``)."""

    def _on_return(self, message, sequence):
        """A basic.return; `sequence` is the returned publish's confirm sequence number, which
        the library matched to it (0: none, e.g. outside confirm mode)."""
        entry = self._outstanding.get(sequence) if sequence else None
        if entry is not None and entry.returned is None:
            entry.returned = message  # its publish_confirmed raises UndeliverableMessage
            return
        self._loop.call_soon(self._return_handler, message)

    def _track(self, seq, message, deadline, seconds):
        """Registers a publish_confirmed's sequence; returns the Future its confirm resolves,
        which fails with AMQPTimeoutError at `deadline` (loop time; None: never)."""
        fut = self._loop.create_future()
        self._outstanding[seq] = _Outstanding(fut, message)
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
