"""The PostgreSQL dialect adapter: psycopg 3 with a small connection pool.

The control flow is :class:`orchestrator.store.fleet.SqlStore`'s; this
module supplies the transaction (a pooled connection), array parameters,
``COPY`` for chunks, ``NOTIFY``/``LISTEN`` and the batch hot path.

Every method is one transaction; the batch operations of the dispatcher
(lease, complete, release, reap, requeue, cancel) are one statement each, so
a batch of a hundred chunks costs a constant number of round trips. Leases use
``FOR UPDATE SKIP LOCKED`` so several coordinators take disjoint chunks.
Driver errors are wrapped here, at the edge: an unreachable server becomes
:class:`StoreUnavailable` whose message names the server without a password.
Every SQL text comes from ``sql/postgres.sql`` or ``sql/common.sql``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, args_row, dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from orchestrator import jsoncodec
from orchestrator.errors import StoreError, StoreUnavailable
from orchestrator.store import redact_url, rows
from orchestrator.store.fleet import SqlStore
from orchestrator.store.queries import load_queries
from orchestrator.store.records import Lease
from orchestrator.store.tx import ChunkMove, Event, Tx

if TYPE_CHECKING:
    from orchestrator.planning.model import ChunkDescriptor
    from orchestrator.store.records import Actor, ChunkOutcome

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
Cursor = psycopg.Cursor[DictRow]


#: lease_chunks returns the columns of :class:`Lease` in its field order (jsonb
#: already parsed): rows become leases without a dict per row in between,
#: which showed in the dispatcher's profile at 10,000+ chunks/s.
_LEASE_ROW = args_row(Lease)


def _configure_connection(conn: psycopg.Connection[Any]) -> None:
    """Each pooled connection parses json/jsonb with :mod:`orchestrator.jsoncodec`
    (a lease returns every chunk's descriptor as jsonb); set on the connection,
    not globally, so other psycopg users in the process are unaffected."""
    set_json_loads(jsoncodec.loads, conn)


class PostgresStore(SqlStore):
    """See the module docstring. ``url`` is passed to libpq untouched."""

    dialect = "postgres"

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

    def _tx(self, write: bool = True) -> AbstractContextManager[Tx]:
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[PgTx]:
        """One transaction on a pooled connection; driver errors wrapped."""
        with (
            self._driver_errors(),
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=dict_row) as cur,
        ):
            yield PgTx(cur, self.actor)

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

    # -- the dialect adapter ----------------------------------------------------

    def _array(self, values: Sequence[Any]) -> Any:
        return list(values)

    def _limit(self, limit: int | None) -> int | None:
        return limit

    @staticmethod
    def _loads(value: Any) -> Any:
        """psycopg already decodes jsonb."""
        return value

    def _insert_chunks(self, tx: Tx, job_id: int, chunks: Sequence[ChunkDescriptor]) -> None:
        assert isinstance(tx, PgTx)
        with tx.cur.copy(_Q["copy_chunks"]) as copy:
            for chunk in chunks:
                copy.write_row(rows.chunk_row(job_id, chunk))

    def _notify(self, tx: Tx, payload: str) -> None:
        tx.one("notify_jobs", {"payload": payload})

    def _migration_lock(self, tx: Tx) -> None:
        tx.one("migration_lock", {"key": MIGRATION_LOCK_KEY})

    def _run_script(self, tx: Tx, script: str) -> None:
        assert isinstance(tx, PgTx)
        tx.cur.execute(script)  # a migration file, ours

    def _move_job_chunks(self, tx: Tx, move: ChunkMove) -> int:
        moved = tx.one("move_job_chunks", {**vars(move), **_who(self.actor)})
        return int(_found(moved)["n"])

    def _return_running(self, tx: Tx, params: dict[str, Any]) -> int:
        return int(_found(tx.one("return_running", {**params, **_who(self.actor)}))["n"])

    def _purge_dead(self, tx: Tx, job_id: int) -> int:
        return int(_found(tx.one("purge_dead", {"job_id": job_id, **_who(self.actor)}))["n"])

    def _renew_held(
        self, tx: Tx, owner: str, leases: Sequence[tuple[int, int]], lease_seconds: float
    ) -> list[Any]:
        params = {
            "owner": owner,
            "ids": [chunk_id for chunk_id, _ in leases],
            "tokens": [token for _, token in leases],
            "lease_seconds": lease_seconds,
        }
        return tx.all("renew_chunk_leases", params)

    def _limits_changed(self) -> None:
        self._limits_recheck_at = 0.0

    def close(self) -> None:
        self._pool.close()

    # -- the batch hot path: one statement each ---------------------------------

    def lease_chunks(
        self,
        owner: str,
        job_ids: Sequence[int],
        limit: int,
        lease_seconds: float,
        serial: Sequence[tuple[int, int]] = (),
    ) -> list[Lease]:
        if limit <= 0 or not job_ids:
            return []
        params: dict[str, Any] = {
            "owner": owner,
            "job_ids": list(job_ids),
            "limit": limit,
            "lease_seconds": float(lease_seconds),
            "serial": [f"{job_id}:{phase}" for job_id, phase in serial],
            **_who(self.actor),
        }
        params["locked"] = []
        now = time.monotonic()
        if now < self._limits_recheck_at:  # no limited queue among them: one statement
            with self._statement() as cur:
                cur.row_factory = _LEASE_ROW  # type: ignore[assignment]
                cur.execute(_Q["lease_chunks"], params)
                return cur.fetchall()  # type: ignore[return-value]
        with self._transaction() as tx:
            cur = tx.cur
            # two statements: the lease counts a limited queue's running chunks
            # with a snapshot taken after its lock was granted
            cur.execute(_Q["lock_queue_limits"], params)
            params["locked"] = [r["name"] for r in cur.fetchall()]
            if not params["locked"]:
                self._limits_recheck_at = now + QUEUE_LIMIT_RECHECK_S
            cur.row_factory = _LEASE_ROW  # type: ignore[assignment]
            cur.execute(_Q["lease_chunks"], params)
            return cur.fetchall()  # type: ignore[return-value]

    def complete_chunks(self, owner: str, outcomes: Sequence[ChunkOutcome]) -> list[bool]:
        keep = rows.unique_outcomes(outcomes)
        if not keep:
            return [False] * len(outcomes)
        batch = [rows.outcome_row(owner, outcomes[i]) for i in keep]
        params = {"batch": rows.dump_json(batch), "owner": owner, **_who(self.actor)}
        with self._statement() as cur:  # rejections are logged by the same statement
            cur.execute(_Q["complete_chunks"], params)
            done = {int(r["id"]) for r in cur.fetchall()}
        accepted = [False] * len(outcomes)
        for index in keep:
            accepted[index] = outcomes[index].chunk_id in done
        return accepted

    def listen(self) -> PgJobListener:
        return PgJobListener(self._conninfo, self._connect_kwargs, self.display_url)


class PgTx(Tx):
    """A :class:`Tx` on a psycopg cursor (dict rows)."""

    def __init__(self, cur: Cursor, actor: Actor) -> None:
        self.cur = cur
        self.who = _who(actor)

    def one(self, name: str, params: dict[str, Any] | None = None) -> Any | None:
        self.cur.execute(_Q[name], params)
        return self.cur.fetchone()

    def all(self, name: str, params: dict[str, Any] | None = None) -> list[Any]:
        self.cur.execute(_Q[name], params)
        return self.cur.fetchall()

    def run(self, name: str, params: dict[str, Any] | None = None) -> int:
        self.cur.execute(_Q[name], params)
        return self.cur.rowcount

    def many(self, name: str, batch: Sequence[Sequence[Any]]) -> None:
        if batch:
            self.cur.executemany(_Q[name], batch)

    def events(self, items: Sequence[Event]) -> None:
        for kind, job_id, chunk_id, detail in items:
            params = {"kind": kind, "job_id": job_id, "chunk_id": chunk_id}
            self.cur.execute(
                _Q["insert_event"], {**params, "detail": rows.dump_json(detail or {}), **self.who}
            )


def _who(actor: Actor) -> dict[str, Any]:
    return {"user": actor.user, "host": actor.host, "pid": actor.pid}


def _found(row: Any | None) -> Any:
    assert row is not None
    return row


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
