"""The dispatch loop's periodic duties: what runs every so often, and when it last ran.

A coordinator has a handful of chores besides feeding workers — renew its
leases (heartbeat), commit outcomes (flush), reap expired leases, poll the
jobs' states, admit new jobs, look for new hosts, preempt for URGENT jobs,
judge whether a job can be placed at all, refresh the progress view. Each is
one :class:`Duty` row (name, interval, the call, when it last ran) in one
:class:`Duties` table, instead of one ``_last_*`` timestamp per chore spread
over the coordinator. A duty belongs to a phase of the loop's turn (the
store work, before a lease, the progress view); :meth:`Duties.run` runs a
phase's due duties in the table's order.

A duty's store calls go through the :class:`StoreGuard` (``guarded``), or the
call says itself whether the store answered. A failure ends the turn's store
work (unless the duty is not ``blocking``), so after an outage the heartbeat
(the first duty) runs alone until it succeeds; and a chore that failed is
tried again on the next turn rather than after a full interval — unless it
is ``stamp_first``, for the chores that must not be retried at once
(admission, host polls, preemption).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from orchestrator.dispatch.storeguard import StoreGuard


def interval_passed(duty: Duty, now: float) -> bool:
    """The default test for being due: the interval passed since the last run."""
    return duty.elapsed(now)


@dataclass(eq=False)
class Duty:
    """One periodic chore of the dispatch loop."""

    name: str
    #: seconds between runs; a callable, since several depend on the jobs run
    interval: Callable[[], float]
    #: the chore; unless ``guarded``, it returns False when the store did not answer
    #: (anything else: done)
    call: Callable[[float], object]
    #: when in the loop's turn it runs (:meth:`Duties.run`): by default with the
    #: store work
    phase: str = "store"
    #: whether it is due now (by default: its interval passed); a chore woken
    #: early (work piled up, a notification) or with nothing to do says so here
    due: Callable[[Duty, float], bool] = field(default=interval_passed)
    #: counts as run before it runs, so a failure waits a full interval
    stamp_first: bool = False
    #: its call is made through the store guard (a StoreUnavailable is a failure)
    guarded: bool = False
    #: a failure ends the turn's store work
    blocking: bool = True
    last_run: float = 0.0

    def elapsed(self, now: float) -> bool:
        return now - self.last_run >= self.interval()


def every(seconds: float) -> Callable[[], float]:
    """A fixed interval."""
    return lambda: seconds


class Duties:
    """The table of duties, by name, in the order they run within a phase."""

    def __init__(self, guard: StoreGuard, duties: Iterable[Duty] = ()) -> None:
        self.guard = guard
        self._duties: dict[str, Duty] = {}
        for duty in duties:
            self.add(duty)

    def add(self, duty: Duty) -> Duty:
        if duty.name in self._duties:
            raise ValueError(f"duty {duty.name!r} twice")
        self._duties[duty.name] = duty
        return duty

    def __getitem__(self, name: str) -> Duty:
        return self._duties[name]

    def run(self, now: float, phase: str) -> bool:
        """Run the due duties of ``phase``, in the table's order; stop at the
        first blocking one whose store call failed (False)."""
        for duty in self._duties.values():
            if duty.phase != phase or not duty.due(duty, now):
                continue
            if duty.stamp_first:
                duty.last_run = now
            if duty.guarded:
                ok = self.guard.attempt(partial(duty.call, now))[0]
            else:
                ok = duty.call(now) is not False
            if ok:
                duty.last_run = now
            elif duty.blocking:
                return False
        return True
