"""What a dialect adapter gives the store core: a transaction and a batch move.

:class:`Tx` is the one interface through which :mod:`orchestrator.store.core`
and :mod:`orchestrator.store.fleet` reach the database (named queries, batch
parameter rows, events in the same transaction); :class:`ChunkMove` is the
description of a batch move of chunks that each dialect carries out its own
way (``store/postgres.py``, ``store/sqlite.py``).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: one audit event: (kind, job_id, chunk_id, detail)
Event = tuple[str, int | None, int | None, dict[str, Any] | None]


class Tx(abc.ABC):
    """One open transaction: named queries by name, rows readable by column."""

    @abc.abstractmethod
    def one(self, name: str, params: dict[str, Any] | None = None) -> Any | None:
        """The first row of the query, or None."""

    @abc.abstractmethod
    def all(self, name: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every row of the query."""

    @abc.abstractmethod
    def run(self, name: str, params: dict[str, Any] | None = None) -> int:
        """Run a statement that returns no rows; how many rows it changed."""

    @abc.abstractmethod
    def many(self, name: str, batch: Sequence[Sequence[Any]]) -> None:
        """Run the statement once per parameter row (nothing when empty)."""

    @abc.abstractmethod
    def events(self, items: Sequence[Event]) -> None:
        """Append audit events as this store's actor, in this transaction."""


@dataclass(frozen=True)
class ChunkMove:
    """A batch move of one job's chunks: those in ``sources`` (and numbered
    ``seqs``, unless None) to ``target`` (``cancelled``; or ``pending`` with
    their counters, error and backoff reset), the lease cleared and the open
    attempt rows closed as ``outcome``."""

    job_id: int
    sources: list[str]
    seqs: list[int] | None
    target: str
    outcome: str
