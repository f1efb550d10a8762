"""Peak memory of a process tree, sampled from /proc while it runs.

Each process's high-water mark (VmHWM) is kept, so the figure is the real
peak of every worker, not a sample of its current size.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path


def _children(pid: int) -> list[int]:
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        tasks = list(task_dir.iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(x) for x in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _hwm_and_name(pid: int) -> tuple[int, str] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024, cmdline.strip()
    return None


class TreeMemory:
    """Samples the tree under ``root`` every ``interval`` seconds until stopped."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root = root
        self.interval = interval
        self.peaks: dict[int, tuple[int, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pending = [self.root]
            while pending:
                pid = pending.pop()
                info = _hwm_and_name(pid)
                if info is not None:
                    old = self.peaks.get(pid, (0, ""))
                    self.peaks[pid] = (max(old[0], info[0]), info[1] or old[1])
                pending.extend(_children(pid))
            time.sleep(self.interval)

    def summary(self) -> dict[str, int]:
        """Peak RSS of the coordinator (root), the largest worker, and the sum."""
        root = self.peaks.get(self.root, (0, ""))[0]
        workers = [
            peak
            for pid, (peak, cmd) in self.peaks.items()
            if pid != self.root and "orchestrator.worker" in cmd
        ]
        return {
            "coordinator_peak_rss": root,
            "max_worker_peak_rss": max(workers, default=0),
            "workers": len(workers),
        }
