"""Helpers shared by the peer scripts (standard library only).

Every peer script runs in the peers venv, prints exactly ONE JSON line on
stdout (its result) and sends everything else to stderr. The scripts import
this module as a sibling (the script's directory is on ``sys.path``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

PEERS_DIR = Path(__file__).resolve().parent
BENCH_DIR = PEERS_DIR.parent
WORK_DIR = BENCH_DIR / "work" / "peers"

# Credentials, if any, come from the environment (or .pgpass), never argv.
DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def log(msg: str) -> None:
    print(f"[{Path(sys.argv[0]).stem}] {msg}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    """Print the one result line."""
    sys.stdout.write(json.dumps(result, sort_keys=False) + "\n")
    sys.stdout.flush()


def this_command() -> str:
    """The exact command line that ran this script (python path relative to cwd)."""
    return shlex.join([os.path.relpath(sys.executable), *sys.argv])


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def dispatch_args(description: str, default_n: int = 2000) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--n", type=int, default=default_n, help="number of no-op tasks")
    ap.add_argument("--workers", type=int, default=2, help="workers / executors")
    ap.add_argument("--timeout", type=float, default=300.0, help="bound on the measured part")
    return ap


def dispatch_result(name: str, n: int, seconds: float, method: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "tasks": n,
        "seconds": round(seconds, 4),
        "per_second": round(n / seconds, 1) if seconds > 0 else None,
        "command": this_command(),
        "method": method,
        **extra,
    }


def rusage_peak_bytes() -> dict[str, int]:
    """ru_maxrss of this process and of its largest waited-for child, in bytes (Linux: KiB)."""
    return {
        "self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }


def pg_dsn(dbname: str | None = None) -> str:
    """The admin DSN (env BENCH_PG_DSN) or the same server with another database."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    dsn = os.environ.get("BENCH_PG_DSN", DEFAULT_PG_DSN)
    if dbname is None:
        return dsn
    params = conninfo_to_dict(dsn)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


def _drop_database(name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.contextmanager
def fresh_database(name: str, keep: bool = False) -> Iterator[str]:
    """Create an empty database ``name`` (dropping any leftover); drop it afterwards."""
    import psycopg
    from psycopg import sql

    _drop_database(name)
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield pg_dsn(name)
    finally:
        if not keep:
            _drop_database(name)


def exit_on_signals() -> None:
    """Turn SIGTERM (and SIGHUP) into SystemExit so that ``finally`` blocks stop children."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def _die_with_parent() -> None:
    """In a forked child: get SIGTERM when the parent dies (Linux PR_SET_PDEATHSIG)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def popen_group(cmd: list[str], **kw: Any) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session so that its whole tree can be stopped.

    The child also gets SIGTERM if this process dies (even by SIGKILL), so a
    killed peer leaves no worker behind.
    """
    return subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with_parent, **kw)


def stop_group(proc: subprocess.Popen[Any], grace: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to the process group of ``proc``, SIGKILL it after ``grace`` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    # Children of the group may outlive its leader: kill what is left.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _descendants(root: int) -> list[int]:
    """PIDs of every descendant of ``root`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _role(pid: int) -> str:
    """A short label for a process of the tree, from its command line."""
    if pid == os.getpid():
        return "main"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"
    for marker, role in (
        ("resource_tracker", "resource_tracker"),
        ("forkserver", "forkserver"),
        ("spawn_main", "worker"),
    ):
        if marker in cmdline:
            return role
    return Path(cmdline.split(" ", 1)[0]).name or "?"


def _vm_hwm(pid: int) -> tuple[str, int] | None:
    """(role, peak RSS bytes) of a live process, from /proc/PID/status (VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return _role(pid), int(line.split()[1]) * 1024
    return None


class TreePeakRss:
    """Track the peak RSS (VmHWM, exact) of this process and all its descendants.

    Polls /proc in a thread; call :meth:`sample` once more right before the
    children exit, since a process's VmHWM is lost when it is reaped.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peaks: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def sample(self) -> None:
        pids = [os.getpid(), *_descendants(os.getpid())]
        with self._lock:
            for pid in pids:
                got = _vm_hwm(pid)
                if got is not None and got[1] >= self.peaks.get(pid, ("", 0))[1]:
                    self.peaks[pid] = got

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> TreePeakRss:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def report(self) -> dict[str, int]:
        """{"<name>-<pid>": peak bytes} for every process seen."""
        with self._lock:
            return {f"{name}-{pid}": hwm for pid, (name, hwm) in sorted(self.peaks.items())}

    def max(self) -> int:
        with self._lock:
            return max((hwm for _, hwm in self.peaks.values()), default=0)


def parquet_rows(path: Path) -> int:
    """Rows in a Parquet file, or in every ``*.parquet`` under a directory (footers only)."""
    import pyarrow.parquet as pq

    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def data_args(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--input", type=Path, required=True, help="a .parquet or .csv file")
    ap.add_argument("--output", type=Path, default=None, help="default under bench/work/peers")
    ap.add_argument("--keep", action="store_true", help="keep the output")
    ap.add_argument(
        "--format", choices=("parquet", "csv"), default=None, help="default: from the suffix"
    )
    ap.add_argument("--rows", type=int, default=None, help="expected rows (checked)")
    return ap


def input_format(path: Path, given: str | None = None) -> str:
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise SystemExit(f"{path}: expected a .parquet or .csv input (or --format)")


def default_output(name: str, src: Path, fmt: str) -> Path:
    return WORK_DIR / name / f"{src.stem}.{fmt}-to.parquet"


def check_rows(rows: int, expected: int | None) -> None:
    if expected is not None and rows != expected:
        raise SystemExit(f"converted {rows} rows, expected {expected}")


def remove_output(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def data_result(
    name: str, fmt: str, src: Path, dst: Path, seconds: float, rows: int, method: str, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "format": fmt,
        "input": str(src),
        "input_bytes": src.stat().st_size,
        "output_bytes": sum(f.stat().st_size for f in dst.rglob("*") if f.is_file())
        if dst.is_dir()
        else dst.stat().st_size,
        "rows": rows,
        "seconds": round(seconds, 4),
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else None,
        "command": this_command(),
        "method": method,
        **extra,
    }


def monotonic() -> float:
    return time.perf_counter()
