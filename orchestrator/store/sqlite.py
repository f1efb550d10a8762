"""The embedded SQLite dialect adapter: one file, WAL, one connection per Store.

The control flow is :class:`orchestrator.store.fleet.SqlStore`'s; this
module supplies the transaction (``BEGIN IMMEDIATE`` for writes, the database
clock read once as ``:now``), JSON lists, ``executemany`` for chunks, and the
batch moves as a select of the victims plus set-based statements (SQLite has
no writable CTEs).

Writers serialize on ``BEGIN IMMEDIATE`` (SQLite has no ``SKIP LOCKED``, and
needs none: a write transaction holds the only write lock), readers never
block them (WAL). A Store may be shared by threads (the dispatcher's
heartbeat thread): a lock guards the one connection. Every SQL text comes
from ``sql/sqlite.sql`` or ``sql/common.sql``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from orchestrator.errors import StoreError, StoreUnavailable
from orchestrator.store import rows
from orchestrator.store.fairshare import lease_fairly
from orchestrator.store.fleet import SqlStore
from orchestrator.store.queries import load_queries, sqlite_statements
from orchestrator.store.rows import EventKind
from orchestrator.store.tx import ChunkMove, Event, Tx

if TYPE_CHECKING:
    from orchestrator.planning.model import ChunkDescriptor
    from orchestrator.store.records import Actor, ChunkOutcome, Lease

#: seconds a writer waits for the write lock before StoreUnavailable
BUSY_TIMEOUT_S = 30.0

_Q = load_queries("sqlite")


def _ids(values: Sequence[Any]) -> str:
    return json.dumps(list(values))


class SqliteStore(SqlStore):
    """See the module docstring. ``path`` is a file path or ``:memory:``."""

    dialect = "sqlite"

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

    def _tx(self, write: bool = True) -> AbstractContextManager[Tx]:
        return self._transaction(write)

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[SqliteTx]:
        """One transaction (IMMEDIATE for writes) and the database time at its start."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute(_Q["begin_write" if write else "begin_read"])
                now = float(conn.execute(_Q["now"]).fetchone()["now"])
                yield SqliteTx(conn, now, self.actor)
                conn.execute(_Q["commit"])
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute(_Q["rollback"])
                if isinstance(exc, sqlite3.IntegrityError):
                    raise StoreError(f"SQLite store {self.path}: {exc}") from exc
                if isinstance(exc, sqlite3.OperationalError):
                    raise self._wrap(exc) from exc
                raise

    def _read(self, name: str, params: dict[str, Any]) -> list[Any]:
        """Outside a transaction: one statement reads one snapshot (WAL)."""
        with self._lock:
            try:
                return self._conn.execute(_Q[name], params).fetchall()
            except sqlite3.OperationalError as exc:
                raise self._wrap(exc) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- the dialect adapter ----------------------------------------------------

    def _array(self, values: Sequence[Any]) -> Any:
        return json.dumps(list(values))

    def _limit(self, limit: int | None) -> int | None:
        return -1 if limit is None else limit

    @staticmethod
    def _loads(value: Any) -> Any:
        return rows.sqlite_json(value)

    def _insert_chunks(self, tx: Tx, job_id: int, chunks: Sequence[ChunkDescriptor]) -> None:
        assert isinstance(tx, SqliteTx)
        tx.many("insert_chunk", [(*rows.chunk_row(job_id, c), tx.now) for c in chunks])
        if chunks:  # counted here, not by a row trigger (migration 0008)
            tx.run("count_inserted_chunks", {"job_id": job_id, "n": len(chunks)})

    def _run_script(self, tx: Tx, script: str) -> None:
        assert isinstance(tx, SqliteTx)
        for statement in sqlite_statements(script):
            tx.conn.execute(statement)

    def _move(
        self, tx: Tx, victims: list[Any], outcome: str, statement: str, params: dict[str, Any]
    ) -> str:
        """The set-based half of a batch move (SQLite has no writable CTEs):
        close the open attempt rows of ``victims`` as ``outcome``, then run
        ``statement`` over them. Returns their ids (JSON) for the caller."""
        ids = _ids([v["id"] for v in victims])
        tx.run("close_open_attempts", {"chunk_ids": ids, "outcome": outcome})
        tx.run(statement, {**params, "chunk_ids": ids})
        return ids

    def _move_job_chunks(self, tx: Tx, move: ChunkMove) -> int:
        states = _ids(move.sources)
        seqs = None if move.seqs is None else _ids(move.seqs)
        victims = tx.all(
            "chunks_in_states", {"job_id": move.job_id, "states": states, "seqs": seqs}
        )
        moved = {"sources": states, "target": move.target}
        self._move(tx, victims, move.outcome, "move_chunks", moved)
        kind = f"chunk_{move.outcome}"
        tx.events([(kind, move.job_id, v["id"], {"from": v["state"]}) for v in victims])
        return len(victims)

    def _return_running(self, tx: Tx, params: dict[str, Any]) -> int:
        if params["expired"]:
            victims = tx.all("expired_leases", {"limit": params["limit"]})
        else:
            victims = tx.all("running_of_owner", {"owner": params["owner"]})
        if not victims:
            return 0
        self._move(tx, victims, params["outcome"], "return_to_pending", params)
        events: list[Event] = []
        for v in victims:
            detail = {"owner": v["lease_owner"], "fencing_token": v["fencing_token"]}
            detail["reason"] = params["reason"]
            events.append((params["event"], v["job_id"], v["id"], detail))
        tx.events(events)
        return len(victims)

    def _purge_dead(self, tx: Tx, job_id: int) -> int:
        victims = tx.all("purge_dead_victims", {"job_id": job_id})
        tx.run("purge_dead", {"job_id": job_id})
        kind = EventKind.CHUNK_PURGED
        tx.events([(kind, job_id, v["id"], {"from": "dead", "error": v["error"]}) for v in victims])
        return len(victims)

    def _renew_held(
        self, tx: Tx, owner: str, leases: Sequence[tuple[int, int]], lease_seconds: float
    ) -> list[Any]:
        held = json.dumps({str(chunk_id): token for chunk_id, token in leases})
        params = {"owner": owner, "leases": held, "lease_seconds": lease_seconds}
        tx.run("renew_chunk_leases", params)
        return tx.all("running_of_owner", {"owner": owner})

    # -- the batch hot path: one write transaction each -------------------------

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
        serial_phases: dict[int, list[int]] = {}
        for job_id, phase in serial:
            serial_phases.setdefault(job_id, []).append(phase)
        leased: list[sqlite3.Row] = []
        with self._transaction() as tx:
            conn, now = tx.conn, tx.now
            order = conn.execute(_Q["running_jobs_by_priority"], {"job_ids": _ids(job_ids)})
            room: dict[str, int] = {}  # what is left of each limited queue's room

            def lease_job(job: sqlite3.Row, wanted: int) -> list[sqlite3.Row]:
                if job["room"] is not None:
                    wanted = min(wanted, room.setdefault(job["queue"], int(job["room"])))
                if wanted <= 0:
                    return []
                params = {
                    "job_id": job["id"],
                    "owner": owner,
                    "now": now,
                    "lease_seconds": float(lease_seconds),
                    "limit": wanted,
                    "serial": json.dumps(serial_phases.get(job["id"], [])),
                }
                got = conn.execute(_Q["lease_job_chunks"], params).fetchall()
                if job["room"] is not None:
                    room[job["queue"]] -= len(got)
                return sorted(got, key=lambda r: r["seq"])

            leased = lease_fairly(order.fetchall(), limit, lease_job)
            conn.executemany(
                _Q["insert_attempt"],
                [(r["id"], r["job_id"], r["fencing_token"], owner, now) for r in leased],
            )
            events: list[Event] = []
            for r in leased:
                detail = {"owner": owner, "fencing_token": r["fencing_token"]}
                events.append((EventKind.CHUNK_LEASED, r["job_id"], r["id"], detail))
            tx.events(events)
        return [rows.lease_record(r, rows.sqlite_json) for r in leased]

    def complete_chunks(self, owner: str, outcomes: Sequence[ChunkOutcome]) -> list[bool]:
        accepted = [False] * len(outcomes)
        with self._transaction() as tx:
            conn, now = tx.conn, tx.now
            events: list[Event] = []
            for index in rows.unique_outcomes(outcomes):
                params = {**rows.outcome_row(owner, outcomes[index]), "now": now}
                params["result"] = rows.dump_json(params["result"])
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
            tx.events(events)
        return accepted


class SqliteTx(Tx):
    """A :class:`Tx` on the store's one connection; every named parameter set
    gets the transaction's database time as ``:now``."""

    def __init__(self, conn: sqlite3.Connection, now: float, actor: Actor) -> None:
        self.conn = conn
        self.now = now
        self.actor = actor

    def one(self, name: str, params: dict[str, Any] | None = None) -> Any | None:
        return self.conn.execute(_Q[name], {**(params or {}), "now": self.now}).fetchone()

    def all(self, name: str, params: dict[str, Any] | None = None) -> list[Any]:
        return self.conn.execute(_Q[name], {**(params or {}), "now": self.now}).fetchall()

    def run(self, name: str, params: dict[str, Any] | None = None) -> int:
        return self.conn.execute(_Q[name], {**(params or {}), "now": self.now}).rowcount

    def many(self, name: str, batch: Sequence[Sequence[Any]]) -> None:
        if batch:
            self.conn.executemany(_Q[name], batch)

    def events(self, items: Sequence[Event]) -> None:
        a, now = self.actor, self.now
        self.conn.executemany(
            _Q["insert_event_row"],
            [
                (now, kind, job_id, chunk_id, a.user, a.host, a.pid, rows.dump_json(detail or {}))
                for kind, job_id, chunk_id, detail in items
            ],
        )
