"""Live progress: a Rich view on a terminal, plain log lines everywhere else.

The view is a list of plain lines, one per job and one per slot, each cut to
the terminal's width (so it never wraps at 80 columns); Rich only draws them.
Rich is imported only for the live view: a run from cron or a pipe writes its
log lines straight to stderr and never pays for importing it.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING

from orchestrator.api.live import JobView, RunSnapshot, StoreWatch
from orchestrator.cli.common import console
from orchestrator.cli.render import fmt_duration

if TYPE_CHECKING:
    from rich.console import Group
    from rich.live import Live

    from orchestrator.api import Store

#: Without a terminal, a progress line is written this often (seconds).
PLAIN_PROGRESS_SECONDS = 10.0
#: Jobs that left the snapshot (finished) stay drawn, the newest this many.
KEEP_FINISHED = 8
#: The narrowest progress bar worth drawing.
MIN_BAR = 8
#: What the footer says once a first Ctrl-C asked the run to stop.
STOPPING = "stopping... (Ctrl-C again to stop now)"


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _short(count: float) -> str:
    """``950``, ``12.3k``, ``4.5M``: counts that keep a line short."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(count) >= size:
            return f"{count / size:.1f}{unit}"
    return f"{count:.0f}"


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def _tail(job: JobView, compact: bool) -> str:
    """The figures after a job's bar; ``compact`` spells them shorter."""
    rows = f"{_short(job.rows_in)}" if compact else f"{_short(job.rows_in)} rows"
    rate = (
        f"{_short(job.rows_per_second)}/s" if compact else f"{_short(job.rows_per_second)} rows/s"
    )
    parts = [f"{job.done}/{job.total}", rows, rate]
    if job.phase:
        parts.insert(0, f"{job.phase}: {job.phase_done}/{job.phase_total}")
    if job.state in ("running", "pending"):
        parts.append(f"ETA {_eta(job.eta_seconds)}")
    labels = ("retry", "fail", "dead") if compact else ("retries", "failed", "dead")
    for label, count in zip(labels, (job.retries, job.failures, job.dead), strict=True):
        if count:
            parts.append(f"{label} {count}")
    return (" " if compact else "  ").join(parts)


def job_line(job: JobView, width: int) -> str:
    """One job on one line: name, state, a bar as wide as the line allows,
    counts; a long name is cut before any figure is."""
    tail = _tail(job, compact=False)
    ident = f" #{job.id} {job.state}"
    if len(job.name) + len(ident) + len(tail) + MIN_BAR + 2 > width:
        tail = _tail(job, compact=True)
    room_for_name = width - len(ident) - len(tail) - MIN_BAR - 2
    name = job.name if len(job.name) <= room_for_name else _cut(job.name, max(room_for_name, 8))
    head = name + ident
    room = width - len(head) - len(tail) - 2
    if room >= MIN_BAR:
        bar_width = min(room, 40)
        filled = round(bar_width * job.done / job.total) if job.total else 0
        bar = "█" * filled + "░" * (bar_width - filled)
        return f"{head} {bar} {tail}"
    return _cut(f"{head}  {tail}", width)


def render_lines(snapshot: RunSnapshot, width: int) -> list[str]:
    """The live view as plain lines, none longer than ``width``."""
    # after Ctrl-C a running job is not going on: say so on its own line too
    jobs = [
        dataclasses.replace(job, state="stopping")
        if snapshot.stopping and job.state == "running"
        else job
        for job in snapshot.jobs
    ]
    lines = [job_line(job, width) for job in jobs]
    for job in snapshot.jobs:
        if job.error:
            lines.append(_cut(f"  ! {job.name}: {job.error}", width))
    name_width = max((len(slot.name) for slot in snapshot.slots), default=0)
    for slot in snapshot.slots:
        pid = f"pid {slot.pid}" if slot.pid else ""
        if slot.job is None:
            line = f"  {slot.name:<{name_width}} {pid:>10}  idle"
        else:
            line = (
                f"  {slot.name:<{name_width}} {pid:>10}  chunk {slot.chunk}"
                f"  {fmt_duration(slot.elapsed):>6}  {slot.job}"
            )
        lines.append(_cut(line.rstrip(), width))
    footer = f"elapsed {fmt_duration(snapshot.elapsed)}"
    if snapshot.stopping:
        footer += f"  {STOPPING}"
    if snapshot.message:
        footer += f"  {snapshot.message}"
    lines.append(_cut(footer, width))
    return lines


def render_snapshot(snapshot: RunSnapshot, width: int) -> Group:
    from rich.console import Group
    from rich.text import Text

    return Group(
        *(Text(line, no_wrap=True, overflow="ellipsis") for line in render_lines(snapshot, width))
    )


class ProgressReporter:
    """Receives run snapshots; draws them live or logs them plainly.

    A job that leaves the snapshot (it finished) stays drawn with its last
    figures, so the view ends on the jobs' final bars.
    """

    def __init__(self, live: bool) -> None:
        self.live_enabled = live
        self.live: Live | None = None
        self._last_plain = 0.0
        self._states: dict[int, str] = {}
        self._jobs: dict[int, JobView] = {}

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

    def _with_finished(self, snapshot: RunSnapshot) -> RunSnapshot:
        current = {job.id for job in snapshot.jobs}
        for job in snapshot.jobs:
            self._jobs[job.id] = job
        gone = [job for job_id, job in self._jobs.items() if job_id not in current]
        gone = gone[-KEEP_FINISHED:]
        self._jobs = {job.id: job for job in [*gone, *snapshot.jobs]}
        return RunSnapshot(
            snapshot.elapsed,
            [*gone, *snapshot.jobs],
            snapshot.slots,
            snapshot.stopping,
            snapshot.message,
        )

    def update(self, snapshot: RunSnapshot) -> None:
        if self.live is not None:
            drawn = self._with_finished(snapshot)
            self.live.update(render_snapshot(drawn, console.rich.width))
            return
        now = time.monotonic()
        for job in snapshot.jobs:
            if self._states.get(job.id) != job.state:
                self._states[job.id] = job.state
                log_line(f"job {job.id} {job.name}: {job.state}")
        if now - self._last_plain >= PLAIN_PROGRESS_SECONDS:
            self._last_plain = now
            for job in snapshot.jobs:
                log_line(plain_line(job))

    def final(self, snapshot: RunSnapshot) -> None:
        """The last snapshot: drawn, or logged whatever the time since the last line."""
        if self.live is not None:
            self.update(snapshot)
            return
        self.update(snapshot)
        for job in snapshot.jobs:
            log_line(plain_line(job))


def log_line(line: str) -> None:
    """One plain, timestamped log line on stderr (cron mails and log files)."""
    stamp = datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
    sys.stderr.write(f"{stamp} jobctl: {line}\n")
    sys.stderr.flush()


def plain_line(job: JobView) -> str:
    phase = f"{job.phase}: {job.phase_done}/{job.phase_total} chunks; " if job.phase else ""
    line = (
        f"job {job.id} {job.name}: {phase}{job.done}/{job.total} chunks, {job.rows_in} rows, "
        f"{job.rows_per_second:.0f} rows/s, retries {job.retries}, failed {job.failures}, "
        f"dead {job.dead}, eta {_eta(job.eta_seconds)}"
    )
    if job.error:
        line += f"; first error: {job.error}"
    return line


def watch_status(store: Store, job_id: int, live: bool, interval: float = 0.5) -> None:
    """Follow a job from the store (any coordinator, any host) until it ends."""
    reporter = ProgressReporter(live)
    watch = StoreWatch(store, job_id, started=time.monotonic())
    with reporter:
        while True:
            snapshot = watch.snapshot(time.monotonic())
            if watch.ended:
                reporter.final(snapshot)
                return
            reporter.update(snapshot)
            time.sleep(interval)
