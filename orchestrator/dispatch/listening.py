"""The LISTEN channel of a serving coordinator: woken at once by a submit.

PostgreSQL tells a ``serve`` about new jobs on a dedicated connection whose
socket sits in the loop's selector. When the server goes away that
connection dies with it: the channel is dropped (the descriptor it was
registered with is kept here, because a dead psycopg connection no longer
answers ``fileno()``), the coordinator polls meanwhile, and the channel is
opened again once the store answers (:meth:`Listening.reopen`, called after
a reconnect and now and then while polling).
"""

from __future__ import annotations

import contextlib
import selectors
import time

from orchestrator.dispatch.tracking import JobTracker
from orchestrator.errors import StoreUnavailable

#: While serving without a channel, try to open it again this often (seconds).
RELISTEN_SECONDS = 2.0


class Listening:
    """Keeps the tracker's listener registered in the selector, or reopens it."""

    def __init__(self, tracker: JobTracker, selector: selectors.BaseSelector) -> None:
        self.tracker = tracker
        self.selector = selector
        self._fd: int | None = None
        self._next_try = 0.0
        #: times the channel was opened again after it broke
        self.reopened = 0

    def start(self) -> None:
        """Open the channel (serve on PostgreSQL) and watch its socket."""
        self.tracker.listen()
        self._register()

    def on_readable(self) -> bool:
        """Take in the notifications; whether a job may have come. A broken
        channel is dropped (polling from now on, until :meth:`reopen`)."""
        try:
            return self.tracker.notified()
        except StoreUnavailable:
            self.drop()
            return False

    def reopen(self, now: float | None = None) -> bool:
        """Open the channel again if it broke (the store answers again);
        whether it is open now. Tries at most every :data:`RELISTEN_SECONDS`
        unless ``now`` is None (right after a reconnect)."""
        if self.tracker.listener is not None or not self.tracker.serving:
            return self.tracker.listener is not None
        if now is not None and now < self._next_try:
            return False
        self._next_try = time.monotonic() + RELISTEN_SECONDS
        self.tracker.listen()
        if self.tracker.listener is None:
            return False
        self._register()
        self.reopened += 1
        self.tracker.admit_due = True  # what was submitted meanwhile is looked for now
        return True

    def drop(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.selector.unregister(self._fd)
            self._fd = None
        self.tracker.stop_listening()
        self._next_try = time.monotonic() + RELISTEN_SECONDS

    def _register(self) -> None:
        listener = self.tracker.listener
        if listener is None:
            return
        try:
            self._fd = listener.fileno()
            self.selector.register(self._fd, selectors.EVENT_READ, listener)
        except (StoreUnavailable, OSError, ValueError, KeyError):
            self._fd = None
            self.tracker.stop_listening()
