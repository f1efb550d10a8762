"""Adopting the parts that an earlier coordinator's workers finished without it.

When a coordinator dies (SIGKILL, OOM kill, power cut of its terminal), its
local workers finish the part they were making and leave a receipt in the
job's staging directory (``io/leftovers.py``). The next coordinator gets the
chunk back with an infrastructure attempt spent; before giving it to a
worker it looks for such traces of the chunk's earlier attempts:

- a receipt whose part is there: the chunk is committed with that part under
  the new lease's fencing token. The commit is the ordinary one (the token
  must still be current), so a chunk is still committed exactly once; the
  work is not done twice.
- an orphan marker of a worker that still runs on this host: the chunk waits
  (its lease renewed) until a receipt shows up, or the orphan dies without
  one, or the job's chunk timeout passes — then it runs as usual.

Only chunks that lost an attempt (``infra_attempts > 0``) of jobs with a
local staging directory are looked at: one directory listing each, nothing
on the normal path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.dispatch.ledger import Ledger, Task
from orchestrator.io.leftovers import Leftover, find_leftover, orphan_alive

#: How often awaited orphans are looked at (seconds).
CHECK_SECONDS = 0.05


@dataclass
class _Awaited:
    task: Task
    deadline: float


class Adoption:
    """Chunks held back from the workers because an orphan made (or makes) their part."""

    def __init__(self, ledger: Ledger, host: str) -> None:
        self.ledger = ledger
        self.host = host
        self.awaited: dict[str, _Awaited] = {}
        self._last_check = 0.0

    def hold_back(self, task: Task, now: float) -> bool:
        """True when ``task`` needs no worker now: its part was adopted, or an
        orphan is finishing it (then it is awaited)."""
        leftover = self._leftover(task)
        if leftover is None:
            return False
        if leftover.receipt is not None:
            self.ledger.hold(task)
            self._adopt(task, leftover)
            return True
        if leftover.orphan is not None and orphan_alive(leftover.orphan, self.host):
            self.ledger.hold(task)
            self.awaited[task.task_id] = _Awaited(task, now + task.job.spec.timeouts.chunk)
            return True
        return False

    def due(self, now: float) -> list[Task]:
        """Look at the awaited orphans (at most every :data:`CHECK_SECONDS`):
        adopt what they finished; return the tasks to run after all (the
        orphan died without a receipt, or outlived the chunk timeout)."""
        if not self.awaited or now - self._last_check < CHECK_SECONDS:
            return []
        self._last_check = now
        run: list[Task] = []
        for task_id, entry in list(self.awaited.items()):
            task = entry.task
            if task.dropped:  # lease lost or given back meanwhile
                del self.awaited[task_id]
                continue
            leftover = self._leftover(task)
            if leftover is not None and leftover.receipt is not None:
                del self.awaited[task_id]
                self._adopt(task, leftover)
            elif (
                leftover is None
                or leftover.orphan is None
                or not orphan_alive(leftover.orphan, self.host)
                or now > entry.deadline
            ):
                del self.awaited[task_id]
                self.ledger.unhold(task)
                run.append(task)
        return run

    def release_all(self) -> list[Task]:
        """Stop waiting (the coordinator stops): the awaited tasks, to give back."""
        tasks = [entry.task for entry in self.awaited.values() if not entry.task.dropped]
        self.awaited.clear()
        return tasks

    def _leftover(self, task: Task) -> Leftover | None:
        job, lease = task.job, task.lease
        if not lease.infra_attempts or job.staging is None or job.payload.get("output") is None:
            return None
        return find_leftover(job.staging, lease.seq, lease.fencing_token, lease.chunk_id)

    def _adopt(self, task: Task, leftover: Leftover) -> None:
        receipt: dict[str, Any] = leftover.receipt or {}
        who = f"adopted from pid {receipt.get('pid')} on {receipt.get('host')}"
        self.ledger.succeed(task, receipt, worker=f"{who} (token {leftover.token})")
