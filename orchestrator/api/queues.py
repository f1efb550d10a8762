"""Queues: pause and resume them, cap their running chunks, read their figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

# the spec's units: queue windows are written as spec durations are (``1h``)
from orchestrator.spec.units import DURATION_HINT, format_duration, parse_duration

if TYPE_CHECKING:
    from orchestrator.store.base import QueueInfo, QueueStats, Store


__all__ = [
    "DURATION_HINT",
    "format_duration",
    "list_queues",
    "parse_duration",
    "pause_queue",
    "queue_name_problem",
    "queue_stats",
    "resume_queue",
    "set_queue_limit",
]


def queue_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid queue name (the spec's rule for names), or None."""
    from orchestrator.spec.names import NAME_MAX, NAME_PATTERN

    if not NAME_PATTERN.fullmatch(name) or len(name) > NAME_MAX:
        return (
            f"invalid queue name {name!r}: use letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit (at most {NAME_MAX} characters)"
        )
    return None


def list_queues(store: Store) -> list[QueueInfo]:
    """Every queue with jobs or settings."""
    return store.list_queues()


def pause_queue(store: Store, name: str) -> bool:
    """Lease nothing more from the queue; False when it was paused already."""
    return store.pause_queue(name)


def resume_queue(store: Store, name: str) -> bool:
    """Lease from the queue again; False when it was open already."""
    return store.resume_queue(name)


def set_queue_limit(store: Store, name: str, chunks: int | None) -> bool:
    """At most ``chunks`` running chunks across all coordinators (None: no limit)."""
    return store.set_queue_limit(name, chunks)


def queue_stats(store: Store, names: list[str] | None, since: float) -> list[QueueStats]:
    """The figures of the queues ``names`` (every queue when None) over the last
    ``since`` seconds."""
    chosen = names if names else [q.name for q in store.list_queues()]
    return [store.queue_stats(name, since) for name in chosen]
