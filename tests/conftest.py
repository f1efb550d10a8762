"""Shared fixtures: a real PostgreSQL server, a fresh database per test, a
SQLite file, and ``store`` run over both backends.

PostgreSQL is never skipped: when the server does not answer, the tests that
need it fail and say how to fix that. Each test gets its own database, cloned
from a template migrated once per session (fast), under a unique name so
parallel runs do not collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from orchestrator.store import open_store, redact_url
from orchestrator.store.base import Store
from orchestrator.store.queries import load_queries

PG_ENV = "JOBCTL_TEST_PG_URL"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


def _database_url(server_url: str, name: str) -> str:
    """The server URL pointing at database ``name``."""
    if server_url.startswith(("postgresql://", "postgres://")):
        return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    return make_conninfo(server_url, dbname=name)


def _admin(server_url: str, query: str, **names: str) -> None:
    """Run a database-level statement (create/drop) outside a transaction."""
    text = sql.SQL(load_queries("postgres")[query])
    statement = text.format(**{k: sql.Identifier(v) for k, v in names.items()})
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def _unique(prefix: str) -> str:
    return f"jobctl_{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The PostgreSQL server for tests ($JOBCTL_TEST_PG_URL or local :5432)."""
    url = os.environ.get(PG_ENV) or PG_DEFAULT
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute(load_queries("postgres")["ping"])
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL for the tests does not answer at {redact_url(url)}: {exc}. "
            f"Start one (scripts/ensure-postgres) or set {PG_ENV}.",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def pg_template(pg_server_url: str) -> Iterator[str]:
    """A database migrated to the latest schema, cloned by ``pg_url``."""
    name = _unique("tmpl")
    _admin(pg_server_url, "create_empty_database", db=name)
    try:
        open_store(_database_url(pg_server_url, name)).close()
        yield name
    finally:
        _admin(pg_server_url, "drop_database", db=name)


@pytest.fixture
def pg_url(pg_server_url: str, pg_template: str) -> Iterator[str]:
    """A fresh, migrated database of its own for one test; dropped afterwards."""
    name = _unique("test")
    _admin(pg_server_url, "create_database", db=name, template=pg_template)
    try:
        yield _database_url(pg_server_url, name)
    finally:
        _admin(pg_server_url, "drop_database", db=name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite store file of its own for one test (created on first open)."""
    return f"sqlite://{tmp_path / 'jobctl.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh store, once per backend (``store`` opens it)."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, migrated store on each backend; closed after the test."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
