"""What the slots of one remote host share: its transport, health, transfer mode, statistics.

A :class:`RemoteHost` is created per host by the factory. Its slots open their
channels on its one :class:`HostConnection`; it tells the run's listener
when the host comes up or goes down (so the hosts table follows), remembers
per job whether data travels by shared storage or by push (``transfer:
auto`` decides once per host and job with a probe), and gathers heartbeat
figures (cpu/mem/load from the workers, busy slots, successes and failures)
for the listener at most every :data:`STATS_SECONDS`. Slot choice
(``dispatch/placement.py``) reads the last figures, the recent success rate
and the last error from here, in memory: the hot path never asks the store.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import HostUnreachable, SshError
from orchestrator.executors.ssh.connect import HostConnection
from orchestrator.executors.ssh.remote_commands import kill_worker_command, remote_path
from orchestrator.spec.ssh import HostSpec

#: seconds between heartbeat reports of one host (and pings asking for its figures)
STATS_SECONDS = 5.0
#: seconds a host's maintenance flag is trusted before it is asked again
STATE_PROBE_SECONDS = 2.0
#: weight of the newest result in a host's recent success rate (moving average)
SUCCESS_RATE_WEIGHT = 0.2


@dataclass
class HostStats:
    """A heartbeat's figures, reported to the run's listener."""

    cpu: float | None = None
    mem: float | None = None
    load: float | None = None
    #: bytes of memory available, when the worker reports ``mem_free``
    mem_free: int | None = None
    slots_in_use: int = 0
    successes: int = 0
    failures: int = 0


@dataclass
class HostEvents:
    """Callbacks of a run (all optional, called on the dispatcher's thread)."""

    #: host came up (``None`` reason) or went down: (host name, up, error or None)
    on_state: Callable[[str, bool, SshError | None], None] | None = None
    #: periodic figures
    on_stats: Callable[[str, HostStats], None] | None = None
    #: True when a user drained the host (take no new chunks)
    is_drained: Callable[[str], bool] | None = None
    #: transfer mode per job key: auto | shared | push (default: auto)
    transfer_for: Callable[[str], str] = field(default=lambda key: "auto")


class RemoteHost:
    """See the module docstring."""

    def __init__(self, spec: HostSpec, connection: HostConnection, events: HostEvents) -> None:
        self.spec = spec
        self.connection = connection
        self.events = events
        self.up: bool | None = None
        #: why the host last failed (None once it answers again)
        self.last_error: SshError | None = None
        #: the last figures reported (kept between reports, unlike ``_stats``)
        self.figures = HostStats()
        #: moving average of chunk outcomes on the host in this run (None: none yet)
        self.success_rate: float | None = None
        self._modes: dict[str, str] = {}
        self._stats = HostStats()
        self._stats_at = time.monotonic()
        self._ping_at = 0.0
        self._busy: dict[int, int] = {}  # slot -> runs in flight
        self._drained = False
        self._drained_at = 0.0

    @property
    def name(self) -> str:
        return self.spec.name

    # -- health ------------------------------------------------------------------------

    def mark(self, up: bool, error: SshError | None = None) -> None:
        """The host answered (``up``) or failed; tell the listener on a change."""
        if self.up == up and up:
            return
        self.up = up
        self.last_error = None if up else error
        if self.events.on_state is not None:
            self.events.on_state(self.name, up, error)

    def drained(self) -> bool:
        """A user drained the host (asked at most every STATE_PROBE_SECONDS)."""
        probe = self.events.is_drained
        if probe is None:
            return False
        now = time.monotonic()
        if now - self._drained_at > STATE_PROBE_SECONDS:
            self._drained_at = now
            with contextlib.suppress(Exception):  # the store being away must not stop slots
                self._drained = probe(self.name)
        return self._drained

    def kill_remote(self, pid: int) -> None:
        """SIGKILL a remote worker over a fresh channel, in the background, best effort."""
        if not self.connection.is_active():
            return

        def kill() -> None:
            with contextlib.suppress(SshError, ValueError):
                self.connection.run(kill_worker_command(pid), timeout=10)

        threading.Thread(target=kill, name=f"kill-{self.name}-{pid}", daemon=True).start()

    # -- transfer mode --------------------------------------------------------------------

    def mode_for(self, job: dict[str, Any], chunk: dict[str, Any]) -> str:
        """``shared`` or ``push`` for a job on this host (probed once for ``auto``)."""
        key = str(job.get("key"))
        mode = self._modes.get(key)
        if mode is not None:
            return mode
        if len(job) <= 1:  # key only: this host has seen the job; default safely
            return "push"
        mode = self.events.transfer_for(key)
        if mode not in ("shared", "push"):
            mode = (
                "shared" if self.sees_paths(job.get("staging_dir"), chunk.get("path")) else "push"
            )
        self._modes[key] = mode
        return mode

    def sees_paths(self, staging_dir: str | None, input_path: str | None) -> bool:
        """Whether the host reads ``input_path`` and the staging dir as we do: the
        input has the same size there, and a token file written here into the
        staging dir reads back the same there."""
        try:
            if input_path and "://" not in input_path:
                size = os.path.getsize(input_path)
                result = self.connection.run(f"wc -c < {remote_path(input_path)}", timeout=30)
                if not result.ok or result.text() != str(size):
                    return False
            if staging_dir:
                os.makedirs(staging_dir, exist_ok=True)
                token = secrets.token_hex(16)
                probe = os.path.join(staging_dir, f".probe-{token}")
                with open(probe, "w") as f:
                    f.write(token)
                try:
                    result = self.connection.run(f"cat {remote_path(probe)}", timeout=30)
                finally:
                    with contextlib.suppress(OSError):
                        os.unlink(probe)
                if not result.ok or result.text() != token:
                    return False
        except (OSError, SshError):
            return False
        return True

    # -- statistics -------------------------------------------------------------------------

    def run_started(self, slot: int) -> None:
        self._busy[slot] = self._busy.get(slot, 0) + 1

    def run_ended(self, slot: int, ok: bool) -> None:
        self._busy[slot] = max(0, self._busy.get(slot, 0) - 1)
        if ok:
            self._stats.successes += 1
        else:
            self._stats.failures += 1
        outcome = 1.0 if ok else 0.0
        rate = self.success_rate
        self.success_rate = (
            outcome if rate is None else rate + (outcome - rate) * SUCCESS_RATE_WEIGHT
        )

    def busy(self, slot: int) -> bool:
        return self._busy.get(slot, 0) > 0

    def slot_reset(self, slot: int) -> None:
        self._busy.pop(slot, None)

    def on_figures(self, stats: dict[str, Any]) -> None:
        """cpu/mem/load (and free memory) a worker reported (ready message or pong)."""
        for name in ("cpu", "mem", "load"):
            value = stats.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                setattr(self._stats, name, float(value))
                setattr(self.figures, name, float(value))
        free = stats.get("mem_free")
        if isinstance(free, int) and not isinstance(free, bool) and free >= 0:
            self._stats.mem_free = self.figures.mem_free = free

    def wants_ping(self) -> bool:
        """True at most once per STATS_SECONDS: ask one worker for fresh figures."""
        now = time.monotonic()
        if now - self._ping_at < STATS_SECONDS:
            return False
        self._ping_at = now
        return True

    def report(self, force: bool = False) -> None:
        """Hand the gathered figures to the listener (every STATS_SECONDS)."""
        now = time.monotonic()
        if self.events.on_stats is None or (not force and now - self._stats_at < STATS_SECONDS):
            return
        self._stats_at = now
        stats, self._stats = self._stats, HostStats(cpu=None, mem=None, load=None)
        stats.slots_in_use = sum(1 for n in self._busy.values() if n > 0)
        with contextlib.suppress(Exception):
            self.events.on_stats(self.name, stats)

    def close(self) -> None:
        self.report(force=True)
        self.connection.close()


def down_reason(error: BaseException | None) -> str:
    """``offline`` for a host that does not answer, ``error`` for one that refuses."""
    return "offline" if error is None or isinstance(error, HostUnreachable) else "error"
