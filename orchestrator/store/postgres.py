"""The PostgreSQL backend: psycopg 3 with a small connection pool.

Every method is one transaction; the batch operations of the dispatcher
(lease, complete, release, reap, requeue, cancel) are one statement each, so a
batch of a hundred chunks costs a constant number of round trips. Leases use
``FOR UPDATE SKIP LOCKED`` so several coordinators take disjoint chunks.
Driver errors are wrapped here, at the edge: an unreachable server becomes
:class:`StoreUnavailable` whose message names the server without a password.
Every SQL text comes from ``sql/postgres.sql``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, args_row, dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from orchestrator import jsoncodec
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
from orchestrator.store import redact_url, rows
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
from orchestrator.store.queries import latest_version, load_migrations, load_queries
from orchestrator.store.rows import EventKind

if TYPE_CHECKING:  # spec.ssh is not needed to read a store
    from orchestrator.spec.ssh import HostSpec

#: seconds libpq waits for a server to answer a new connection
CONNECT_TIMEOUT_S = 5
#: connections per Store: the dispatcher loop, its heartbeat thread, a spare
POOL_MAX_SIZE = 4
#: seconds a call waits for a free pooled connection before StoreUnavailable
POOL_TIMEOUT_S = 10.0
#: pg_advisory_xact_lock key serializing migrators ("jobc")
MIGRATION_LOCK_KEY = 0x6A6F6263
#: seconds a lease call skips looking for limited queues after a look found
#: none among its jobs (one round trip less on the hot path). A limit set
#: meanwhile still holds at once: its queue leases nothing until the next look.
QUEUE_LIMIT_RECHECK_S = 1.0

_Q = load_queries("postgres")
_DIALECT = "postgres"
Cursor = psycopg.Cursor[DictRow]


def _same(value: Any) -> Any:
    """psycopg already decodes jsonb."""
    return value


#: lease_chunks returns the columns of :class:`Lease` in its field order (jsonb
#: already parsed): rows become leases without a dict per row in between,
#: which showed in the dispatcher's profile at 10,000+ chunks/s.
_LEASE_ROW = args_row(Lease)


def _configure_connection(conn: psycopg.Connection[Any]) -> None:
    """Each pooled connection parses json/jsonb with :mod:`orchestrator.jsoncodec`
    (a lease returns every chunk's descriptor as jsonb); set on the connection,
    not globally, so other psycopg users in the process are unaffected."""
    set_json_loads(jsoncodec.loads, conn)


class PostgresStore(Store):
    """See the module docstring. ``url`` is passed to libpq untouched."""

    def __init__(self, url: str, *, actor: Actor) -> None:
        self.display_url = redact_url(url)
        self.actor = actor
        self._limits_recheck_at = 0.0  # monotonic; see QUEUE_LIMIT_RECHECK_S
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise StoreError(f"invalid PostgreSQL URL {self.display_url}: {exc}") from None
        self._password = str(params.get("password") or "")
        kwargs: dict[str, Any] = {"autocommit": False}
        if "connect_timeout" not in params:
            kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
        if "application_name" not in params:
            kwargs["application_name"] = "jobctl"
        try:  # a first connection of our own: fails fast and says why
            with psycopg.connect(url, **kwargs) as conn:
                conn.execute(_Q["ping"])
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"cannot reach PostgreSQL at {self.display_url}: {self._reason(exc)}"
            ) from None
        self._conninfo = url
        self._connect_kwargs = kwargs
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            kwargs=kwargs,
            min_size=1,
            max_size=POOL_MAX_SIZE,
            open=True,
            timeout=POOL_TIMEOUT_S,
            name="jobctl-store",
            configure=_configure_connection,
        )

    # -- plumbing -----------------------------------------------------------------

    def _reason(self, exc: BaseException) -> str:
        """The driver's message, first line, never containing the password."""
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else type(exc).__name__
        return text.replace(self._password, "***") if self._password else text

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        """One transaction on a pooled connection; driver errors wrapped."""
        with (
            self._driver_errors(),
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=dict_row) as cur,
        ):
            yield cur

    @contextmanager
    def _statement(self) -> Iterator[Cursor]:
        """For a call that is exactly one statement: it is its own transaction
        (autocommit; committed, durably, before its answer returns), so the
        call costs one round trip instead of three (BEGIN, it, COMMIT). The
        dispatcher's hot calls (lease, complete) use it."""
        with self._driver_errors(), self._pool.connection() as conn:
            conn.autocommit = True
            try:
                with conn.cursor(row_factory=dict_row) as cur:
                    yield cur
            finally:
                with contextlib.suppress(psycopg.Error):
                    conn.autocommit = False  # a broken connection is dropped by the pool

    @contextmanager
    def _driver_errors(self) -> Iterator[None]:
        """Driver errors as ours, at the edge: see the module docstring."""
        try:
            yield
        except PoolTimeout:
            raise StoreUnavailable(
                f"no connection to PostgreSQL at {self.display_url} within "
                f"{POOL_TIMEOUT_S:g} s (server down, or all {POOL_MAX_SIZE} connections busy)"
            ) from None
        except PoolClosed:
            raise StoreError("the store was closed") from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreUnavailable(
                f"PostgreSQL at {self.display_url}: {self._reason(exc)}"
            ) from exc
        except psycopg.errors.UndefinedTable as exc:
            raise StoreError(
                f"the store {self.display_url} has no schema ({self._reason(exc)}); "
                "run `jobctl db upgrade`"
            ) from exc
        except psycopg.IntegrityError as exc:
            raise StoreError(f"PostgreSQL at {self.display_url}: {self._reason(exc)}") from exc

    def _event(
        self,
        cur: Cursor,
        kind: str,
        job_id: int | None,
        chunk_id: int | None,
        detail: dict[str, Any] | None,
    ) -> None:
        cur.execute(
            _Q["insert_event"],
            {
                "kind": kind,
                "job_id": job_id,
                "chunk_id": chunk_id,
                "detail": rows.dump_json(detail or {}),
                **self._who(),
            },
        )

    def _who(self) -> dict[str, Any]:
        return {"user": self.actor.user, "host": self.actor.host, "pid": self.actor.pid}

    def _one(self, name: str, params: dict[str, Any]) -> DictRow | None:
        with self._tx() as cur:
            cur.execute(_Q[name], params)
            return cur.fetchone()

    def _all(self, name: str, params: dict[str, Any]) -> list[DictRow]:
        with self._tx() as cur:
            cur.execute(_Q[name], params)
            return cur.fetchall()

    # -- schema -------------------------------------------------------------------

    def upgrade(self) -> list[int]:
        latest = latest_version(_DIALECT)
        current, _ = self.schema_version()
        if current > latest:
            raise self._too_new(current, latest)
        if current == latest:
            return []
        applied: list[int] = []
        with self._tx() as cur:
            cur.execute(_Q["migration_lock"], {"key": MIGRATION_LOCK_KEY})
            cur.execute(_Q["ensure_migrations_table"])
            cur.execute(_Q["current_version"])
            current = int(_row(cur)["version"])  # again, under the lock
            if current > latest:
                raise self._too_new(current, latest)
            for migration in load_migrations(_DIALECT):
                if migration.version > current:
                    cur.execute(migration.sql)
                    cur.execute(_Q["insert_migration"], {"version": migration.version})
                    applied.append(migration.version)
        return applied

    def _too_new(self, current: int, latest: int) -> SchemaTooNew:
        return SchemaTooNew(
            f"the store {self.display_url} is at schema version {current}, newer than this "
            f"jobctl knows ({latest}); upgrade jobctl to use it"
        )

    def schema_version(self) -> tuple[int, int]:
        latest = latest_version(_DIALECT)
        with self._tx() as cur:
            cur.execute(_Q["has_migrations_table"])
            if not _row(cur)["present"]:
                return 0, latest
            cur.execute(_Q["current_version"])
            return int(_row(cur)["version"]), latest

    def close(self) -> None:
        self._pool.close()

    # -- jobs ---------------------------------------------------------------------

    def submit_job(
        self, job: NewJob, inputs: Sequence[InputFile], chunks: Sequence[ChunkDescriptor]
    ) -> tuple[int, bool]:
        key = {"name": job.name, "run_key": job.run_key}
        with self._tx() as cur:
            cur.execute(
                _Q["insert_job"],
                {
                    **key,
                    "priority": int(job.priority),
                    "queue": job.queue,
                    "spec": rows.dump_json(job.spec),
                    "spec_hash": job.spec_hash,
                    "output_path": job.output_path,
                    "source_file": job.source_file,
                },
            )
            created = cur.fetchone()
            if created is None:  # the key exists (perhaps committed a moment ago)
                cur.execute(_Q["job_id_by_key"], key)
                return int(_row(cur)["id"]), False
            job_id = int(created["id"])
            if inputs:
                cur.executemany(
                    _Q["insert_input"], [rows.input_row(job_id, i, f) for i, f in enumerate(inputs)]
                )
            self._copy_chunks(cur, job_id, chunks)
            if job.upstream_ids:
                cur.execute(
                    _Q["insert_job_deps"],
                    {"job_id": job_id, "upstream_ids": [int(u) for u in job.upstream_ids]},
                )
            cur.execute(_Q["notify_jobs"], {"payload": f"submitted {job_id}"})
            detail = {
                **key,
                "priority": int(job.priority),
                "queue": job.queue,
                "inputs": len(inputs),
                "chunks": len(chunks),
            }
            self._event(cur, EventKind.JOB_SUBMITTED, job_id, None, detail)
        return job_id, True

    def _copy_chunks(self, cur: Cursor, job_id: int, chunks: Sequence[ChunkDescriptor]) -> None:
        if not chunks:
            return
        with cur.copy(_Q["copy_chunks"]) as copy:
            for chunk in chunks:
                copy.write_row(rows.chunk_row(job_id, chunk))

    def get_job(self, job_id: int) -> JobRecord:
        row = self._one("get_job", {"job_id": job_id})
        if row is None:
            raise NotFound(f"job {job_id} does not exist")
        return rows.job_record(row, _same)

    def find_job(self, name: str, run_key: str | None = None) -> JobRecord | None:
        if run_key is None:
            row = self._one("find_job_newest", {"name": name})
        else:
            row = self._one("find_job_by_key", {"name": name, "run_key": run_key})
        return None if row is None else rows.job_record(row, _same)

    def list_jobs(
        self, states: Sequence[JobState] | None = None, limit: int = 100
    ) -> list[JobRecord]:
        params = {"states": None if states is None else rows.state_values(states), "limit": limit}
        return [rows.job_record(r, _same) for r in self._all("list_jobs", params)]

    def job_inputs(self, job_id: int) -> list[InputFile]:
        return [rows.input_file(r) for r in self._all("job_inputs", {"job_id": job_id})]

    def job_progress(self, job_id: int) -> JobProgress:
        with self._tx() as cur:
            cur.execute(_Q["job_state"], {"job_id": job_id})
            job = cur.fetchone()
            if job is None:
                raise NotFound(f"job {job_id} does not exist")
            cur.execute(_Q["job_progress"], {"job_id": job_id})
            return rows.job_progress(job_id, job["state"], cur.fetchall())

    def _move_job(
        self, cur: Cursor, job_id: int, target: JobState, error: str | None
    ) -> tuple[JobState, JobRecord]:
        """Apply one job transition in the caller's transaction: (source, new record)."""
        cur.execute(_Q["job_state_for_update"], {"job_id": job_id})
        current = cur.fetchone()
        if current is None:
            raise NotFound(f"job {job_id} does not exist")
        cur.execute(
            _Q["update_job_state"],
            {
                "job_id": job_id,
                "target": target.value,
                "sources": rows.state_values(job_sources(target)),
                "terminal": target in JOB_TERMINAL,
                "active": target in JOB_ACTIVE,
                "error": error,
            },
        )
        changed = cur.fetchone()
        if changed is None:
            raise IllegalTransition(f"job {job_id} cannot go from {current['state']} to {target}")
        return JobState(current["state"]), rows.job_record(changed, _same)

    def set_job_state(
        self,
        job_id: int,
        target: JobState,
        *,
        error: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> JobRecord:
        with self._tx() as cur:
            source, record = self._move_job(cur, job_id, target, error)
            info = rows.job_state_detail(source, target, error, detail)
            self._event(cur, EventKind.JOB_STATE, job_id, None, info)
        return record

    def cancel_job(self, job_id: int) -> bool:
        with self._tx() as cur:
            cur.execute(_Q["job_state_for_update"], {"job_id": job_id})
            current = cur.fetchone()
            if current is None:
                raise NotFound(f"job {job_id} does not exist")
            if JobState(current["state"]) in JOB_TERMINAL:
                return False
            source, _record = self._move_job(cur, job_id, JobState.CANCELLED, None)
            sources = rows.state_values(CHUNK_CANCELLED_WITH_JOB)
            cur.execute(_Q["cancel_chunks"], {"job_id": job_id, "sources": sources, **self._who()})
            detail = {"from": source.value, "chunks_cancelled": len(cur.fetchall())}
            self._event(cur, EventKind.JOB_CANCELLED, job_id, None, detail)
        return True

    # -- chunks -------------------------------------------------------------------

    def add_chunks(self, job_id: int, chunks: Sequence[ChunkDescriptor]) -> int:
        with self._tx() as cur:
            cur.execute(_Q["job_state"], {"job_id": job_id})
            if cur.fetchone() is None:
                raise NotFound(f"job {job_id} does not exist")
            self._copy_chunks(cur, job_id, chunks)
            seqs = [c.seq for c in chunks]
            detail = {
                "count": len(chunks),
                "first_seq": min(seqs, default=None),
                "last_seq": max(seqs, default=None),
            }
            self._event(cur, EventKind.CHUNKS_ADDED, job_id, None, detail)
        return len(chunks)

    def list_chunks(
        self,
        job_id: int,
        states: Sequence[ChunkState] | None = None,
        limit: int | None = None,
    ) -> list[ChunkRecord]:
        params = {
            "job_id": job_id,
            "states": None if states is None else rows.state_values(states),
            "limit": limit,
        }
        return [rows.chunk_record(r, _same) for r in self._all("list_chunks", params)]

    def lease_chunks(
        self,
        owner: str,
        job_ids: Sequence[int],
        limit: int,
        lease_seconds: float,
    ) -> list[Lease]:
        if limit <= 0 or not job_ids:
            return []
        params: dict[str, Any] = {
            "owner": owner,
            "job_ids": list(job_ids),
            "limit": limit,
            "lease_seconds": float(lease_seconds),
            **self._who(),
        }
        params["locked"] = []
        now = time.monotonic()
        if now < self._limits_recheck_at:  # no limited queue among them: one statement
            with self._statement() as cur:
                cur.row_factory = _LEASE_ROW  # type: ignore[assignment]
                cur.execute(_Q["lease_chunks"], params)
                return cur.fetchall()  # type: ignore[return-value]
        with self._tx() as cur:
            # two statements: the lease counts a limited queue's running chunks
            # with a snapshot taken after its lock was granted
            cur.execute(_Q["lock_queue_limits"], params)
            params["locked"] = [r["name"] for r in cur.fetchall()]
            if not params["locked"]:
                self._limits_recheck_at = now + QUEUE_LIMIT_RECHECK_S
            cur.row_factory = _LEASE_ROW  # type: ignore[assignment]
            cur.execute(_Q["lease_chunks"], params)
            return cur.fetchall()  # type: ignore[return-value]

    def renew_leases(self, owner: str, lease_seconds: float) -> int:
        with self._tx() as cur:
            cur.execute(_Q["renew_leases"], {"owner": owner, "lease_seconds": float(lease_seconds)})
            return cur.rowcount

    def complete_chunks(self, owner: str, outcomes: Sequence[ChunkOutcome]) -> list[bool]:
        keep = rows.unique_outcomes(outcomes)
        if not keep:
            return [False] * len(outcomes)
        batch = [rows.outcome_row(owner, outcomes[i]) for i in keep]
        params = {"batch": rows.dump_json(batch), "owner": owner, **self._who()}
        with self._statement() as cur:  # rejections are logged by the same statement
            cur.execute(_Q["complete_chunks"], params)
            done = {int(r["id"]) for r in cur.fetchall()}
        accepted = [False] * len(outcomes)
        for index in keep:
            accepted[index] = outcomes[index].chunk_id in done
        return accepted

    def release_leases(self, owner: str, reason: str) -> int:
        row = self._one("release_leases", {"owner": owner, "reason": reason, **self._who()})
        return 0 if row is None else int(row["n"])

    def reap_expired(self, limit: int = 1000) -> int:
        params = {"limit": limit, "reason": "lease expired", **self._who()}
        row = self._one("reap_expired", params)
        return 0 if row is None else int(row["n"])

    def requeue_chunks(self, job_id: int, states: Sequence[ChunkState]) -> int:
        return self._requeue(job_id, states, None)

    def _requeue(
        self, job_id: int, states: Sequence[ChunkState], seqs: Sequence[int] | None
    ) -> int:
        allowed = set(states) & chunk_sources(ChunkState.PENDING)
        allowed.discard(ChunkState.SUCCEEDED)
        if not allowed or (seqs is not None and not seqs):
            return 0
        params = {
            "job_id": job_id,
            "sources": rows.state_values(allowed),
            "seqs": None if seqs is None else [int(s) for s in seqs],
            **self._who(),
        }
        row = self._one("requeue_chunks", params)
        return 0 if row is None else int(row["n"])

    def save_checkpoint(self, chunk_id: int, fencing_token: int, state: Any) -> bool:
        with self._tx() as cur:
            cur.execute(
                _Q["save_checkpoint"],
                {"chunk_id": chunk_id, "token": fencing_token, "checkpoint": rows.dump_json(state)},
            )
            return cur.rowcount == 1

    # -- events -------------------------------------------------------------------

    def record_event(
        self,
        kind: str,
        *,
        job_id: int | None = None,
        chunk_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self._tx() as cur:
            self._event(cur, kind, job_id, chunk_id, detail)

    def list_events(self, job_id: int, limit: int | None = None) -> list[EventRecord]:
        params = {"job_id": job_id, "limit": limit}
        return [rows.event_record(r, _same) for r in self._all("list_events", params)]

    # -- queues -------------------------------------------------------------------

    def list_queues(self) -> list[QueueInfo]:
        return [rows.queue_info(r) for r in self._all("list_queues", {})]

    def set_queue_paused(self, name: str, paused: bool) -> bool:
        with self._tx() as cur:
            cur.execute(_Q["get_queue_for_update"], {"name": name})
            current = cur.fetchone()
            if bool(current and current["paused"]) == paused:
                return False
            cur.execute(_Q["upsert_queue_paused"], {"name": name, "paused": paused})
            kind = EventKind.QUEUE_PAUSED if paused else EventKind.QUEUE_RESUMED
            self._event(cur, kind, None, None, {"queue": name})
        return True

    def set_queue_limit(self, name: str, limit: int | None) -> bool:
        rows.check_queue_args(limit=limit)
        with self._tx() as cur:
            cur.execute(_Q["get_queue_for_update"], {"name": name})
            current = cur.fetchone()
            before = current["concurrency_limit"] if current else None
            if before == limit:
                return False
            cur.execute(_Q["upsert_queue_limit"], {"name": name, "limit": limit})
            detail = {"queue": name, "from": before, "to": limit}
            self._event(cur, EventKind.QUEUE_LIMIT, None, None, detail)
        self._limits_recheck_at = 0.0  # this process's next lease sees it at once
        return True

    def queue_stats(self, name: str, since: float) -> QueueStats:
        rows.check_queue_args(since=since)
        params = {"name": name, "queue": name, "since": float(since)}
        with self._tx() as cur:
            cur.execute(_Q["get_queue"], params)
            gate = cur.fetchone()
            cur.execute(_Q["queue_chunk_counts"], params)
            counts = cur.fetchall()
            cur.execute(_Q["queue_waits"], params)
            waits = _row(cur)
            cur.execute(_Q["queue_flow"], params)
            return rows.queue_stats(name, since, gate, counts, waits, _row(cur))

    # -- hosts --------------------------------------------------------------------

    def add_host(self, host: HostSpec, *, replace: bool = False) -> bool:
        params = host_params(host, rows.dump_json)
        with self._tx() as cur:
            cur.execute(_Q["insert_host"], params)
            created = cur.fetchone() is not None
            if not created and not replace:
                return False
            if not created:
                cur.execute(_Q["update_host"], params)
            kind = HostEventKind.HOST_ADDED if created else HostEventKind.HOST_UPDATED
            self._event(cur, kind, None, None, host_event_detail(host))
        return created

    def remove_host(self, name: str) -> bool:
        with self._tx() as cur:
            cur.execute(_Q["delete_host"], {"name": name})
            gone = cur.fetchone() is not None
            if gone:
                self._event(cur, HostEventKind.HOST_REMOVED, None, None, {"host": name})
        return gone

    def get_host(self, name: str) -> HostRecord:
        row = self._one("get_host", {"name": name})
        if row is None:
            raise NotFound(f"host {name!r} is not registered (see `jobctl hosts list`)")
        return host_record(row, _same, rows.to_datetime)

    def list_hosts(self) -> list[HostRecord]:
        return [host_record(r, _same, rows.to_datetime) for r in self._all("list_hosts", {})]

    def set_host_state(
        self,
        name: str,
        state: HostState,
        *,
        reason: str | None = None,
        automatic: bool = False,
    ) -> bool:
        target = HostState(state).value
        with self._tx() as cur:
            cur.execute(_Q["get_host_for_update"], {"name": name})
            current = cur.fetchone()
            if current is None:
                raise NotFound(f"host {name!r} is not registered (see `jobctl hosts list`)")
            params = {"name": name, "state": target, "reason": reason, "automatic": automatic}
            cur.execute(_Q["set_host_state"], params)
            if cur.rowcount != 1:
                return False
            detail = {"host": name, "from": current["state"], "to": target, "reason": reason}
            self._event(cur, HostEventKind.HOST_STATE, None, None, detail)
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
        with self._tx() as cur:
            cur.execute(_Q["record_host_stats"], params)

    # -- fault tolerance ------------------------------------------------------------

    def coordinator_heartbeat(
        self, owner: str, leases: Sequence[tuple[int, int]], lease_seconds: float
    ) -> dict[int, int]:
        params = {
            "owner": owner,
            "host": self.actor.host,
            "pid": self.actor.pid,
            "ids": [chunk_id for chunk_id, _ in leases],
            "tokens": [token for _, token in leases],
            "lease_seconds": float(lease_seconds),
        }
        with self._tx() as cur:
            cur.execute(_Q["upsert_coordinator"], params)
            cur.execute(_Q["renew_chunk_leases"], params)
            return {int(r["id"]): int(r["fencing_token"]) for r in cur.fetchall()}

    def deregister_coordinator(self, owner: str) -> None:
        with self._tx() as cur:
            cur.execute(_Q["delete_coordinator"], {"owner": owner})

    def lease_owners(self) -> list[LeaseOwner]:
        return [rows.lease_owner(r) for r in self._all("lease_owners", {})]

    def reclaim_owner(self, owner: str, reason: str) -> int:
        params = {"owner": owner, "reason": reason, **self._who()}
        with self._tx() as cur:
            cur.execute(_Q["reclaim_owner"], params)
            moved = int(_row(cur)["n"])
            cur.execute(_Q["delete_coordinator"], {"owner": owner})
        return moved

    def dead_chunks(self, job_id: int | None = None, limit: int | None = None) -> list[ChunkRecord]:
        params = {"job_id": job_id, "limit": limit}
        return [rows.chunk_record(r, _same) for r in self._all("dead_chunks", params)]

    def purge_dead(self, job_id: int) -> int:
        row = self._one("purge_dead", {"job_id": job_id, **self._who()})
        return 0 if row is None else int(row["n"])

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
        with self._tx() as cur:
            cur.execute(_Q["job_state_for_update"], {"job_id": job_id})
            current = cur.fetchone()
            if current is None:
                raise NotFound(f"job {job_id} does not exist")
            state = JobState(current["state"])
            rows.check_replannable(job_id, state)
            cur.execute(_Q["running_chunk_owners"], {"job_id": job_id})
            rows.check_nothing_running(job_id, cur.fetchall())
            cur.execute(_Q["count_succeeded"], {"job_id": job_id})
            succeeded = int(_row(cur)["n"])
            cur.execute(_Q["get_job"], {"job_id": job_id})
            old_hash = _row(cur)["spec_hash"]
            cur.execute(_Q["delete_job_chunks"], {"job_id": job_id})
            dropped = cur.rowcount
            cur.execute(_Q["delete_job_inputs"], {"job_id": job_id})
            if inputs:
                cur.executemany(
                    _Q["insert_input"], [rows.input_row(job_id, i, f) for i, f in enumerate(inputs)]
                )
            self._copy_chunks(cur, job_id, chunks)
            cur.execute(
                _Q["update_job_plan"],
                {"job_id": job_id, "spec": rows.dump_json(spec), "spec_hash": spec_hash},
            )
            detail = rows.replan_detail(old_hash, spec_hash, dropped, succeeded, len(chunks))
            self._event(cur, EventKind.JOB_REPLANNED, job_id, None, detail)
        return dropped

    # -- scheduling -------------------------------------------------------------------

    def upstream_jobs(self, job_id: int) -> list[tuple[int, str, JobState]]:
        found = self._all("upstream_jobs", {"job_id": job_id})
        return [(int(r["id"]), str(r["name"]), JobState(r["state"])) for r in found]

    def runnable_jobs(self, queues: Sequence[str] | None, limit: int = 1000) -> list[int]:
        params = {"queues": None if queues is None else list(queues), "limit": limit}
        return [int(r["id"]) for r in self._all("runnable_jobs", params)]

    def fail_blocked_jobs(self) -> list[int]:
        failed: list[int] = []
        while True:  # each round may block jobs further down the graph
            with self._tx() as cur:
                cur.execute(_Q["blocked_jobs"], {})
                blocked = cur.fetchall()
                for row in blocked:
                    job_id = int(row["job_id"])
                    error = f"upstream job(s) did not succeed: {row['upstream']}"
                    try:
                        source, _ = self._move_job(cur, job_id, JobState.UPSTREAM_FAILED, error)
                    except IllegalTransition:
                        continue  # it started meanwhile
                    info = rows.job_state_detail(source, JobState.UPSTREAM_FAILED, error, None)
                    self._event(cur, EventKind.JOB_STATE, job_id, None, info)
                    failed.append(job_id)
            if not blocked:
                return failed

    def claim_settlement(
        self, job_id: int, owner: str, seconds: float, take_from: str | None = None
    ) -> bool:
        params = {"job_id": job_id, "owner": owner, "seconds": float(seconds)}
        return self._one("claim_settlement", {**params, "take_from": take_from}) is not None

    def settlement_holder(self, job_id: int) -> LeaseOwner | None:
        row = self._one("settlement_holder", {"job_id": job_id})
        return None if row is None else rows.lease_owner(row)

    def set_job_priority(self, job_id: int, priority: Priority) -> JobRecord:
        with self._tx() as cur:
            cur.execute(_Q["update_job_priority"], {"job_id": job_id, "priority": int(priority)})
            row = cur.fetchone()
            if row is None:
                cur.execute(_Q["job_state"], {"job_id": job_id})
                current = cur.fetchone()
                if current is None:
                    raise NotFound(f"job {job_id} does not exist")
                raise IllegalTransition(
                    f"job {job_id} is {current['state']}: only a pending or running "
                    "job's priority can change"
                )
            old = Priority(row["old_priority"])
            detail = {"from": old.name, "to": priority.name}
            self._event(cur, EventKind.JOB_PRIORITY, job_id, None, detail)
            cur.execute(_Q["notify_jobs"], {"payload": f"priority {job_id}"})
        return rows.job_record(row, _same)

    def get_jobs(self, job_ids: Sequence[int]) -> list[JobRecord]:
        if not job_ids:
            return []
        found = self._all("get_jobs", {"job_ids": [int(i) for i in job_ids]})
        return [rows.job_record(r, _same) for r in found]

    def listen(self) -> PgJobListener:
        return PgJobListener(self._conninfo, self._connect_kwargs, self.display_url)

    # -- attempt logs --------------------------------------------------------------------

    def save_attempt_logs(self, logs: Sequence[AttemptLog]) -> None:
        if not logs:
            return
        job_ids = sorted({log.job_id for log in logs})
        with self._tx() as cur:
            cur.executemany(_Q["insert_attempt_log"], [log.params() for log in logs])
            cur.execute(_Q["prune_attempt_logs"], {"job_ids": job_ids, "keep": KEEP_PER_CHUNK})

    def attempt_logs(
        self,
        job_id: int,
        seq: int | None = None,
        attempt: int | None = None,
        after_id: int = 0,
        limit: int = READ_LIMIT,
    ) -> list[AttemptLog]:
        params = read_params(job_id, seq, attempt, after_id, limit)
        return [attempt_log(r) for r in self._all("attempt_logs", params)]


class PgJobListener:
    """A dedicated autocommit connection that LISTENs for job notifications;
    its socket goes into the dispatcher's selector, so a submit wakes a
    ``serve`` at once instead of at its next poll."""

    def __init__(self, url: str, kwargs: dict[str, Any], display_url: str) -> None:
        self.display_url = display_url
        try:
            self._conn = psycopg.connect(url, **{**kwargs, "autocommit": True})
            self._conn.execute(_Q["listen_jobs"])
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"cannot listen on PostgreSQL at {display_url}: {str(exc).splitlines()[0]}"
            ) from None

    def fileno(self) -> int:
        return self._conn.fileno()

    def drain(self) -> int:
        pgconn = self._conn.pgconn
        try:
            pgconn.consume_input()
        except psycopg.Error as exc:
            raise StoreUnavailable(f"lost the LISTEN connection to {self.display_url}") from exc
        count = 0
        while pgconn.notifies() is not None:
            count += 1
        if self._conn.broken or pgconn.status != 0:  # CONNECTION_OK
            raise StoreUnavailable(f"lost the LISTEN connection to {self.display_url}")
        return count

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._conn.close()


def _row(cur: Cursor) -> DictRow:
    row = cur.fetchone()
    assert row is not None
    return row
