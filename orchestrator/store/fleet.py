"""The store's control flow around the jobs: queues, hosts, the coordinator
registry, dead letters and settlement, written once for both dialects.

:class:`SqlStore` completes :class:`orchestrator.store.core.SqlCore` (jobs,
chunks, events) into the whole :class:`Store`; a backend subclasses it and
supplies the adapter hooks both declare. Locks are taken with the
``*_for_update`` queries (``FOR UPDATE`` on PostgreSQL; a plain read under
SQLite's write lock), so each change reads what it replaces and writes one
event in the same transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.errors import IllegalTransition, NotFound
from orchestrator.states import JobState, Priority
from orchestrator.store import rows
from orchestrator.store.attempt_logs import (
    KEEP_PER_CHUNK,
    READ_LIMIT,
    AttemptLog,
    attempt_log,
    read_params,
)
from orchestrator.store.core import SqlCore
from orchestrator.store.hosts import (
    HostEventKind,
    HostRecord,
    HostState,
    host_event_detail,
    host_params,
    host_record,
)
from orchestrator.store.rows import EventKind
from orchestrator.store.tx import Tx

if TYPE_CHECKING:  # spec.ssh is not needed to read a store
    from orchestrator.spec.ssh import HostSpec
    from orchestrator.store.records import JobRecord, LeaseOwner, QueueInfo, QueueStats


def host_missing(name: str) -> NotFound:
    return NotFound(f"host {name!r} is not registered (see `jobctl hosts list`)")


class SqlStore(SqlCore):
    """The whole :class:`Store` over named queries; see the module docstring."""

    # -- the dialect adapter ----------------------------------------------------

    @abc.abstractmethod
    def _renew_held(
        self, tx: Tx, owner: str, leases: Sequence[tuple[int, int]], lease_seconds: float
    ) -> list[Any]:
        """Extend the given ``(chunk_id, token)`` leases ``owner`` still holds;
        every chunk it holds as rows of ``id, fencing_token``."""

    @abc.abstractmethod
    def _purge_dead(self, tx: Tx, job_id: int) -> int:
        """The job's dead chunks -> cancelled, one ``chunk_purged`` event each."""

    def _limits_changed(self) -> None:
        """A queue limit changed in this process (a backend that caches the
        absence of limits forgets it)."""

    # -- queues -------------------------------------------------------------------

    def list_queues(self) -> list[QueueInfo]:
        return [rows.queue_info(r) for r in self._read("list_queues", {})]

    def set_queue_paused(self, name: str, paused: bool) -> bool:
        with self._tx() as tx:
            current = tx.one("get_queue_for_update", {"name": name})
            if bool(current and current["paused"]) == paused:
                return False
            tx.run("upsert_queue_paused", {"name": name, "paused": paused})
            kind = EventKind.QUEUE_PAUSED if paused else EventKind.QUEUE_RESUMED
            tx.events([(kind, None, None, {"queue": name})])
        return True

    def set_queue_limit(self, name: str, limit: int | None) -> bool:
        rows.check_queue_args(limit=limit)
        with self._tx() as tx:
            current = tx.one("get_queue_for_update", {"name": name})
            before = current["concurrency_limit"] if current else None
            if before == limit:
                return False
            tx.run("upsert_queue_limit", {"name": name, "limit": limit})
            detail = {"queue": name, "from": before, "to": limit}
            tx.events([(EventKind.QUEUE_LIMIT, None, None, detail)])
        self._limits_changed()  # this process's next lease sees it at once
        return True

    def queue_stats(self, name: str, since: float) -> QueueStats:
        rows.check_queue_args(since=since)
        params = {"name": name, "queue": name, "since": float(since)}
        with self._tx(write=False) as tx:
            gate = tx.one("get_queue", params)
            counts = tx.all("queue_chunk_counts", params)
            waits = tx.one("queue_waits", params)
            flow = tx.one("queue_flow", params)
        assert waits is not None and flow is not None  # aggregates: always one row
        return rows.queue_stats(name, since, gate, counts, waits, flow)

    # -- hosts --------------------------------------------------------------------

    def add_host(self, host: HostSpec, *, replace: bool = False) -> bool:
        params = host_params(host, rows.dump_json)
        with self._tx() as tx:
            created = tx.one("insert_host", params) is not None
            if not created and not replace:
                return False
            if not created:
                tx.run("update_host", params)
            kind = HostEventKind.HOST_ADDED if created else HostEventKind.HOST_UPDATED
            tx.events([(kind, None, None, host_event_detail(host))])
        return created

    def remove_host(self, name: str) -> bool:
        with self._tx() as tx:
            gone = tx.one("delete_host", {"name": name}) is not None
            if gone:
                tx.events([(HostEventKind.HOST_REMOVED, None, None, {"host": name})])
        return gone

    def get_host(self, name: str) -> HostRecord:
        found = self._read("get_host", {"name": name})
        if not found:
            raise host_missing(name)
        return host_record(found[0], self._loads, rows.to_datetime)

    def list_hosts(self) -> list[HostRecord]:
        found = self._read("list_hosts", {})
        return [host_record(r, self._loads, rows.to_datetime) for r in found]

    def set_host_state(
        self,
        name: str,
        state: HostState,
        *,
        reason: str | None = None,
        automatic: bool = False,
    ) -> bool:
        target = HostState(state).value
        with self._tx() as tx:
            current = tx.one("get_host_for_update", {"name": name})
            if current is None:
                raise host_missing(name)
            params = {"name": name, "state": target, "reason": reason, "automatic": automatic}
            if tx.run("set_host_state", params) != 1:
                return False
            detail = {"host": name, "from": current["state"], "to": target, "reason": reason}
            tx.events([(HostEventKind.HOST_STATE, None, None, detail)])
        return True

    def record_host_stats(
        self,
        name: str,
        *,
        cpu: float | None = None,
        mem: float | None = None,
        load: float | None = None,
        slots_in_use: int = 0,
        successes: int = 0,
        failures: int = 0,
    ) -> None:
        params = {
            "name": name,
            "cpu": cpu,
            "mem": mem,
            "load": load,
            "slots_in_use": slots_in_use,
            "successes": successes,
            "failures": failures,
        }
        with self._tx() as tx:
            tx.run("record_host_stats", params)

    # -- the coordinator registry and dead letters --------------------------------

    def coordinator_heartbeat(
        self, owner: str, leases: Sequence[tuple[int, int]], lease_seconds: float
    ) -> dict[int, int]:
        who = {"owner": owner, "host": self.actor.host, "pid": self.actor.pid}
        with self._tx() as tx:
            tx.run("upsert_coordinator", who)
            held = self._renew_held(tx, owner, leases, float(lease_seconds))
        return {int(r["id"]): int(r["fencing_token"]) for r in held}

    def deregister_coordinator(self, owner: str) -> None:
        with self._tx() as tx:
            tx.run("delete_coordinator", {"owner": owner})
            tx.run("delete_coordinator_jobs", {"owner": owner})

    def registered_coordinators(self) -> list[LeaseOwner]:
        with self._tx(write=False) as tx:
            return [rows.lease_owner(r) for r in tx.all("registered_coordinators")]

    def link_coordinator_job(self, owner: str, job_id: int) -> None:
        with self._tx() as tx:
            tx.run("link_coordinator_job", {"owner": owner, "job_id": job_id})

    def unlink_coordinator_job(self, owner: str, job_id: int) -> None:
        with self._tx() as tx:
            tx.run("unlink_coordinator_job", {"owner": owner, "job_id": job_id})

    def job_coordinators(self, job_ids: Sequence[int]) -> dict[int, list[LeaseOwner]]:
        if not job_ids:
            return {}
        params = {"job_ids": self._array([int(i) for i in job_ids])}
        linked: dict[int, list[LeaseOwner]] = {}
        with self._tx(write=False) as tx:  # a transaction: the heartbeat ages use its clock
            for row in tx.all("job_coordinators", params):
                linked.setdefault(int(row["job_id"]), []).append(rows.lease_owner(row))
        return linked

    def lease_owners(self) -> list[LeaseOwner]:
        with self._tx(write=False) as tx:
            return [rows.lease_owner(r) for r in tx.all("lease_owners")]

    def purge_dead(self, job_id: int) -> int:
        with self._tx() as tx:
            return self._purge_dead(tx, job_id)

    # -- scheduling -------------------------------------------------------------------

    def upstream_jobs(self, job_id: int) -> list[tuple[int, str, JobState]]:
        found = self._read("upstream_jobs", {"job_id": job_id})
        return [(int(r["id"]), str(r["name"]), JobState(r["state"])) for r in found]

    def runnable_jobs(self, queues: Sequence[str] | None, limit: int = 1000) -> list[int]:
        chosen = None if queues is None else self._array(list(queues))
        found = self._read("runnable_jobs", {"queues": chosen, "limit": limit})
        return [int(r["id"]) for r in found]

    def claim_settlement(
        self, job_id: int, owner: str, seconds: float, take_from: str | None = None
    ) -> bool:
        params = {"job_id": job_id, "owner": owner, "seconds": float(seconds)}
        with self._tx() as tx:
            return tx.one("claim_settlement", {**params, "take_from": take_from}) is not None

    def settlement_holder(self, job_id: int) -> LeaseOwner | None:
        with self._tx(write=False) as tx:
            row = tx.one("settlement_holder", {"job_id": job_id})
        return None if row is None else rows.lease_owner(row)

    def set_job_priority(self, job_id: int, priority: Priority) -> JobRecord:
        with self._tx() as tx:
            current = self._lock_job(tx, job_id)
            row = tx.one("update_job_priority", {"job_id": job_id, "priority": int(priority)})
            if row is None:
                raise IllegalTransition(
                    f"job {job_id} is {current['state']}: only a pending or running "
                    "job's priority can change"
                )
            detail = {"from": Priority(current["priority"]).name, "to": priority.name}
            tx.events([(EventKind.JOB_PRIORITY, job_id, None, detail)])
            self._notify(tx, f"priority {job_id}")
        return rows.job_record(row, self._loads)

    # -- attempt logs (store/attempt_logs.py) ----------------------------------------

    def save_attempt_logs(self, logs: Sequence[AttemptLog]) -> None:
        if not logs:
            return
        job_ids = self._array(sorted({log.job_id for log in logs}))
        with self._tx() as tx:
            for log in logs:  # few: only attempts that failed or printed something
                tx.run("insert_attempt_log", log.params())
            tx.run("prune_attempt_logs", {"job_ids": job_ids, "keep": KEEP_PER_CHUNK})

    def attempt_logs(
        self,
        job_id: int,
        seq: int | None = None,
        attempt: int | None = None,
        after_id: int = 0,
        limit: int = READ_LIMIT,
    ) -> list[AttemptLog]:
        params = read_params(job_id, seq, attempt, after_id, limit)
        return [attempt_log(r) for r in self._read("attempt_logs", params)]
