"""Schema and opening a store, on both backends: migrations build the same
tables in both dialects, an empty store is migrated once on first use (also
when several open it at once), a newer store is refused, URLs resolve, and
driver failures surface as StoreUnavailable."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from orchestrator.errors import SchemaTooNew, StoreError, StoreUnavailable
from orchestrator.states import ChunkState, JobState, Priority
from orchestrator.store import open_store, redact_url, resolve_store_url
from orchestrator.store import sqlite as sqlite_backend
from orchestrator.store.base import NewJob, Store
from orchestrator.store.queries import latest_version, load_migrations, load_queries

DIALECTS = ("sqlite", "postgres")


def _pg_admin(server_url: str, query: str, db: str) -> None:
    statement = sql.SQL(load_queries("postgres")[query]).format(db=sql.Identifier(db))
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def _dialect(url: str) -> str:
    return "sqlite" if url.startswith("sqlite:") else "postgres"


def _raw_execute(url: str, query: str, params: dict[str, object]) -> list[tuple[object, ...]]:
    """Run a named query with the bare driver, outside any Store."""
    text = load_queries(_dialect(url))[query]
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(url[len("sqlite://") :])
        try:
            with conn:
                return conn.execute(text, params).fetchall()
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        cur = pg.execute(text, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture(params=DIALECTS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store that exists but was never migrated."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'empty.db'}"
        return
    server = str(request.getfixturevalue("pg_server_url"))
    name = f"jobctl_empty_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    _pg_admin(server, "create_empty_database", name)
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        _pg_admin(server, "drop_database", name)


def test_empty_store_is_migrated_on_first_use(empty_url: str) -> None:
    latest = latest_version(_dialect(empty_url))
    untouched = open_store(empty_url, upgrade=False)
    try:
        assert untouched.schema_version() == (0, latest)
        with pytest.raises(StoreError, match="db upgrade"):
            untouched.list_jobs()
    finally:
        untouched.close()
    store = open_store(empty_url)
    try:
        assert store.schema_version() == (latest, latest)
        assert store.upgrade() == []
    finally:
        store.close()


def test_upgrade_reports_the_versions_applied(empty_url: str) -> None:
    store = open_store(empty_url, upgrade=False)
    try:
        assert store.upgrade() == [m.version for m in load_migrations(_dialect(empty_url))]
        assert store.upgrade() == []
    finally:
        store.close()


def test_concurrent_first_use_migrates_once(empty_url: str) -> None:
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []
    stores: list[Store] = []

    def first_use() -> None:
        try:
            barrier.wait(timeout=10)
            stores.append(open_store(empty_url))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == [] and len(stores) == 3
        latest = latest_version(_dialect(empty_url))
        assert all(s.schema_version() == (latest, latest) for s in stores)
    finally:
        for s in stores:
            s.close()


def test_newer_store_raises_schema_too_new(store_url: str) -> None:
    latest = latest_version(_dialect(store_url))
    open_store(store_url).close()  # the SQLite file is created on first use
    _raw_execute(store_url, "insert_migration", {"version": latest + 1, "now": time.time()})
    with pytest.raises(SchemaTooNew, match=rf"version {latest + 1}.*\({latest}\)"):
        open_store(store_url)
    store = open_store(store_url, upgrade=False)
    try:
        assert store.schema_version() == (latest + 1, latest)
        with pytest.raises(SchemaTooNew):
            store.upgrade()
    finally:
        store.close()


def test_both_dialects_build_the_same_tables(sqlite_url: str, pg_url: str) -> None:
    open_store(sqlite_url).close()
    lite = set(_raw_execute(sqlite_url, "schema_columns", {}))
    pg = set(_raw_execute(pg_url, "schema_columns", {}))
    assert lite == pg
    tables = {t for t, _ in lite}
    assert {"jobs", "job_inputs", "chunks", "attempts", "events", "schema_migrations"} <= tables
    assert {"hosts", "queues", "coordinators"} <= tables


def test_migrations_check_every_state() -> None:
    for dialect in DIALECTS:
        text = "\n".join(m.sql for m in load_migrations(dialect))
        for state in [*JobState, *ChunkState]:
            assert f"'{state.value}'" in text, (dialect, state)


def test_every_named_query_says_what_it_does() -> None:
    for dialect in DIALECTS:
        for name, text in load_queries(dialect).items():
            assert text.startswith("-- ") and len(text.splitlines()[0]) > 10, (dialect, name)


def test_locked_sqlite_store_is_unavailable(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "BUSY_TIMEOUT_S", 0.2)
    store = open_store(sqlite_url)
    holder = sqlite3.connect(sqlite_url[len("sqlite://") :], isolation_level=None)
    try:
        holder.execute(load_queries("sqlite")["begin_write"])
        job = NewJob("j", "k", {}, "h", Priority.NORMAL, "default", None, None)
        with pytest.raises(StoreUnavailable, match="locked"):
            store.submit_job(job, [], [])
        holder.execute(load_queries("sqlite")["rollback"])
        assert store.submit_job(job, [], [])[1] is True
    finally:
        holder.close()
        store.close()


def test_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("JOBCTL_DATABASE_URL", raising=False)
    url, embedded = resolve_store_url(None)
    assert embedded and url == f"sqlite://{tmp_path / 'data' / 'jobctl' / 'jobctl.db'}"
    assert (tmp_path / "data" / "jobctl").is_dir()
    monkeypatch.setenv("JOBCTL_DATABASE_URL", "postgresql://db.example/jobs")
    assert resolve_store_url(None) == ("postgresql://db.example/jobs", False)
    assert resolve_store_url("x.db") == ("x.db", False)
    for form, file in [("plain.db", "plain.db"), ("sqlite:rel.sqlite", "rel.sqlite")]:
        open_store(form).close()
        assert (tmp_path / file).is_file()
    with pytest.raises(StoreError, match="unrecognised"):
        open_store("mysql://u:pw@h/db")
    assert redact_url("postgresql://u:pw@h:5432/db?sslmode=require") == (
        "postgresql://u@h:5432/db?sslmode=require"
    )
    assert redact_url("postgresql://h/db?password=pw&x=1") == "postgresql://h/db?x=1"
    assert redact_url("host=h password=pw dbname=d") == "host=h password=*** dbname=d"
    assert redact_url("postgresql:///db") == "postgresql:///db"


def test_unreachable_sqlite_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="cannot open"):
        open_store(f"sqlite://{tmp_path / 'missing' / 'x.db'}")
