"""Opening the state store for a caller, and its schema: ``jobctl db``.

The caller owns the store's lifetime; every other API function takes the open
store. Nothing here imports a database driver before it is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.store import (
    default_sqlite_path,
    open_store,
    redact_url,
    resolve_store_url,
)

if TYPE_CHECKING:
    from orchestrator.store.base import Store

__all__ = [
    "SchemaStatus",
    "StoreChoice",
    "choose_store",
    "open_store",
    "redact_url",
    "schema_status",
    "upgrade_schema",
]


@dataclass(frozen=True)
class StoreChoice:
    """The store a command opens: its URL, its name without a password, and
    whether it is the embedded default that this command creates (so a caller
    can say once, when the file appears, which file holds the state)."""

    url: str
    display: str
    embedded: bool
    creates: bool


def choose_store(db: str | None) -> StoreChoice:
    """The store named by ``db``, else ``$JOBCTL_DATABASE_URL``, else the embedded file."""
    url, embedded = resolve_store_url(db)
    creates = embedded and not default_sqlite_path().exists()
    return StoreChoice(url, redact_url(url), embedded, creates)


@dataclass(frozen=True)
class SchemaStatus:
    display: str
    version: int
    latest: int
    applied: tuple[int, ...] = ()

    @property
    def up_to_date(self) -> bool:
        return self.version == self.latest


def _schema(db: str | None, upgrade: bool) -> SchemaStatus:
    choice = choose_store(db)
    store: Store = open_store(choice.url, upgrade=False)
    try:
        applied = store.upgrade() if upgrade else []
        current, latest = store.schema_version()
    finally:
        store.close()
    return SchemaStatus(choice.display, current, latest, tuple(applied))


def schema_status(db: str | None) -> SchemaStatus:
    """The store's schema version and the latest this jobctl knows (no change)."""
    return _schema(db, upgrade=False)


def upgrade_schema(db: str | None) -> SchemaStatus:
    """Apply pending migrations (safe to run concurrently and repeatedly)."""
    return _schema(db, upgrade=True)
