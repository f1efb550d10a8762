"""The embedded SQLite backend: one file, WAL, one connection per Store.

Writers serialize on ``BEGIN IMMEDIATE`` (SQLite has no ``SKIP LOCKED``, and
needs none: a write transaction holds the only write lock), readers never
block them (WAL). A Store may be shared by threads (the dispatcher's
heartbeat thread): a lock guards the one connection. Every SQL text comes
from ``sql/sqlite.sql``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from orchestrator.errors import (
    IllegalTransition,
    NotFound,
    SchemaTooNew,
    StoreError,
    StoreUnavailable,
)
from orchestrator.planning.model import ChunkDescriptor, InputFile
from orchestrator.states import (
    CHUNK_CANCELLED_WITH_JOB,
    JOB_ACTIVE,
    JOB_TERMINAL,
    ChunkState,
    JobState,
    Priority,
    chunk_sources,
    job_sources,
)
from orchestrator.store import rows
from orchestrator.store.attempt_logs import (
    KEEP_PER_CHUNK,
    READ_LIMIT,
    AttemptLog,
    attempt_log,
    read_params,
)
from orchestrator.store.base import (
    Actor,
    ChunkOutcome,
    ChunkRecord,
    EventRecord,
    JobProgress,
    JobRecord,
    Lease,
    LeaseOwner,
    NewJob,
    QueueInfo,
    QueueStats,
    Store,
)
from orchestrator.store.hosts import (
    HostEventKind,
    HostRecord,
    HostState,
    host_event_detail,
    host_params,
    host_record,
)
from orchestrator.store.queries import (
    latest_version,
    load_migrations,
    load_queries,
    sqlite_statements,
)
from orchestrator.store.rows import EventKind

if TYPE_CHECKING:  # spec.ssh is not needed to read a store
    from orchestrator.spec.ssh import HostSpec

#: seconds a writer waits for the write lock before StoreUnavailable
BUSY_TIMEOUT_S = 30.0

_Q = load_queries("sqlite")
_DIALECT = "sqlite"


def _ids(values: Sequence[int]) -> str:
    return json.dumps(list(values))


def _insert_chunks(
    conn: sqlite3.Connection, now: float, job_id: int, chunks: Sequence[ChunkDescriptor]
) -> None:
    conn.executemany(_Q["insert_chunk"], [(*rows.chunk_row(job_id, c), now) for c in chunks])


class SqliteStore(Store):
    """See the module docstring. ``path`` is a file path or ``:memory:``."""

    def __init__(self, path: str, *, actor: Actor) -> None:
        self.path = path
        self.display_url = f"sqlite://{path}" if path.startswith("/") else f"sqlite:{path}"
        self.actor = actor
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the SQLite store {path}: {exc}") from None
        try:
            self._conn.row_factory = sqlite3.Row
            self._enable_wal()
            self._conn.executescript(_Q["configure_connection"])
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreUnavailable(f"cannot open the SQLite store {path}: {exc}") from None

    def _enable_wal(self) -> None:
        """Switch a new file to WAL. SQLite answers "locked" at once, without
        waiting, when another connection opens the same new file at the same
        moment, so retry within the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self._conn.execute(_Q["enable_wal"]).fetchall()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    # -- plumbing -----------------------------------------------------------------

    def _wrap(self, exc: sqlite3.Error) -> StoreError:
        message = str(exc)
        if "no such table" in message:
            return StoreError(
                f"the store {self.display_url} has no schema ({message}); run `jobctl db upgrade`"
            )
        if "locked" in message or "busy" in message:
            return StoreUnavailable(
                f"the SQLite store {self.path} stayed locked by another connection for "
                f"{BUSY_TIMEOUT_S:g} s ({message}); is another jobctl writing to it?"
            )
        return StoreUnavailable(f"SQLite store {self.path}: {message}")

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[tuple[sqlite3.Connection, float]]:
        """One transaction (IMMEDIATE for writes) and the database time at its start."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute(_Q["begin_write" if write else "begin_read"])
                now = float(conn.execute(_Q["now"]).fetchone()["now"])
                yield conn, now
                conn.execute(_Q["commit"])
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute(_Q["rollback"])
                if isinstance(exc, sqlite3.IntegrityError):
                    raise StoreError(f"SQLite store {self.path}: {exc}") from exc
                if isinstance(exc, sqlite3.OperationalError):
                    raise self._wrap(exc) from exc
                raise

    def _read(self, name: str, params: dict[str, Any]) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(_Q[name], params).fetchall()
            except sqlite3.OperationalError as exc:
                raise self._wrap(exc) from exc

    def _events(
        self, conn: sqlite3.Connection, now: float, items: list[tuple[str, Any, Any, Any]]
    ) -> None:
        """Append events: (kind, job_id, chunk_id, detail) each."""
        a = self.actor
        conn.executemany(
            _Q["insert_event_row"],
            [
                (now, kind, job_id, chunk_id, a.user, a.host, a.pid, rows.dump_json(detail or {}))
                for kind, job_id, chunk_id, detail in items
            ],
        )

    # -- schema -------------------------------------------------------------------

    def upgrade(self) -> list[int]:
        current, latest = self.schema_version()  # no write lock when up to date
        if current > latest:
            raise self._too_new(current, latest)
        if current == latest:
            return []
        applied: list[int] = []
        with self._tx() as (conn, now):
            conn.execute(_Q["ensure_migrations_table"])
            current = int(conn.execute(_Q["current_version"]).fetchone()["version"])  # locked
            if current > latest:
                raise self._too_new(current, latest)
            for migration in load_migrations(_DIALECT):
                if migration.version <= current:
                    continue
                for statement in sqlite_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(_Q["insert_migration"], {"version": migration.version, "now": now})
                applied.append(migration.version)
        return applied

    def _too_new(self, current: int, latest: int) -> SchemaTooNew:
        return SchemaTooNew(
            f"the store {self.display_url} is at schema version {current}, newer than this "
            f"jobctl knows ({latest}); upgrade jobctl to use it"
        )

    def schema_version(self) -> tuple[int, int]:
        latest = latest_version(_DIALECT)
        if not self._read("has_migrations_table", {})[0]["n"]:
            return 0, latest
        return int(self._read("current_version", {})[0]["version"]), latest

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- jobs ---------------------------------------------------------------------

    def submit_job(
        self, job: NewJob, inputs: Sequence[InputFile], chunks: Sequence[ChunkDescriptor]
    ) -> tuple[int, bool]:
        with self._tx() as (conn, now):
            row = conn.execute(
                _Q["insert_job"],
                {
                    "name": job.name,
                    "run_key": job.run_key,
                    "priority": int(job.priority),
                    "queue": job.queue,
                    "spec": rows.dump_json(job.spec),
                    "spec_hash": job.spec_hash,
                    "output_path": job.output_path,
                    "source_file": job.source_file,
                    "now": now,
                },
            ).fetchone()
            if row is None:
                existing = conn.execute(
                    _Q["job_id_by_key"], {"name": job.name, "run_key": job.run_key}
                ).fetchone()
                return int(existing["id"]), False
            job_id = int(row["id"])
            conn.executemany(
                _Q["insert_input"], [rows.input_row(job_id, i, f) for i, f in enumerate(inputs)]
            )
            _insert_chunks(conn, now, job_id, chunks)
            conn.executemany(
                _Q["insert_job_dep"],
                [{"job_id": job_id, "upstream_id": int(u)} for u in job.upstream_ids],
            )
            detail = {
                "name": job.name,
                "run_key": job.run_key,
                "priority": int(job.priority),
                "queue": job.queue,
                "inputs": len(inputs),
                "chunks": len(chunks),
            }
            self._events(conn, now, [(EventKind.JOB_SUBMITTED, job_id, None, detail)])
        return job_id, True

    def get_job(self, job_id: int) -> JobRecord:
        found = self._read("get_job", {"job_id": job_id})
        if not found:
            raise NotFound(f"job {job_id} does not exist")
        return rows.job_record(found[0], rows.sqlite_json)

    def find_job(self, name: str, run_key: str | None = None) -> JobRecord | None:
        if run_key is None:
            found = self._read("find_job_newest", {"name": name})
        else:
            found = self._read("find_job_by_key", {"name": name, "run_key": run_key})
        return rows.job_record(found[0], rows.sqlite_json) if found else None

    def list_jobs(
        self, states: Sequence[JobState] | None = None, limit: int = 100
    ) -> list[JobRecord]:
        params = {
            "states": None if states is None else json.dumps(rows.state_values(states)),
            "limit": limit,
        }
        return [rows.job_record(r, rows.sqlite_json) for r in self._read("list_jobs", params)]

    def job_inputs(self, job_id: int) -> list[InputFile]:
        return [rows.input_file(r) for r in self._read("job_inputs", {"job_id": job_id})]

    def job_progress(self, job_id: int) -> JobProgress:
        with self._tx(write=False) as (conn, _now):
            job = conn.execute(_Q["job_state_for_update"], {"job_id": job_id}).fetchone()
            if job is None:
                raise NotFound(f"job {job_id} does not exist")
            counts = conn.execute(_Q["job_progress"], {"job_id": job_id}).fetchall()
        return rows.job_progress(job_id, job["state"], counts)

    def _move_job(
        self,
        conn: sqlite3.Connection,
        now: float,
        job_id: int,
        target: JobState,
        error: str | None,
    ) -> tuple[JobState, JobRecord]:
        """Apply one job transition in the caller's transaction: (source, new record)."""
        current = conn.execute(_Q["job_state_for_update"], {"job_id": job_id}).fetchone()
        if current is None:
            raise NotFound(f"job {job_id} does not exist")
        changed = conn.execute(
            _Q["update_job_state"],
            {
                "job_id": job_id,
                "target": target.value,
                "sources": json.dumps(rows.state_values(job_sources(target))),
                "terminal": int(target in JOB_TERMINAL),
                "active": int(target in JOB_ACTIVE),
                "error": error,
                "now": now,
            },
        ).fetchone()
        if changed is None:
            raise IllegalTransition(f"job {job_id} cannot go from {current['state']} to {target}")
        return JobState(current["state"]), rows.job_record(changed, rows.sqlite_json)

    def set_job_state(
        self,
        job_id: int,
        target: JobState,
        *,
        error: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> JobRecord:
        with self._tx() as (conn, now):
            source, record = self._move_job(conn, now, job_id, target, error)
            info = rows.job_state_detail(source, target, error, detail)
            self._events(conn, now, [(EventKind.JOB_STATE, job_id, None, info)])
        return record

    def cancel_job(self, job_id: int) -> bool:
        with self._tx() as (conn, now):
            current = conn.execute(_Q["job_state_for_update"], {"job_id": job_id}).fetchone()
            if current is None:
                raise NotFound(f"job {job_id} does not exist")
            if JobState(current["state"]) in JOB_TERMINAL:
                return False
            source, _record = self._move_job(conn, now, job_id, JobState.CANCELLED, None)
            sources = json.dumps(rows.state_values(CHUNK_CANCELLED_WITH_JOB))
            victims = conn.execute(
                _Q["chunks_in_states"], {"job_id": job_id, "states": sources, "seqs": None}
            ).fetchall()
            ids = _ids([v["id"] for v in victims])
            conn.execute(
                _Q["close_open_attempts"], {"chunk_ids": ids, "outcome": "cancelled", "now": now}
            )
            conn.execute(_Q["cancel_chunks"], {"chunk_ids": ids, "sources": sources, "now": now})
            events: list[tuple[str, Any, Any, Any]] = [
                (EventKind.CHUNK_CANCELLED, job_id, v["id"], {"from": v["state"]}) for v in victims
            ]
            detail = {"from": source.value, "chunks_cancelled": len(victims)}
            events.append((EventKind.JOB_CANCELLED, job_id, None, detail))
            self._events(conn, now, events)
        return True

    # -- chunks -------------------------------------------------------------------

    def add_chunks(self, job_id: int, chunks: Sequence[ChunkDescriptor]) -> int:
        with self._tx() as (conn, now):
            if conn.execute(_Q["job_state_for_update"], {"job_id": job_id}).fetchone() is None:
                raise NotFound(f"job {job_id} does not exist")
            _insert_chunks(conn, now, job_id, chunks)
            seqs = [c.seq for c in chunks]
            detail = {"count": len(chunks), "first_seq": min(seqs, default=None)}
            detail["last_seq"] = max(seqs, default=None)
            self._events(conn, now, [(EventKind.CHUNKS_ADDED, job_id, None, detail)])
        return len(chunks)

    def list_chunks(
        self,
        job_id: int,
        states: Sequence[ChunkState] | None = None,
        limit: int | None = None,
    ) -> list[ChunkRecord]:
        params = {
            "job_id": job_id,
            "states": None if states is None else json.dumps(rows.state_values(states)),
            "limit": -1 if limit is None else limit,
        }
        return [rows.chunk_record(r, rows.sqlite_json) for r in self._read("list_chunks", params)]

    def lease_chunks(
        self,
        owner: str,
        job_ids: Sequence[int],
        limit: int,
        lease_seconds: float,
    ) -> list[Lease]:
        if limit <= 0 or not job_ids:
            return []
        leased: list[sqlite3.Row] = []
        with self._tx() as (conn, now):
            order = conn.execute(_Q["running_jobs_by_priority"], {"job_ids": _ids(job_ids)})
            room: dict[str, int] = {}  # what is left of each limited queue's room
            for job in order.fetchall():
                wanted = limit - len(leased)
                if job["room"] is not None:
                    wanted = min(wanted, room.setdefault(job["queue"], int(job["room"])))
                if wanted <= 0:
                    continue
                got = conn.execute(
                    _Q["lease_job_chunks"],
                    {
                        "job_id": job["id"],
                        "owner": owner,
                        "now": now,
                        "lease_seconds": float(lease_seconds),
                        "limit": wanted,
                    },
                ).fetchall()
                if job["room"] is not None:
                    room[job["queue"]] -= len(got)
                leased += sorted(got, key=lambda r: r["seq"])
                if len(leased) >= limit:
                    break
            conn.executemany(
                _Q["insert_attempt"],
                [(r["id"], r["job_id"], r["fencing_token"], owner, now) for r in leased],
            )
            events: list[tuple[str, Any, Any, Any]] = []
            for r in leased:
                detail = {"owner": owner, "fencing_token": r["fencing_token"]}
                events.append((EventKind.CHUNK_LEASED, r["job_id"], r["id"], detail))
            self._events(conn, now, events)
        return [rows.lease_record(r, rows.sqlite_json) for r in leased]

    def renew_leases(self, owner: str, lease_seconds: float) -> int:
        with self._tx() as (conn, now):
            params = {"owner": owner, "lease_seconds": float(lease_seconds), "now": now}
            return int(conn.execute(_Q["renew_leases"], params).rowcount)

    def complete_chunks(self, owner: str, outcomes: Sequence[ChunkOutcome]) -> list[bool]:
        accepted = [False] * len(outcomes)
        with self._tx() as (conn, now):
            events: list[tuple[str, Any, Any, Any]] = []
            for index in rows.unique_outcomes(outcomes):
                params = {**rows.outcome_row(owner, outcomes[index]), "now": now}
                done = conn.execute(_Q["complete_chunk"], params).fetchone()
                if done is None:
                    fence = conn.execute(_Q["chunk_fence"], {"id": params["id"]}).fetchone()
                    if fence is not None:
                        detail = rows.rejected_detail(owner, outcomes[index], fence)
                        kind = EventKind.CHUNK_COMMIT_REJECTED
                        events.append((kind, fence["job_id"], fence["id"], detail))
                    continue
                accepted[index] = True
                conn.execute(_Q["close_attempt"], params)
                events.append((params["event"], done["job_id"], params["id"], params["detail"]))
            self._events(conn, now, events)
        return accepted

    def _return_running(
        self,
        conn: sqlite3.Connection,
        now: float,
        victims: list[sqlite3.Row],
        outcome: str,
        event: str,
        infra_spent: int,
        reason: str,
    ) -> int:
        """Running chunks back to pending: close their attempt rows with
        ``outcome``, add ``infra_spent`` infra attempts, one ``event`` each."""
        if not victims:
            return 0
        ids = _ids([v["id"] for v in victims])
        conn.execute(_Q["close_open_attempts"], {"chunk_ids": ids, "outcome": outcome, "now": now})
        conn.execute(
            _Q["return_to_pending"], {"chunk_ids": ids, "infra_spent": infra_spent, "now": now}
        )
        events: list[tuple[str, Any, Any, Any]] = []
        for v in victims:
            detail = {"owner": v["lease_owner"], "fencing_token": v["fencing_token"]}
            detail["reason"] = reason
            events.append((event, v["job_id"], v["id"], detail))
        self._events(conn, now, events)
        return len(victims)

    def release_leases(self, owner: str, reason: str) -> int:
        with self._tx() as (conn, now):
            victims = conn.execute(_Q["running_of_owner"], {"owner": owner}).fetchall()
            kind = EventKind.CHUNK_RELEASED
            return self._return_running(conn, now, victims, "released", kind, 0, reason)

    def reap_expired(self, limit: int = 1000) -> int:
        with self._tx() as (conn, now):
            victims = conn.execute(_Q["expired_leases"], {"now": now, "limit": limit}).fetchall()
            kind = EventKind.CHUNK_REAPED
            return self._return_running(conn, now, victims, "expired", kind, 1, "lease expired")

    def requeue_chunks(self, job_id: int, states: Sequence[ChunkState]) -> int:
        return self._requeue(job_id, states, None)

    def _requeue(
        self, job_id: int, states: Sequence[ChunkState], seqs: Sequence[int] | None
    ) -> int:
        allowed = set(states) & chunk_sources(ChunkState.PENDING)
        allowed.discard(ChunkState.SUCCEEDED)
        if not allowed or (seqs is not None and not seqs):
            return 0
        sources = json.dumps(rows.state_values(allowed))
        with self._tx() as (conn, now):
            params = {
                "job_id": job_id,
                "states": sources,
                "seqs": None if seqs is None else _ids(seqs),
            }
            victims = conn.execute(_Q["chunks_in_states"], params).fetchall()
            ids = _ids([v["id"] for v in victims])
            conn.execute(
                _Q["close_open_attempts"], {"chunk_ids": ids, "outcome": "requeued", "now": now}
            )
            conn.execute(_Q["requeue_chunks"], {"chunk_ids": ids, "sources": sources, "now": now})
            kind = EventKind.CHUNK_REQUEUED
            events = [(kind, job_id, v["id"], {"from": v["state"]}) for v in victims]
            self._events(conn, now, events)
        return len(victims)

    def save_checkpoint(self, chunk_id: int, fencing_token: int, state: Any) -> bool:
        with self._tx() as (conn, now):
            params = {
                "chunk_id": chunk_id,
                "token": fencing_token,
                "checkpoint": rows.dump_json(state),
                "now": now,
            }
            return conn.execute(_Q["save_checkpoint"], params).rowcount == 1

    # -- events -------------------------------------------------------------------

    def record_event(
        self,
        kind: str,
        *,
        job_id: int | None = None,
        chunk_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self._tx() as (conn, now):
            self._events(conn, now, [(kind, job_id, chunk_id, detail)])

    def list_events(self, job_id: int, limit: int | None = None) -> list[EventRecord]:
        params = {"job_id": job_id, "limit": -1 if limit is None else limit}
        return [rows.event_record(r, rows.sqlite_json) for r in self._read("list_events", params)]

    # -- queues -------------------------------------------------------------------

    def list_queues(self) -> list[QueueInfo]:
        return [rows.queue_info(r) for r in self._read("list_queues", {})]

    def set_queue_paused(self, name: str, paused: bool) -> bool:
        with self._tx() as (conn, now):
            current = conn.execute(_Q["get_queue"], {"name": name}).fetchone()
            if bool(current and current["paused"]) == paused:
                return False
            conn.execute(_Q["upsert_queue_paused"], {"name": name, "paused": int(paused)})
            kind = EventKind.QUEUE_PAUSED if paused else EventKind.QUEUE_RESUMED
            self._events(conn, now, [(kind, None, None, {"queue": name})])
        return True

    def set_queue_limit(self, name: str, limit: int | None) -> bool:
        rows.check_queue_args(limit=limit)
        with self._tx() as (conn, now):
            current = conn.execute(_Q["get_queue"], {"name": name}).fetchone()
            before = current["concurrency_limit"] if current else None
            if before == limit:
                return False
            conn.execute(_Q["upsert_queue_limit"], {"name": name, "limit": limit})
            detail = {"queue": name, "from": before, "to": limit}
            self._events(conn, now, [(EventKind.QUEUE_LIMIT, None, None, detail)])
        return True

    def queue_stats(self, name: str, since: float) -> QueueStats:
        rows.check_queue_args(since=since)
        with self._tx(write=False) as (conn, now):
            params = {"name": name, "queue": name, "since_at": now - float(since)}
            gate = conn.execute(_Q["get_queue"], params).fetchone()
            counts = conn.execute(_Q["queue_chunk_counts"], params).fetchall()
            waits = conn.execute(_Q["queue_waits"], params).fetchone()
            flow = conn.execute(_Q["queue_flow"], params).fetchone()
        return rows.queue_stats(name, since, gate, counts, waits, flow)

    # -- hosts --------------------------------------------------------------------

    def add_host(self, host: HostSpec, *, replace: bool = False) -> bool:
        params = host_params(host, rows.dump_json)
        with self._tx() as (conn, now):
            created = conn.execute(_Q["insert_host"], {**params, "now": now}).fetchone()
            if created is None and not replace:
                return False
            if created is None:
                conn.execute(_Q["update_host"], params)
            kind = HostEventKind.HOST_ADDED if created else HostEventKind.HOST_UPDATED
            self._events(conn, now, [(kind, None, None, host_event_detail(host))])
        return created is not None

    def remove_host(self, name: str) -> bool:
        with self._tx() as (conn, now):
            gone = conn.execute(_Q["delete_host"], {"name": name}).fetchone()
            if gone is not None:
                self._events(conn, now, [(HostEventKind.HOST_REMOVED, None, None, {"host": name})])
        return gone is not None

    def get_host(self, name: str) -> HostRecord:
        found = self._read("get_host", {"name": name})
        if not found:
            raise NotFound(f"host {name!r} is not registered (see `jobctl hosts list`)")
        return host_record(found[0], rows.sqlite_json, rows.to_datetime)

    def list_hosts(self) -> list[HostRecord]:
        return [
            host_record(r, rows.sqlite_json, rows.to_datetime) for r in self._read("list_hosts", {})
        ]

    def set_host_state(
        self,
        name: str,
        state: HostState,
        *,
        reason: str | None = None,
        automatic: bool = False,
    ) -> bool:
        with self._tx() as (conn, now):
            current = conn.execute(_Q["get_host"], {"name": name}).fetchone()
            if current is None:
                raise NotFound(f"host {name!r} is not registered (see `jobctl hosts list`)")
            params = {
                "name": name,
                "state": HostState(state).value,
                "reason": reason,
                "automatic": int(automatic),
                "now": now,
            }
            if conn.execute(_Q["set_host_state"], params).rowcount != 1:
                return False
            detail = {"host": name, "from": current["state"], "to": params["state"]}
            detail["reason"] = reason
            self._events(conn, now, [(HostEventKind.HOST_STATE, None, None, detail)])
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
        with self._tx() as (conn, now):
            conn.execute(_Q["record_host_stats"], {**params, "now": now})

    # -- fault tolerance ------------------------------------------------------------

    def coordinator_heartbeat(
        self, owner: str, leases: Sequence[tuple[int, int]], lease_seconds: float
    ) -> dict[int, int]:
        held = json.dumps({str(chunk_id): token for chunk_id, token in leases})
        with self._tx() as (conn, now):
            who = {"owner": owner, "host": self.actor.host, "pid": self.actor.pid, "now": now}
            conn.execute(_Q["upsert_coordinator"], who)
            params = {"owner": owner, "leases": held, "lease_seconds": float(lease_seconds)}
            conn.execute(_Q["renew_chunk_leases"], {**params, "now": now})
            running = conn.execute(_Q["running_of_owner"], {"owner": owner}).fetchall()
        return {int(r["id"]): int(r["fencing_token"]) for r in running}

    def deregister_coordinator(self, owner: str) -> None:
        with self._tx() as (conn, _now):
            conn.execute(_Q["delete_coordinator"], {"owner": owner})

    def lease_owners(self) -> list[LeaseOwner]:
        with self._tx(write=False) as (conn, now):
            found = conn.execute(_Q["lease_owners"], {"now": now}).fetchall()
        return [rows.lease_owner(r) for r in found]

    def reclaim_owner(self, owner: str, reason: str) -> int:
        with self._tx() as (conn, now):
            victims = conn.execute(_Q["running_of_owner"], {"owner": owner}).fetchall()
            kind = EventKind.CHUNK_REAPED
            moved = self._return_running(conn, now, victims, "orphaned", kind, 1, reason)
            conn.execute(_Q["delete_coordinator"], {"owner": owner})
        return moved

    def dead_chunks(self, job_id: int | None = None, limit: int | None = None) -> list[ChunkRecord]:
        params = {"job_id": job_id, "limit": -1 if limit is None else limit}
        return [rows.chunk_record(r, rows.sqlite_json) for r in self._read("dead_chunks", params)]

    def purge_dead(self, job_id: int) -> int:
        with self._tx() as (conn, now):
            victims = conn.execute(_Q["purge_dead_victims"], {"job_id": job_id}).fetchall()
            conn.execute(_Q["purge_dead"], {"job_id": job_id, "now": now})
            kind = EventKind.CHUNK_PURGED
            events = [
                (kind, job_id, v["id"], {"from": "dead", "error": v["error"]}) for v in victims
            ]
            self._events(conn, now, events)
        return len(victims)

    def requeue_chunk_seqs(
        self, job_id: int, states: Sequence[ChunkState], seqs: Sequence[int]
    ) -> int:
        return self._requeue(job_id, states, seqs)

    def replan_job(
        self,
        job_id: int,
        spec: dict[str, Any],
        spec_hash: str,
        inputs: Sequence[InputFile],
        chunks: Sequence[ChunkDescriptor],
    ) -> int:
        with self._tx() as (conn, now):
            current = conn.execute(_Q["get_job"], {"job_id": job_id}).fetchone()
            if current is None:
                raise NotFound(f"job {job_id} does not exist")
            rows.check_replannable(job_id, JobState(current["state"]))
            owners = conn.execute(_Q["running_chunk_owners"], {"job_id": job_id}).fetchall()
            rows.check_nothing_running(job_id, owners)
            succeeded = int(conn.execute(_Q["count_succeeded"], {"job_id": job_id}).fetchone()["n"])
            dropped = conn.execute(_Q["delete_job_chunks"], {"job_id": job_id}).rowcount
            conn.execute(_Q["delete_job_inputs"], {"job_id": job_id})
            conn.executemany(
                _Q["insert_input"], [rows.input_row(job_id, i, f) for i, f in enumerate(inputs)]
            )
            _insert_chunks(conn, now, job_id, chunks)
            plan = {"job_id": job_id, "spec": rows.dump_json(spec), "spec_hash": spec_hash}
            conn.execute(_Q["update_job_plan"], plan)
            detail = rows.replan_detail(
                current["spec_hash"], spec_hash, dropped, succeeded, len(chunks)
            )
            self._events(conn, now, [(EventKind.JOB_REPLANNED, job_id, None, detail)])
        return int(dropped)

    # -- scheduling -------------------------------------------------------------------

    def upstream_jobs(self, job_id: int) -> list[tuple[int, str, JobState]]:
        found = self._read("upstream_jobs", {"job_id": job_id})
        return [(int(r["id"]), str(r["name"]), JobState(r["state"])) for r in found]

    def runnable_jobs(self, queues: Sequence[str] | None, limit: int = 1000) -> list[int]:
        params = {"queues": None if queues is None else json.dumps(list(queues)), "limit": limit}
        return [int(r["id"]) for r in self._read("runnable_jobs", params)]

    def fail_blocked_jobs(self) -> list[int]:
        failed: list[int] = []
        while True:  # each round may block jobs further down the graph
            with self._tx() as (conn, now):
                blocked = conn.execute(_Q["blocked_jobs"], {}).fetchall()
                for row in blocked:
                    job_id = int(row["job_id"])
                    error = f"upstream job(s) did not succeed: {row['upstream']}"
                    try:
                        source, _ = self._move_job(
                            conn, now, job_id, JobState.UPSTREAM_FAILED, error
                        )
                    except IllegalTransition:
                        continue  # it started meanwhile
                    info = rows.job_state_detail(source, JobState.UPSTREAM_FAILED, error, None)
                    self._events(conn, now, [(EventKind.JOB_STATE, job_id, None, info)])
                    failed.append(job_id)
            if not blocked:
                return failed

    def claim_settlement(
        self, job_id: int, owner: str, seconds: float, take_from: str | None = None
    ) -> bool:
        with self._tx() as (conn, now):
            params = {"job_id": job_id, "owner": owner, "seconds": float(seconds), "now": now}
            found = conn.execute(_Q["claim_settlement"], {**params, "take_from": take_from})
            return found.fetchone() is not None

    def settlement_holder(self, job_id: int) -> LeaseOwner | None:
        with self._tx(write=False) as (conn, now):
            row = conn.execute(_Q["settlement_holder"], {"job_id": job_id, "now": now}).fetchone()
        return None if row is None else rows.lease_owner(row)

    def set_job_priority(self, job_id: int, priority: Priority) -> JobRecord:
        with self._tx() as (conn, now):
            current = conn.execute(_Q["get_job"], {"job_id": job_id}).fetchone()
            if current is None:
                raise NotFound(f"job {job_id} does not exist")
            params = {"job_id": job_id, "priority": int(priority)}
            row = conn.execute(_Q["update_job_priority"], params).fetchone()
            if row is None:
                raise IllegalTransition(
                    f"job {job_id} is {current['state']}: only a pending or running "
                    "job's priority can change"
                )
            detail = {"from": Priority(current["priority"]).name, "to": priority.name}
            self._events(conn, now, [(EventKind.JOB_PRIORITY, job_id, None, detail)])
        return rows.job_record(row, rows.sqlite_json)

    def get_jobs(self, job_ids: Sequence[int]) -> list[JobRecord]:
        if not job_ids:
            return []
        found = self._read("get_jobs", {"job_ids": _ids([int(i) for i in job_ids])})
        return [rows.job_record(r, rows.sqlite_json) for r in found]

    # -- attempt logs --------------------------------------------------------------------

    def save_attempt_logs(self, logs: Sequence[AttemptLog]) -> None:
        if not logs:
            return
        job_ids = _ids(sorted({log.job_id for log in logs}))
        with self._tx() as (conn, now):
            conn.executemany(
                _Q["insert_attempt_log"], [{**log.params(), "now": now} for log in logs]
            )
            conn.execute(_Q["prune_attempt_logs"], {"job_ids": job_ids, "keep": KEEP_PER_CHUNK})

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
