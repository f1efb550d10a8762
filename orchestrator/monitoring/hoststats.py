"""How busy this machine is: what a worker reports with its heartbeat.

Slot scoring (``orchestrator.dispatch.scoring``) wants cpu, memory and load as fractions in
0..1, from the host itself rather than guessed by the coordinator. Read from
``/proc`` where it exists (Linux: a few microseconds, no dependency); elsewhere
only the load average is known and the other figures are None.
"""

from __future__ import annotations

import os

_last_cpu: tuple[int, int] | None = None  # (busy, total) jiffies at the previous sample


def _cpu_fraction() -> float | None:
    """Share of CPU time spent busy since the previous call (None on the first)."""
    global _last_cpu
    try:
        with open("/proc/stat", "rb") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    previous, _last_cpu = _last_cpu, (total - idle, total)
    if previous is None or total <= previous[1]:
        return None
    return min(1.0, max(0.0, (total - idle - previous[0]) / (total - previous[1])))


def _mem_fraction() -> float | None:
    """Share of memory in use (1 - MemAvailable/MemTotal)."""
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                key, _, rest = line.partition(b":")
                if key in (b"MemTotal", b"MemAvailable"):
                    values[key.decode()] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    total, available = values.get("MemTotal"), values.get("MemAvailable")
    if not total or available is None:
        return None
    return min(1.0, max(0.0, 1.0 - available / total))


def host_stats() -> dict[str, float | int | None]:
    """``{"cpu", "mem", "load", "cpus"}``: fractions in 0..1, load
    being the 1-minute load average per CPU (capped at 1)."""
    cpus = os.cpu_count() or 1
    try:
        load: float | None = min(1.0, os.getloadavg()[0] / cpus)
    except OSError:
        load = None
    return {"cpu": _cpu_fraction(), "mem": _mem_fraction(), "load": load, "cpus": cpus}


_cpu_fraction()  # the baseline: a worker's first heartbeat already has its cpu figure
