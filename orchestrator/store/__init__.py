"""Open the state store named by a URL: PostgreSQL, or embedded SQLite by default.

URL forms:

- ``postgresql://…`` / ``postgres://…`` or a libpq ``key=value`` string: handed
  to libpq untouched, so a URL without host, password or database falls back
  to the ``PG*`` environment, ``.pgpass`` and service files as usual;
- ``sqlite:///abs/path.db``, ``sqlite:relative.db``, ``sqlite::memory:``;
- a plain path ending in ``.db``, ``.sqlite`` or ``.sqlite3``.

Without a URL: ``$JOBCTL_DATABASE_URL``, else the embedded SQLite file at
:func:`default_sqlite_path`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit

from orchestrator.errors import StoreError

if TYPE_CHECKING:
    from orchestrator.store.base import Actor, Store

__all__ = ["default_sqlite_path", "open_store", "redact_url", "resolve_store_url"]

#: the environment variable naming the store when no ``--db`` is given
ENV_URL = "JOBCTL_DATABASE_URL"

_PG_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_CONNINFO = re.compile(r"^\s*[A-Za-z_]+\s*=")
_CONNINFO_PASSWORD = re.compile(r"(?i)\bpassword\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S+)")


def default_sqlite_path() -> Path:
    """``$XDG_DATA_HOME/jobctl/jobctl.db`` (``~/.local/share/jobctl/jobctl.db``);
    the folder is created."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    folder = Path(base).expanduser() / "jobctl"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "jobctl.db"


def resolve_store_url(url: str | None) -> tuple[str, bool]:
    """The URL to open and whether it is the default embedded store (so the CLI
    can say which file it uses)."""
    if url:
        return url, False
    env = os.environ.get(ENV_URL, "").strip()
    if env:
        return env, False
    return f"sqlite://{default_sqlite_path()}", True


def redact_url(url: str) -> str:
    """``url`` without any password (userinfo, ``?password=`` or ``password=``)."""
    if _CONNINFO.match(url) and "://" not in url:
        return _CONNINFO_PASSWORD.sub("password=***", url).strip()
    if "://" not in url:
        return url
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}@{hostport}"
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(key == "password" for key, _ in pairs):
        query = urlencode([(k, v) for k, v in pairs if k != "password"])
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    rest = parts.path + (f"?{query}" if query else "")
    if parts.fragment:
        rest += f"#{parts.fragment}"
    return f"{parts.scheme}://{netloc}{rest}"


def _sqlite_path(url: str) -> str | None:
    """The SQLite file a URL names, or None when it is not a SQLite URL."""
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:") :]
        if rest.startswith("//"):  # sqlite:///abs/path.db -> /abs/path.db
            rest = "/" + rest.lstrip("/") if rest[2:].startswith("/") else rest[2:]
        if not rest:
            raise StoreError(f"the SQLite URL {url!r} names no file")
        return rest if rest == ":memory:" else str(Path(rest).expanduser())
    if "://" not in url and url.lower().endswith(_SQLITE_SUFFIXES):
        return str(Path(url).expanduser())
    return None


def _is_postgres(url: str) -> bool:
    return url.startswith(_PG_SCHEMES) or ("://" not in url and bool(_CONNINFO.match(url)))


def open_store(
    url: str | None = None, *, upgrade: bool = True, actor: Actor | None = None
) -> Store:
    """Open the store named by ``url`` (see the module docstring).

    ``upgrade=True``: an empty store is migrated, one behind this code is
    upgraded, one newer than this code raises :class:`SchemaTooNew`.
    ``upgrade=False`` touches no schema (for ``jobctl db status/upgrade``,
    which call :meth:`Store.schema_version` / :meth:`Store.upgrade`).
    Unreachable stores raise :class:`StoreUnavailable` without a password in
    the message.
    """
    from orchestrator.store.base import Actor

    resolved, _ = resolve_store_url(url)
    who = actor or Actor.current()
    store: Store
    path = _sqlite_path(resolved)
    if path is not None:
        from orchestrator.store.sqlite import SqliteStore

        store = SqliteStore(path, actor=who)
    elif _is_postgres(resolved):
        from orchestrator.store.postgres import PostgresStore

        store = PostgresStore(resolved, actor=who)
    else:
        raise StoreError(
            f"unrecognised store URL {redact_url(resolved)!r}: use postgresql://…, "
            "sqlite:///path.db or a path ending in .db"
        )
    if upgrade:
        try:
            store.upgrade()
        except BaseException:
            store.close()
            raise
    return store
