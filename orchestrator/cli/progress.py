"""Live progress: a Rich view on a terminal, plain log lines everywhere else.

Rich is imported only for the live view: a run from cron or a pipe writes its
log lines straight to stderr and never pays for importing it.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING

from orchestrator.dispatch.views import JobView, RunSnapshot, SlotView
from orchestrator.states import JOB_TERMINAL, ChunkState
from orchestrator.store.base import Store

from .common import console

if TYPE_CHECKING:
    from rich.console import Group
    from rich.live import Live

#: Without a terminal, a progress line is written this often (seconds).
PLAIN_PROGRESS_SECONDS = 10.0


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def render_snapshot(snapshot: RunSnapshot) -> Group:
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    jobs = Table.grid(padding=(0, 1))
    for _ in range(4):
        jobs.add_column()
    for job in snapshot.jobs:
        bar = ProgressBar(total=max(job.total, 1), completed=job.done, width=30)
        jobs.add_row(
            f"[bold]{job.name}[/] #{job.id} {job.state}",
            bar,
            f"{job.done}/{job.total} chunks",
            f"{job.rows_in:,} rows  {job.rows_per_second:,.0f} rows/s  ETA {_eta(job.eta_seconds)}"
            f"  retries {job.retries}  failures {job.failures}  dead {job.dead}",
        )
    slots = Table("slot", "pid", "job", "chunk", "elapsed", box=None, padding=(0, 1))
    for slot in snapshot.slots:
        slots.add_row(
            slot.name,
            str(slot.pid or "-"),
            slot.job or "idle",
            "-" if slot.chunk is None else str(slot.chunk),
            f"{slot.elapsed:.1f}s" if slot.job else "",
        )
    parts: list[Table] = [jobs, slots]
    footer = Table.grid()
    footer.add_row(
        f"elapsed {snapshot.elapsed:.0f}s"
        + ("  stopping..." if snapshot.stopping else "")
        + (f"  {snapshot.message}" if snapshot.message else "")
    )
    parts.append(footer)
    return Group(*parts)


class ProgressReporter:
    """Receives coordinator snapshots; draws them live or logs them plainly."""

    def __init__(self, store: Store, live: bool) -> None:
        self.store = store
        self.live_enabled = live
        self.live: Live | None = None
        self._last_plain = 0.0
        self._states: dict[int, str] = {}

    def __enter__(self) -> ProgressReporter:
        if self.live_enabled:
            from rich.live import Live

            self.live = Live(console=console.rich, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.live is not None:
            self.live.__exit__(exc_type, exc, tb)

    def update(self, snapshot: RunSnapshot) -> None:
        if self.live is not None:
            self.live.update(render_snapshot(snapshot))
            return
        now = time.monotonic()
        for job in snapshot.jobs:
            if self._states.get(job.id) != job.state:
                self._states[job.id] = job.state
                self._log(f"job {job.id} {job.name}: {job.state}")
        if now - self._last_plain >= PLAIN_PROGRESS_SECONDS:
            self._last_plain = now
            for job in snapshot.jobs:
                self._log(_plain_line(job))

    @staticmethod
    def _log(line: str) -> None:
        log_line(line)


def log_line(line: str) -> None:
    """One plain, timestamped log line on stderr (cron mails and log files)."""
    stamp = datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
    sys.stderr.write(f"{stamp} jobctl: {line}\n")
    sys.stderr.flush()


def _plain_line(job: JobView) -> str:
    return (
        f"job {job.id} {job.name}: {job.done}/{job.total} chunks, {job.rows_in} rows, "
        f"{job.rows_per_second:.0f} rows/s, retries {job.retries}, dead {job.dead}, "
        f"eta {_eta(job.eta_seconds)}"
    )


def watch_status(store: Store, job_id: int, live: bool, interval: float = 0.5) -> None:
    """Follow a job from the store (any coordinator, any host) until it ends."""
    reporter = ProgressReporter(store, live)
    started = time.monotonic()
    first_done: tuple[float, int] | None = None
    with reporter:
        while True:
            record = store.get_job(job_id)
            progress = store.job_progress(job_id)
            now = time.monotonic()
            if first_done is None:
                first_done = (now, progress.done)
            rate = (
                (progress.done - first_done[1]) / (now - first_done[0])
                if now > first_done[0]
                else 0
            )
            remaining = progress.total - progress.done - progress.chunks.get(ChunkState.DEAD, 0)
            running = store.list_chunks(job_id, [ChunkState.RUNNING], limit=32)
            view = JobView(
                id=job_id,
                name=record.name,
                state=record.state.value,
                total=progress.total,
                done=progress.done,
                dead=progress.chunks.get(ChunkState.DEAD, 0),
                running=progress.chunks.get(ChunkState.RUNNING, 0),
                retries=progress.retries,
                failures=0,
                rows_in=progress.rows_in,
                rows_out=progress.rows_out,
                rows_per_second=progress.rows_in / max(now - started, 1e-9),
                eta_seconds=remaining / rate if rate > 0 else None,
            )
            slots = [
                SlotView(
                    name=chunk.lease_owner or "?",
                    pid=None,
                    job=record.name,
                    chunk=chunk.seq,
                    elapsed=0.0,
                )
                for chunk in running
            ]
            reporter.update(RunSnapshot(now - started, [view], slots, False))
            if record.state in JOB_TERMINAL:
                return
            time.sleep(interval)
