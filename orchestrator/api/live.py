"""What a live view draws: the coordinator's snapshots, and the same snapshot
built from the store for ``status --watch`` (any coordinator, any host).

Imported by the live view only: the snapshot types live with the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from orchestrator.api.jobs import job_elapsed, retries_of
from orchestrator.api.logs import logs_hint
from orchestrator.dispatch.views import JobView, Observer, RunSnapshot, SlotView
from orchestrator.states import JOB_TERMINAL, ChunkState
from orchestrator.store.base import Store

__all__ = ["JobView", "Observer", "RunSnapshot", "SlotView", "StoreWatch"]

#: at most this many running chunks are listed under a watched job
WATCH_SLOTS = 32


def _owner_parts(owner: str | None) -> tuple[str, int | None]:
    """(host, pid) of a lease owner ``host:pid:token``, as far as it has them."""
    if not owner:
        return "?", None
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    return host or "?", int(pid_text) if pid_text.isdigit() else None


@dataclass
class StoreWatch:
    """Builds :class:`RunSnapshot` s of one job from the store, a few times a second.

    Rates are honest: rows read during the watch over the time watched, or,
    before the watch has seen rows arrive, the job's own rows over the time it
    has run since its start (never all rows over the watch's time).
    """

    store: Store
    job_id: int
    started: float = 0.0
    _first: tuple[float, int, int] | None = field(default=None, init=False)
    ended: bool = field(default=False, init=False)

    def snapshot(self, now: float) -> RunSnapshot:
        record = self.store.get_job(self.job_id)
        progress = self.store.job_progress(self.job_id)
        if self._first is None:
            self._first = (now, progress.rows_in, progress.done)
        first_t, first_rows, first_done = self._first
        watched = now - first_t
        rows_watched = progress.rows_in - first_rows
        elapsed = job_elapsed(record)
        own_rate = progress.rows_in / elapsed if elapsed else 0.0
        if record.state in JOB_TERMINAL or rows_watched <= 0 or watched < 1.0:
            rate = own_rate  # a finished job, or nothing seen yet: the job's own rate
        else:
            rate = rows_watched / watched
        dead = progress.chunks.get(ChunkState.DEAD, 0)
        chunk_rate = (progress.done - first_done) / watched if watched > 0 else 0.0
        remaining = progress.total - progress.done - dead
        running = self.store.list_chunks(self.job_id, [ChunkState.RUNNING], limit=WATCH_SLOTS)
        error = None
        if dead:
            first_dead = self.store.list_chunks(self.job_id, [ChunkState.DEAD], limit=1)
            if first_dead and first_dead[0].error:
                seq = first_dead[0].seq
                error = f"chunk {seq}: {first_dead[0].error}; see: {logs_hint(self.job_id, seq)}"
        view = JobView(
            id=self.job_id,
            name=record.name,
            state=record.state.value,
            total=progress.total,
            done=progress.done,
            dead=dead,
            running=progress.chunks.get(ChunkState.RUNNING, 0),
            retries=retries_of(progress),
            failures=progress.retries,  # every attempt spent: failed or lost
            rows_in=progress.rows_in,
            rows_out=progress.rows_out,
            rows_per_second=rate,
            eta_seconds=remaining / chunk_rate if chunk_rate > 0 else None,
            error=error,
        )
        wall = datetime.now(UTC)
        slots = []
        for chunk in running:
            host, pid = _owner_parts(chunk.lease_owner)
            slots.append(
                SlotView(
                    # the store knows a chunk's lease, not its slot, nor whether
                    # it started or waits in a slot's queue (leased ahead)
                    name=f"leased by {host}",
                    pid=pid,
                    job=record.name,
                    chunk=chunk.seq,
                    elapsed=max((wall - chunk.updated_at).total_seconds(), 0.0),
                )
            )
        self.ended = record.state in JOB_TERMINAL
        return RunSnapshot(now - self.started, [view], slots, False)
