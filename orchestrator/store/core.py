"""The store's control flow, written once for both dialects.

:class:`SqlStore` owns what every backend must do the same way: which rows a
call locks and in what order, when it raises :class:`NotFound` or
:class:`IllegalTransition`, which transitions the state tables allow, the
fencing checks, and which ``events`` row each change writes in its own
transaction. It speaks to the database only through named queries (the same
name in ``sql/postgres.sql`` and ``sql/sqlite.sql``) run on a :class:`Tx`, and
through a few hooks where the dialects truly differ:

- the transaction itself (a pooled psycopg connection, or ``BEGIN IMMEDIATE``
  on the one SQLite connection) and how a list is bound (array or JSON text);
- bulk loading chunks (``COPY`` or ``executemany``);
- the batch moves of chunks (lease, complete, back to pending, cancel,
  requeue, purge): one data-modifying statement on PostgreSQL, a select of the
  victims and a few set-based statements on SQLite, which has neither
  ``SKIP LOCKED`` nor writable CTEs;
- wake-ups (``NOTIFY``; SQLite has none).

Queues, hosts, the coordinator registry and settlement are the rest of the
same class, :class:`orchestrator.store.fleet.SqlStore`, in its own module.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from orchestrator.errors import IllegalTransition, NotFound, SchemaTooNew
from orchestrator.states import (
    CHUNK_CANCELLED_WITH_JOB,
    JOB_ACTIVE,
    JOB_TERMINAL,
    ChunkState,
    JobState,
    chunk_sources,
    job_sources,
)
from orchestrator.store import rows
from orchestrator.store.base import Store
from orchestrator.store.queries import latest_version, load_migrations
from orchestrator.store.rows import EventKind
from orchestrator.store.tx import ChunkMove, Tx

if TYPE_CHECKING:
    from orchestrator.planning.model import ChunkDescriptor, InputFile
    from orchestrator.store.records import (
        Actor,
        ChunkRecord,
        EventRecord,
        JobProgress,
        JobRecord,
        NewJob,
    )


def job_missing(job_id: int) -> NotFound:
    return NotFound(f"job {job_id} does not exist")


#: The figures of :meth:`Store.phase_progress`, per phase.
PHASE_FIELDS = ("phase", "chunks", "done", "running", "rows_in", "rows_out", "rows_rejected")


class SqlCore(Store):
    """Jobs, chunks and events of a :class:`Store` over named SQL queries; see
    the module docstring. :class:`orchestrator.store.fleet.SqlStore` completes it."""

    #: ``postgres`` or ``sqlite``: names the query file and the migrations
    dialect: str
    actor: Actor

    # -- the dialect adapter ----------------------------------------------------

    @abc.abstractmethod
    def _tx(self, write: bool = True) -> AbstractContextManager[Tx]:
        """One transaction; ``write=False`` takes no write lock where that matters."""

    def _read(self, name: str, params: dict[str, Any]) -> list[Any]:
        """A read-only query outside any caller's transaction."""
        with self._tx(write=False) as tx:
            return tx.all(name, params)

    @abc.abstractmethod
    def _array(self, values: Sequence[Any]) -> Any:
        """A list bound as one parameter (an array, or JSON text)."""

    @abc.abstractmethod
    def _limit(self, limit: int | None) -> int | None:
        """``LIMIT`` for None (all): NULL on PostgreSQL, -1 on SQLite."""

    @staticmethod
    @abc.abstractmethod
    def _loads(value: Any) -> Any:
        """A JSON column as the driver returns it, decoded."""

    @abc.abstractmethod
    def _insert_chunks(self, tx: Tx, job_id: int, chunks: Sequence[ChunkDescriptor]) -> None:
        """Bulk-load new pending chunks of a job."""

    def _notify(self, tx: Tx, payload: str) -> None:
        """Wake listening dispatchers at commit (a backend without channels: nothing)."""

    def _migration_lock(self, tx: Tx) -> None:
        """Serialize migrators until commit (a backend whose write transaction
        already excludes the others: nothing)."""

    @abc.abstractmethod
    def _run_script(self, tx: Tx, script: str) -> None:
        """Run one migration's statements in the transaction."""

    @abc.abstractmethod
    def _move_job_chunks(self, tx: Tx, move: ChunkMove) -> int:
        """Apply ``move`` (see :class:`ChunkMove`) with one ``chunk_<outcome>``
        event per chunk, saying where it came from. How many."""

    @abc.abstractmethod
    def _return_running(self, tx: Tx, params: dict[str, Any]) -> int:
        """Running chunks back to pending: those of ``owner`` (None: any) whose
        lease ``expired`` (or all), at most ``limit``; their attempts closed as
        ``outcome``, ``infra_spent`` infra attempts added, one ``event`` each
        with ``reason``. How many."""

    # -- schema -------------------------------------------------------------------

    def upgrade(self) -> list[int]:
        current, latest = self.schema_version()  # no lock when up to date
        if current > latest:
            raise self._too_new(current, latest)
        if current == latest:
            return []
        applied: list[int] = []
        with self._tx() as tx:
            self._migration_lock(tx)
            tx.run("ensure_migrations_table")
            current = int(_found(tx.one("current_version"))["version"])  # again, locked
            if current > latest:
                raise self._too_new(current, latest)
            for migration in load_migrations(self.dialect):
                if migration.version > current:
                    self._run_script(tx, migration.sql)
                    tx.run("insert_migration", {"version": migration.version})
                    applied.append(migration.version)
        return applied

    def _too_new(self, current: int, latest: int) -> SchemaTooNew:
        return SchemaTooNew(
            f"the store {self.display_url} is at schema version {current}, newer than this "
            f"jobctl knows ({latest}); upgrade jobctl to use it"
        )

    def schema_version(self) -> tuple[int, int]:
        latest = latest_version(self.dialect)
        with self._tx(write=False) as tx:
            if not _found(tx.one("has_migrations_table"))["present"]:
                return 0, latest
            return int(_found(tx.one("current_version"))["version"]), latest

    # -- jobs ---------------------------------------------------------------------

    def submit_job(
        self, job: NewJob, inputs: Sequence[InputFile], chunks: Sequence[ChunkDescriptor]
    ) -> tuple[int, bool]:
        key = {"name": job.name, "run_key": job.run_key}
        new = {
            **key,
            "priority": int(job.priority),
            "queue": job.queue,
            "spec": rows.dump_json(job.spec),
            "spec_hash": job.spec_hash,
            "output_path": job.output_path,
            "source_file": job.source_file,
        }
        with self._tx() as tx:
            created = tx.one("insert_job", new)
            if created is None:  # the key exists (perhaps committed a moment ago)
                return int(_found(tx.one("job_id_by_key", key))["id"]), False
            job_id = int(created["id"])
            self._insert_plan(tx, job_id, inputs, chunks)
            if job.upstream_ids:
                deps = self._array([int(u) for u in job.upstream_ids])
                tx.run("insert_job_deps", {"job_id": job_id, "upstream_ids": deps})
            self._notify(tx, f"submitted {job_id}")
            detail = {**key, "priority": int(job.priority), "queue": job.queue}
            detail.update(inputs=len(inputs), chunks=len(chunks))
            tx.events([(EventKind.JOB_SUBMITTED, job_id, None, detail)])
        return job_id, True

    def _insert_plan(
        self, tx: Tx, job_id: int, inputs: Sequence[InputFile], chunks: Sequence[ChunkDescriptor]
    ) -> None:
        if inputs:
            tx.many("insert_input", [rows.input_row(job_id, i, f) for i, f in enumerate(inputs)])
        if chunks:
            self._insert_chunks(tx, job_id, chunks)

    def get_job(self, job_id: int) -> JobRecord:
        found = self._read("get_job", {"job_id": job_id})
        if not found:
            raise job_missing(job_id)
        return rows.job_record(found[0], self._loads)

    def find_job(self, name: str, run_key: str | None = None) -> JobRecord | None:
        if run_key is None:
            found = self._read("find_job_newest", {"name": name})
        else:
            found = self._read("find_job_by_key", {"name": name, "run_key": run_key})
        return rows.job_record(found[0], self._loads) if found else None

    def list_jobs(
        self, states: Sequence[JobState] | None = None, limit: int = 100
    ) -> list[JobRecord]:
        params = {"states": self._states(states), "limit": limit}
        return [rows.job_record(r, self._loads) for r in self._read("list_jobs", params)]

    def get_jobs(self, job_ids: Sequence[int]) -> list[JobRecord]:
        if not job_ids:
            return []
        found = self._read("get_jobs", {"job_ids": self._array([int(i) for i in job_ids])})
        return [rows.job_record(r, self._loads) for r in found]

    def job_inputs(self, job_id: int) -> list[InputFile]:
        return [rows.input_file(r) for r in self._read("job_inputs", {"job_id": job_id})]

    def job_progress(self, job_id: int) -> JobProgress:
        with self._tx(write=False) as tx:
            job = tx.one("job_state", {"job_id": job_id})
            if job is None:
                raise job_missing(job_id)
            counts = tx.all("job_progress", {"job_id": job_id})
        return rows.job_progress(job_id, job["state"], counts)

    def _lock_job(self, tx: Tx, job_id: int) -> Any:
        """The job's row (state, priority, spec_hash), locked until commit."""
        current = tx.one("job_state_for_update", {"job_id": job_id})
        if current is None:
            raise job_missing(job_id)
        return current

    def _move_job(
        self, tx: Tx, job_id: int, target: JobState, error: str | None
    ) -> tuple[JobState, JobRecord]:
        """Apply one job transition in the caller's transaction: (source, new record)."""
        current = self._lock_job(tx, job_id)
        params = {
            "job_id": job_id,
            "target": target.value,
            "sources": self._states(job_sources(target)),
            "terminal": target in JOB_TERMINAL,
            "active": target in JOB_ACTIVE,
            "error": error,
        }
        changed = tx.one("update_job_state", params)
        if changed is None:
            raise IllegalTransition(f"job {job_id} cannot go from {current['state']} to {target}")
        return JobState(current["state"]), rows.job_record(changed, self._loads)

    def set_job_state(
        self,
        job_id: int,
        target: JobState,
        *,
        error: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> JobRecord:
        with self._tx() as tx:
            source, record = self._move_job(tx, job_id, target, error)
            info = rows.job_state_detail(source, target, error, detail)
            tx.events([(EventKind.JOB_STATE, job_id, None, info)])
        return record

    def cancel_job(self, job_id: int) -> bool:
        with self._tx() as tx:
            if JobState(self._lock_job(tx, job_id)["state"]) in JOB_TERMINAL:
                return False
            source, _record = self._move_job(tx, job_id, JobState.CANCELLED, None)
            sources = rows.state_values(CHUNK_CANCELLED_WITH_JOB)
            move = ChunkMove(job_id, sources, None, "cancelled", "cancelled")
            cancelled = self._move_job_chunks(tx, move)
            detail = {"from": source.value, "chunks_cancelled": cancelled}
            tx.events([(EventKind.JOB_CANCELLED, job_id, None, detail)])
        return True

    def fail_blocked_jobs(self) -> list[int]:
        failed: list[int] = []
        while True:  # each round may block jobs further down the graph
            with self._tx() as tx:
                blocked = tx.all("blocked_jobs")
                for row in blocked:
                    job_id = int(row["job_id"])
                    error = f"upstream job(s) did not succeed: {row['upstream']}"
                    try:
                        source, _ = self._move_job(tx, job_id, JobState.UPSTREAM_FAILED, error)
                    except IllegalTransition:
                        continue  # it started meanwhile
                    info = rows.job_state_detail(source, JobState.UPSTREAM_FAILED, error, None)
                    tx.events([(EventKind.JOB_STATE, job_id, None, info)])
                    failed.append(job_id)
            if not blocked:
                return failed

    def replan_job(
        self,
        job_id: int,
        spec: dict[str, Any],
        spec_hash: str,
        inputs: Sequence[InputFile],
        chunks: Sequence[ChunkDescriptor],
    ) -> int:
        with self._tx() as tx:
            current = self._lock_job(tx, job_id)
            rows.check_replannable(job_id, JobState(current["state"]))
            rows.check_nothing_running(job_id, tx.all("running_chunk_owners", {"job_id": job_id}))
            succeeded = int(_found(tx.one("count_succeeded", {"job_id": job_id}))["n"])
            dropped = tx.run("delete_job_chunks", {"job_id": job_id})
            tx.run("delete_job_inputs", {"job_id": job_id})
            self._insert_plan(tx, job_id, inputs, chunks)
            plan = {"job_id": job_id, "spec": rows.dump_json(spec), "spec_hash": spec_hash}
            tx.run("update_job_plan", plan)
            old = current["spec_hash"]
            detail = rows.replan_detail(old, spec_hash, dropped, succeeded, len(chunks))
            tx.events([(EventKind.JOB_REPLANNED, job_id, None, detail)])
        return dropped

    # -- chunks -------------------------------------------------------------------

    def add_chunks(self, job_id: int, chunks: Sequence[ChunkDescriptor]) -> int:
        """How a job grows after submit: append chunks (a later phase, new
        files) in one transaction with one ``chunks_added`` event. Only the
        tests call it today; multi-phase strategies will, for their phases."""
        with self._tx() as tx:
            self._lock_job(tx, job_id)
            if chunks:
                self._insert_chunks(tx, job_id, chunks)
            seqs = [c.seq for c in chunks]
            detail = {"count": len(chunks), "first_seq": min(seqs, default=None)}
            detail["last_seq"] = max(seqs, default=None)
            tx.events([(EventKind.CHUNKS_ADDED, job_id, None, detail)])
        return len(chunks)

    def start_phase(
        self, job_id: int, phase: int, chunks: Sequence[ChunkDescriptor], label: str
    ) -> bool:
        with self._tx() as tx:
            self._lock_job(tx, job_id)  # serializes two planners of one job
            found = tx.one("chunks_from_phase", {"job_id": job_id, "phase": phase})
            if found is not None and found["n"]:
                return False
            if chunks:
                self._insert_chunks(tx, job_id, chunks)
            seqs = [c.seq for c in chunks]
            detail = {"phase": phase, "label": label, "count": len(chunks)}
            detail["first_seq"] = min(seqs, default=None)
            tx.events([(EventKind.PHASE_STARTED, job_id, None, detail)])
        return True

    def phase_progress(self, job_id: int) -> list[dict[str, int]]:
        found = self._read("phase_progress", {"job_id": job_id})
        return [{key: int(row[key] or 0) for key in PHASE_FIELDS} for row in found]

    def carried_state(self, job_id: int, phase: int, seq: int) -> Any:
        found = self._read("carried_state", {"job_id": job_id, "phase": phase, "seq": seq})
        result = self._loads(found[0]["result"]) if found else None
        return result.get("state") if isinstance(result, dict) else None

    def list_chunks(
        self,
        job_id: int,
        states: Sequence[ChunkState] | None = None,
        limit: int | None = None,
    ) -> list[ChunkRecord]:
        params = {"job_id": job_id, "states": self._states(states), "limit": self._limit(limit)}
        return [rows.chunk_record(r, self._loads) for r in self._read("list_chunks", params)]

    def dead_chunks(self, job_id: int | None = None, limit: int | None = None) -> list[ChunkRecord]:
        params = {"job_id": job_id, "limit": self._limit(limit)}
        return [rows.chunk_record(r, self._loads) for r in self._read("dead_chunks", params)]

    def renew_leases(self, owner: str, lease_seconds: float) -> int:
        with self._tx() as tx:
            return tx.run("renew_leases", {"owner": owner, "lease_seconds": float(lease_seconds)})

    def release_leases(self, owner: str, reason: str) -> int:
        kind = EventKind.CHUNK_RELEASED
        return self._back_to_pending(self._victims(owner, False, None, "released", kind, 0, reason))

    def reap_expired(self, limit: int = 1000) -> int:
        kind = EventKind.CHUNK_REAPED
        params = self._victims(None, True, limit, "expired", kind, 1, "lease expired")
        return self._back_to_pending(params)

    def reclaim_owner(self, owner: str, reason: str) -> int:
        with self._tx() as tx:
            kind = EventKind.CHUNK_REAPED
            params = self._victims(owner, False, None, "orphaned", kind, 1, reason)
            moved = self._return_running(tx, params)
            tx.run("delete_coordinator", {"owner": owner})
            tx.run("delete_coordinator_jobs", {"owner": owner})
        return moved

    def _back_to_pending(self, params: dict[str, Any]) -> int:
        with self._tx() as tx:
            return self._return_running(tx, params)

    def requeue_chunks(self, job_id: int, states: Sequence[ChunkState]) -> int:
        return self._requeue(job_id, states, None)

    def requeue_chunk_seqs(
        self, job_id: int, states: Sequence[ChunkState], seqs: Sequence[int]
    ) -> int:
        return self._requeue(job_id, states, seqs)

    def _requeue(
        self, job_id: int, states: Sequence[ChunkState], seqs: Sequence[int] | None
    ) -> int:
        allowed = set(states) & chunk_sources(ChunkState.PENDING)
        allowed.discard(ChunkState.SUCCEEDED)
        if not allowed or (seqs is not None and not seqs):
            return 0
        picked = None if seqs is None else [int(s) for s in seqs]
        with self._tx() as tx:
            sources = rows.state_values(allowed)
            move = ChunkMove(job_id, sources, picked, "pending", "requeued")
            return self._move_job_chunks(tx, move)

    def save_checkpoint(self, chunk_id: int, fencing_token: int, state: Any) -> bool:
        params = {"chunk_id": chunk_id, "token": fencing_token, "checkpoint": rows.dump_json(state)}
        with self._tx() as tx:
            return tx.run("save_checkpoint", params) == 1

    # -- events -------------------------------------------------------------------

    def record_event(
        self,
        kind: str,
        *,
        job_id: int | None = None,
        chunk_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self._tx() as tx:
            tx.events([(kind, job_id, chunk_id, detail)])

    def list_events(self, job_id: int, limit: int | None = None) -> list[EventRecord]:
        params = {"job_id": job_id, "limit": self._limit(limit)}
        return [rows.event_record(r, self._loads) for r in self._read("list_events", params)]

    # -- helpers ------------------------------------------------------------------

    def _victims(
        self,
        owner: str | None,
        expired: bool,
        limit: int | None,
        outcome: str,
        event: str,
        infra_spent: int,
        reason: str,
    ) -> dict[str, Any]:
        """The parameters of :meth:`_return_running` (see there)."""
        return {
            "owner": owner,
            "expired": expired,
            "limit": self._limit(limit),
            "outcome": outcome,
            "event": event,
            "infra_spent": infra_spent,
            "reason": reason,
        }

    def _states(self, states: Any) -> Any:
        """A set of states as one parameter; None (no filter) stays None."""
        return None if states is None else self._array(rows.state_values(states))


def _found(row: Any | None) -> Any:
    """A row that a query always returns."""
    assert row is not None
    return row
