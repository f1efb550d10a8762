"""Store calls that survive a store outage, for the dispatch loop.

The coordinator must never wedge when the database goes away (connection
loss, ``pg_terminate_backend``, a server restart): its workers keep running,
their results stay buffered, and store work resumes when the store answers
again. :meth:`StoreGuard.attempt` makes one try and, on
:class:`StoreUnavailable`, closes the gate for a bounded, growing, jittered
backoff, so the loop skips store work (instead of sleeping) until then.
:meth:`StoreGuard.insist` is for the few calls that must happen (startup,
shutdown): it retries, sleeping, within a deadline.

An outage longer than ``max_outage`` is given up on: the last
:class:`StoreUnavailable` propagates and the run ends with exit code 3; the
leases it held expire on their own and another run takes them over.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from orchestrator.errors import StoreUnavailable

T = TypeVar("T")

#: First and largest pause (seconds) between tries while the store is down.
BACKOFF_MIN_SECONDS = 0.05
BACKOFF_MAX_SECONDS = 5.0
#: An outage longer than this ends the run (StoreUnavailable, exit code 3).
MAX_OUTAGE_SECONDS = 600.0


class StoreGuard:
    """The store's availability as the dispatch loop sees it."""

    def __init__(
        self,
        max_outage: float = MAX_OUTAGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.max_outage = max_outage
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.backoff = 0.0
        self.last_error = ""
        #: outages survived (seconds each), for the run's events
        self.outages: list[float] = []
        #: set when the store answers again after an outage; the loop clears it
        self.recovered = False

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def ready(self) -> bool:
        """Whether store work may be tried now."""
        return self.down_since is None or self.clock() >= self.retry_at

    def attempt(self, call: Callable[[], T]) -> tuple[bool, T | None]:
        """Try ``call`` once: ``(True, result)``, or ``(False, None)`` while the
        store is unavailable (the gate then stays closed for a while)."""
        if not self.ready():
            return False, None
        try:
            result = call()
        except StoreUnavailable as exc:
            self.failed(exc)
            return False, None
        self.succeeded()
        return True, result

    def insist(self, call: Callable[[], T], deadline: float) -> T:
        """Retry ``call`` (sleeping through the backoff) until it succeeds or the
        monotonic ``deadline`` passes; then its StoreUnavailable propagates."""
        while True:
            try:
                result = call()
            except StoreUnavailable as exc:
                self.failed(exc, give_up=False)
                if self.clock() >= deadline:
                    raise
                time.sleep(max(0.0, min(self.retry_at, deadline) - self.clock()))
                continue
            self.succeeded()
            return result

    def failed(self, exc: StoreUnavailable, give_up: bool = True) -> None:
        now = self.clock()
        self.last_error = str(exc)
        if self.down_since is None:
            self.down_since = now
            self.backoff = BACKOFF_MIN_SECONDS
        else:
            self.backoff = min(self.backoff * 2, BACKOFF_MAX_SECONDS)
        self.retry_at = now + self.rng.uniform(self.backoff / 2, self.backoff)
        if give_up and now - self.down_since > self.max_outage:
            raise StoreUnavailable(
                f"the state store stayed unavailable for {now - self.down_since:.0f} s "
                f"(limit {self.max_outage:g} s): {exc}"
            ) from exc

    def succeeded(self) -> None:
        if self.down_since is not None:
            self.outages.append(self.clock() - self.down_since)
            self.recovered = True
        self.down_since = None
        self.backoff = 0.0
