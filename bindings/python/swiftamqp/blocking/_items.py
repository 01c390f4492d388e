"""What the dispatcher's leader routes: the kinds of the items it copies out of an event batch,
the kinds of a channel's pending items, and the records consumers and confirm-mode publishers
wait on."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any, Callable, Deque, List, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from ._spec import ReturnedMessage


# ============================================================================================
# Routed items (what the leader copies out of an event batch)
# ============================================================================================
# Items of a channel's pending queue are (kind, channel number, consumer tag, payload): a
# delivery's is the very tuple the leader made (_K_DELIVERY), so routing allocates nothing.
_DELIVERY, _RETURN, _CANCEL = 1, 102, 103

# consumer states
_ACTIVE, _TEARING_DOWN = 1, 2


class _ConsumerInfo:
    __slots__ = ("tag", "auto_ack", "callback", "state", "leftover", "generator")

    def __init__(self, tag: str, auto_ack: bool, callback: Optional[Callable[..., Any]],
                 generator: bool = False) -> None:
        self.tag = tag
        self.auto_ack = auto_ack
        self.callback = callback
        self.state = _ACTIVE
        self.leftover: List[Tuple[Any, Any, Any]] = []
        self.generator = generator


class _Generator:
    """The consumer behind BlockingChannel.consume()."""

    __slots__ = ("params", "tag", "pending", "cancelled")

    def __init__(self, params: Tuple[str, bool, bool], tag: str) -> None:
        self.params = params
        self.tag = tag
        self.pending: Deque[Any] = collections.deque()  # (method, props, body) or None (broker cancel)
        self.cancelled = False


class _Confirm:
    """A confirm-mode publish waiting for its ack or nack."""

    __slots__ = ("done", "ack", "error", "returned")

    def __init__(self) -> None:
        self.done = False
        self.ack = False
        self.error: Optional[BaseException] = None
        self.returned: Optional[ReturnedMessage] = None


_K_DELIVERY, _K_CONFIRM, _K_RETURN, _K_CHANNEL_CLOSED, _K_CONNECTION_CLOSED, _K_CANCELLED = range(1, 7)
_K_BLOCKED, _K_UNBLOCKED, _K_RECOVERY_STARTED, _K_RECOVERED, _K_LATE_GET, _K_GONE = range(7, 13)
assert _DELIVERY == _K_DELIVERY  # a routed delivery tuple is queued as it is
