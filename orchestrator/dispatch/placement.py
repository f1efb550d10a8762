"""Which slot runs a leased chunk, and what happens to a job no slot can run.

The coordinator asks :class:`Placement` two things on its hot path: which of
its jobs may lease now (at least one usable slot passes the job's hard
filters), and, per leased chunk, which slot gets it. Both are answered from
memory: the hosts' figures are refreshed at most every
:data:`FIGURES_SECONDS` (remote hosts from what their workers last reported,
kept by :class:`~orchestrator.executors.ssh.host.RemoteHost`; local slots are
host ``localhost`` with this machine's figures from
:mod:`orchestrator.monitoring.hoststats`), and each job's ranked slots are
cached until the usable slots or the figures change. Nothing here touches the
store except :func:`end_unplaceable`, called once per job that gives up.

**Hard filters** (:func:`~orchestrator.dispatch.scoring.rejection`): the slot
belongs to the job's executor (its ``executor.ssh`` hosts; local slots when
it has ``executor.local``, no ``executor.ssh``, or the run was given
``--workers``), the job's
``executor.ssh.requires`` (pool, labels, free memory), the host is online
(not drained). **Choice**: the shortest queue first, the decision-7 score
breaking ties. Queue length goes first because the queues are the real
measure of throughput: a slow or loaded host drains its queue slower and so
gets fewer chunks without being asked, and keeping queues even is what bounds
the chunks a lost host takes down with it. A pure score order would pile a
batch of leases onto the one best host until the next figures arrive (every
few seconds), far slower than chunks are dispatched. So the score decides
among equally short queues — which, with batched leases, is most decisions:
idle capacity goes to the least loaded, best matching, most reliable host
first, and a host whose figures worsen loses its ties.

**A job no slot can run** never hangs a run:

- refused at start: when no slot of the run passes its static filters
  (executor, pool, labels) or every host it could use refused its host key
  (an unknown or changed key needs a person; see ``--accept-new-host-keys``),
  it fails at once, the error naming the requirement and every host's reason;
- bounded wait: when its slots are only unusable now (hosts down and retried
  with backoff, drained, short of free memory), its chunks stay pending — it
  is not leased for — and after ``executor.ssh.unreachable_timeout``
  (default 5 minutes) without a usable slot it fails with the same kind of
  error. Its chunks stay pending in the store, so ``jobctl resume`` goes on
  when the hosts are back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.dispatch.active import ActiveJob
from orchestrator.dispatch.lifecycle import settle_job
from orchestrator.dispatch.scoring import Candidate, Requirements, rejection, score
from orchestrator.errors import HostKeyRejected, IllegalTransition, JobctlError
from orchestrator.executors.base import Slot
from orchestrator.spec.model import JobSpec
from orchestrator.spec.ssh import (
    DEFAULT_UNREACHABLE_TIMEOUT,
    HostRequirements,
    requirements_from_dict,
)
from orchestrator.states import JobState
from orchestrator.store.base import Store

#: seconds between refreshes of the hosts' figures (scores are cached between)
FIGURES_SECONDS = 2.0
#: the host name of local slots
LOCALHOST = "localhost"
#: the pool local slots are in
LOCAL_POOL = "default"
#: events.kind of a job that failed because no slot could run it
UNPLACEABLE_EVENT = "job_unplaceable"

Figures = tuple[float | None, float | None, float | None, int | None]  # cpu, mem, load, free


def local_figures() -> Figures:
    """This machine's cpu, mem, load (fractions) and available memory (bytes)."""
    from orchestrator.monitoring.hoststats import host_stats

    stats = host_stats()
    return (
        _as_float(stats.get("cpu")),
        _as_float(stats.get("mem")),
        _as_float(stats.get("load")),
        _available_memory(),
    )


def _as_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _available_memory() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (None where there is none)."""
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo", "rb") as f:
        for line in f:
            if line.startswith(b"MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


@dataclass
class JobRules:
    """One job's filters, as the placement reads them from its spec."""

    needs: Requirements
    described: str  # the requirement in words, for errors ("" when none)
    hosts: frozenset[str]  # the hosts of its executor.ssh
    local: bool  # may run on local slots
    wait: float  # executor.ssh.unreachable_timeout

    @classmethod
    def of(cls, spec: JobSpec, local_option: bool) -> JobRules:
        section = spec.executor.ssh
        hosts: frozenset[str] = frozenset()
        wait = DEFAULT_UNREACHABLE_TIMEOUT
        wanted = requirements_from_dict(None)
        if section:
            wait, wanted = section.unreachable_timeout, section.requires
            with contextlib.suppress(JobctlError):  # a broken hosts file failed the run earlier
                hosts = frozenset(host.name for host in section.resolve().hosts)
        return cls(
            needs=_requirements(wanted),
            described=wanted.describe(),
            hosts=hosts,
            local=spec.executor.local is not None or not section or local_option,
            wait=wait,
        )


def _requirements(wanted: HostRequirements) -> Requirements:
    return Requirements(
        pool=wanted.pool,
        labels=frozenset(wanted.labels),
        preferred_labels=frozenset(wanted.preferred_labels),
        memory=wanted.memory,
    )


@dataclass
class _JobView:
    """A job's usable slots, best score first (valid for one usable set and figures)."""

    key: tuple[int, tuple[int, ...]]
    ranked: list[Slot]
    starved_since: float | None = None


class Placement:
    """See the module docstring. One per coordinator run; not thread-safe."""

    def __init__(
        self,
        slots: Sequence[Slot],
        *,
        local_option: bool = False,
        serving: bool = False,
        figures: Callable[[], Figures] = local_figures,
    ) -> None:
        self.slots = list(slots)
        self.local_option = local_option
        #: a serve's slots run every job it serves (only requires/prefers filter)
        self.serving = serving
        self.rules: dict[int, JobRules] = {}  # jobs come and go (serve): read on first sight
        self._local_figures = figures
        self._candidates: dict[str, Candidate] = {}
        self._version = 0
        self._refreshed = float("-inf")
        self._usable: list[Slot] = []
        self._usable_key: tuple[int, ...] = ()
        self._views: dict[int, _JobView] = {}
        self._seen: set[int] = set()  # jobs asked about since the last refresh

    # -- what the coordinator calls ------------------------------------------------------

    def update(self, usable: Sequence[Slot], now: float) -> None:
        """The slots usable now; refreshes the figures when they are due."""
        if now - self._refreshed >= FIGURES_SECONDS:
            self._refreshed = now
            self._refresh()
        key = tuple(s.slot for s in usable)
        if key != self._usable_key:
            self._usable, self._usable_key = list(usable), key

    def add_slot(self, slot: Slot) -> None:
        """A slot that joined the run (a serve's host added while it serves)."""
        self.slots.append(slot)
        self._refreshed = float("-inf")  # its host's figures at the next update

    def placeable(self, job_id: int, spec: JobSpec) -> bool:
        """Whether a usable slot can take the job's chunks now (lease for it)."""
        return bool(self._view(job_id, spec).ranked)

    def choose(self, job_id: int, spec: JobSpec, queues: Mapping[int, Sequence[Any]]) -> Slot:
        """The slot for one chunk of the job: the shortest queue, the best score on a tie.

        Only called for a job that is :meth:`placeable` (else: any usable slot).
        """
        ranked = self._view(job_id, spec).ranked or self._usable
        best, shortest = ranked[0], len(queues[ranked[0].slot])
        for slot in ranked:
            length = len(queues[slot.slot])
            if length < shortest:
                best, shortest = slot, length
                if not length:
                    break
        return best

    def unplaceable(self, jobs: Mapping[int, JobSpec], now: float) -> list[tuple[int, str]]:
        """Of the running ``jobs``, those to end now, with the error: refused at
        start, or no usable slot for longer than their bound."""
        ended: list[tuple[int, str]] = []
        for job_id, spec in jobs.items():
            view = self._view(job_id, spec)
            rules = self.rules[job_id]
            if view.ranked:
                view.starved_since = None
                continue
            message = self._refusal(rules)
            if message is None:
                if view.starved_since is None:
                    view.starved_since = now
                if now - view.starved_since < rules.wait:
                    continue
                message = (
                    f"no slot could take its chunks for {rules.wait:g}s "
                    f"(executor.ssh.unreachable_timeout){self._wanted(rules)}: "
                    + self._reasons(rules)
                )
            ended.append((job_id, message))
        return ended

    # -- internals ---------------------------------------------------------------------------

    def _refresh(self) -> None:
        self._version += 1
        # forget jobs no longer asked about (a serving coordinator sees many)
        self.rules = {job_id: r for job_id, r in self.rules.items() if job_id in self._seen}
        self._views = {job_id: v for job_id, v in self._views.items() if job_id in self._seen}
        self._seen = set()
        local = None
        candidates: dict[str, Candidate] = {}
        for slot in self.slots:
            if slot.host in candidates:
                continue
            remote = _remote(slot)
            if remote is None:
                local = local or self._local_figures()
                cpu, mem, load, free = local
                candidates[slot.host] = Candidate(
                    LOCALHOST, LOCAL_POOL, cpu=cpu, mem=mem, load=load, free_memory=free
                )
                continue
            figures = remote.figures
            candidates[slot.host] = Candidate(
                slot.host,
                remote.spec.pool,
                frozenset(remote.spec.labels),
                state="maintenance" if remote.drained() else "online",
                cpu=figures.cpu,
                mem=figures.mem,
                load=figures.load,
                free_memory=figures.mem_free,
                success_rate=remote.success_rate,
            )
        self._candidates = candidates

    def _view(self, job_id: int, spec: JobSpec) -> _JobView:
        key = (self._version, self._usable_key)
        view = self._views.get(job_id)
        if view is not None and view.key == key:
            return view
        self._seen.add(job_id)
        rules = self.rules.get(job_id)
        if rules is None:
            rules = self.rules[job_id] = JobRules.of(spec, self.local_option)
        scored = [
            (score(self._candidates[s.host], rules.needs), s.host, s.slot, s)
            for s in self._usable
            if self._rejection(s, rules) is None
        ]
        scored.sort(key=lambda item: (-item[0], item[1], item[2]))
        ranked = [item[3] for item in scored]
        fresh = _JobView(key, ranked, view.starved_since if view is not None else None)
        self._views[job_id] = fresh
        return fresh

    def _static_rejection(self, slot: Slot, rules: JobRules) -> str | None:
        """Why a slot can never serve the job in this run (executor, pool, labels)."""
        if _remote(slot) is None:
            if not rules.local and not self.serving:
                return "local slots: the job has no executor.local"
            candidate = self._candidates.get(slot.host) or Candidate(LOCALHOST, LOCAL_POOL)
        else:
            if slot.host not in rules.hosts and not self.serving:
                return "not a host of the job's executor.ssh"
            candidate = self._candidates.get(slot.host) or _static_candidate(slot)
        fixed = Requirements(pool=rules.needs.pool, labels=rules.needs.labels)
        return rejection(candidate, fixed)

    def _rejection(self, slot: Slot, rules: JobRules) -> str | None:
        static = self._static_rejection(slot, rules)
        if static is not None:
            return static
        return rejection(self._candidates[slot.host], rules.needs)

    def _refusal(self, rules: JobRules) -> str | None:
        """The error of a job that cannot run in this run at all, else None."""
        possible = [s for s in self.slots if self._static_rejection(s, rules) is None]
        if not possible:
            return (
                f"no slot of this run can take its chunks{self._wanted(rules)}: "
                + self._reasons(rules)
            )
        refused = [s for s in possible if isinstance(_last_error(s), HostKeyRejected)]
        if len(refused) == len(possible):
            return "every host it could use refused: " + self._reasons(rules)
        return None

    def _wanted(self, rules: JobRules) -> str:
        return f" (executor.ssh.requires: {rules.described})" if rules.described else ""

    def _reasons(self, rules: JobRules) -> str:
        """Per host, why none of its slots can take the chunks now."""
        usable = set(self._usable_key)
        reasons: dict[str, str] = {}
        for slot in self.slots:
            name = LOCALHOST if _remote(slot) is None else slot.host
            if name in reasons:
                continue
            why = self._rejection(slot, rules)
            if why is None and slot.slot not in usable:
                error = _last_error(slot)
                why = str(error) if error is not None else "its worker is not running"
            if why is not None:
                reasons[name] = why
        return "; ".join(f"{name}: {why}" for name, why in sorted(reasons.items()))


def _remote(slot: Slot) -> Any:
    """The :class:`RemoteHost` of an SSH slot, None for a local slot."""
    return getattr(slot, "remote", None)


def _last_error(slot: Slot) -> BaseException | None:
    remote = _remote(slot)
    return None if remote is None else remote.last_error


def _static_candidate(slot: Slot) -> Candidate:
    spec = _remote(slot).spec
    return Candidate(slot.host, spec.pool, frozenset(spec.labels))


def end_unplaceable(store: Store, job: ActiveJob, message: str) -> Callable[[], JobState]:
    """The store work that ends a job no slot can run (for ``StoreGuard.attempt``):
    it returns the job's final state, which may turn out to be finished."""

    def end() -> JobState:
        state = settle_job(store, job)  # every chunk may be done already
        if state is not None:
            return state
        job_id = job.record.id
        store.record_event(UNPLACEABLE_EVENT, job_id=job_id, detail={"error": message})
        try:
            store.set_job_state(job_id, JobState.FAILED, error=message)
        except IllegalTransition:  # it ended meanwhile (a cancel)
            return store.get_job(job_id).state
        return JobState.FAILED

    return end
