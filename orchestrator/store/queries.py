"""Named SQL queries and numbered migrations, loaded from package data.

The SQL lives in ``store/sql/``: ``common.sql`` holds the queries both
dialects run as written (portable SQL, ``:name`` parameters, turned into
``%(name)s`` for psycopg), ``<dialect>.sql`` the ones that differ, under the
same names in both files. Every query starts with ``-- name: some_name``
followed by a comment line saying what it does, and runs until the next
``-- name:``; a name is defined in exactly one file of a dialect. Migrations are
``store/migrations/<dialect>/NNNN_description.sql``; their number is the
schema version they bring the store to. No other module holds SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$")
_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
#: the folder of the package data, read as plain files (the package is never
#: zipped): importing ``importlib.resources`` took longer than loading every query
_HERE = Path(__file__).parent


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


#: a ``:name`` parameter of common.sql (not a ``::`` cast, not inside a word)
_COMMON_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@cache
def load_queries(dialect: str) -> dict[str, str]:
    """All named queries of ``dialect`` (``sqlite`` or ``postgres``): its own
    file and the common one."""
    queries = _parse(dialect, (_HERE / "sql" / f"{dialect}.sql").read_text("utf-8"))
    common = _parse("common", (_HERE / "sql" / "common.sql").read_text("utf-8"))
    for name, text in common.items():
        if name in queries:
            raise ValueError(f"query {name!r} is in both common.sql and {dialect}.sql")
        if "%" in text:
            raise ValueError(f"common.sql: query {name!r} has a percent sign")
        queries[name] = _COMMON_PARAM.sub(r"%(\1)s", text) if dialect == "postgres" else text
    return queries


def _parse(label: str, text: str) -> dict[str, str]:
    queries: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        match = _NAME.match(line)
        if match:
            if name is not None:
                queries[name] = "\n".join(lines).strip()
            name, lines = match.group(1), []
            if name in queries:
                raise ValueError(f"{label}.sql: query {name!r} defined twice")
        elif name is not None:
            lines.append(line)
    if name is not None:
        queries[name] = "\n".join(lines).strip()
    return queries


@cache
def load_migrations(dialect: str) -> tuple[Migration, ...]:
    """The migrations of ``dialect`` in version order (versions start at 1, no gaps)."""
    folder = _HERE / "migrations" / dialect
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"{dialect} migrations are not numbered 1..n: {versions}")
    return tuple(found)


def latest_version(dialect: str) -> int:
    """The schema version this code brings a store to."""
    migrations = load_migrations(dialect)
    return migrations[-1].version if migrations else 0


def sqlite_statements(script: str) -> list[str]:
    """The statements of a SQLite migration, one by one: ``executescript`` would
    commit the migrator's transaction before running them."""
    import sqlite3  # the PostgreSQL backend loads this module too

    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    leftover = [ln for ln in buffer.splitlines() if ln.strip() and not ln.strip().startswith("--")]
    if leftover:
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buffer!r}")
    return statements
