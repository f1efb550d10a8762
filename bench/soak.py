"""`scripts/soak --minutes N`: `jobctl serve` under a stream of jobs and faults.

Not a test (it runs for minutes; nothing of it is in the default test run).

- one ``jobctl serve`` with 2 local slots and 2 loopback sshd hosts (the
  integration tests' sshd launcher), on PostgreSQL reached through a TCP
  proxy on 127.0.0.1 that this script owns;
- with ``--skew`` and Debian's ``faketime`` (libfaketime) installed, a second coordinator
  (``serve --local-only --workers 1``) whose clock is 30 s ahead;
- a job submitted every few seconds at a random priority: a seeded Parquet
  input of 40 rows in 20 row groups, 20 chunks, ``tests.procs:identity``,
  Parquet output of its own;
- faults at random moments, each logged: ``kill -9`` of a local worker,
  ``kill -9`` of the coordinator (started again at once), and once the
  database connection cut for 20 s - the proxy stops moving bytes without
  closing anything (a partition, not a clean close);
- the RSS of the serve process sampled every 10 s;
- at the end: no more submits, every job waited for, serve stopped with
  SIGTERM, then tests/fault's invariant checker on every job (one terminal
  state per chunk, each success committed once, exactly the expected output
  rows, no process of the run left).

Prints one JSON document: jobs, chunks, faults, invariant failures, the RSS
samples and their least-squares slope (bytes per minute) per serve process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PG_SERVER = os.environ.get("JOBCTL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
JOBCTL = str(Path(sys.executable).parent / "jobctl")
PRIORITIES = ("LOW", "NORMAL", "HIGH", "URGENT")


class PartitionProxy:
    """TCP forwarding 127.0.0.1:port -> target; :meth:`cut` stops every byte
    for a while without closing a connection (a network partition)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._blocked_until = 0.0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self, seconds: float) -> None:
        self._blocked_until = time.monotonic() + seconds

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                while time.monotonic() < self._blocked_until:
                    time.sleep(0.05)  # bytes wait in the kernel's buffers
                for key, _ in sel.select(timeout=0.2):
                    if time.monotonic() < self._blocked_until:
                        break
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()


def fresh_database(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_SERVER.rsplit("/", 1)[0] + f"/{name}"


def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def slope_per_minute(samples: list[tuple[float, int]]) -> float | None:
    """Least-squares slope of RSS over time, bytes per minute."""
    if len(samples) < 3:
        return None
    xs = [t for t, _ in samples]
    ys = [float(r) for _, r in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else None


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


#: an RSS below this is a process not yet exec'd into Python (4 KiB was seen)
MIN_SAMPLED_RSS = 1024 * 1024


class Soak:
    def __init__(self, root: Path, minutes: float, skew: bool, seed: int) -> None:
        self.root = root
        self.minutes = minutes
        self.rng = random.Random(seed)
        self.mark = f"soak-{uuid.uuid4().hex[:8]}"
        self.faults: list[dict[str, Any]] = []
        self.jobs: list[tuple[int, Path]] = []
        self.rss: dict[int, list[tuple[float, int]]] = {}
        self.t0 = time.monotonic()
        self.skew = skew
        self.serve: subprocess.Popen[bytes] | None = None
        self.skewed: subprocess.Popen[bytes] | None = None

    def log(self, kind: str, **detail: Any) -> None:
        entry = {"at_s": round(time.monotonic() - self.t0, 1), "fault": kind, **detail}
        self.faults.append(entry)
        print(json.dumps(entry), file=sys.stderr, flush=True)

    # -- set-up ---------------------------------------------------------------------

    def setup(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq
        import yaml

        from bench.ssh_hosts import start_cluster, unavailable

        problem = unavailable()
        if problem:
            raise SystemExit(f"soak: {problem}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.cluster = start_cluster(self.root / "ssh", 2)
        self.direct_url = fresh_database("jobctl_soak")
        host, port = "127.0.0.1", int(self.direct_url.split(":")[2].split("/")[0])
        self.proxy = PartitionProxy((host, port))
        self.proxy_url = self.direct_url.replace(f":{port}/", f":{self.proxy.port}/")
        self.input = self.root / "input.parquet"
        self.expected = pa.table({"id": pa.array(range(40), pa.int64())})
        pq.write_table(self.expected, self.input, row_group_size=2)
        self.hosts_file = self.root / "hosts.yaml"
        self.hosts_file.write_text(
            yaml.safe_dump(
                {
                    "known_hosts": str(self.cluster.known_hosts),
                    "identity_file": str(self.cluster.user_key),
                    "hosts": [h.entry() for h in self.cluster.hosts],
                }
            )
        )
        self.env = dict(os.environ)
        self.env.update(
            XDG_DATA_HOME=str(self.root / "data"),
            XDG_STATE_HOME=str(self.root / "state"),
            PYTHONPATH=str(REPO),
            HOME=str(self.cluster.home),
            JOBCTL_FAULT_MARK=self.mark,
        )
        self.env.pop("JOBCTL_DATABASE_URL", None)
        self.env.pop("SSH_AUTH_SOCK", None)
        subprocess.run(
            [JOBCTL, "db", "upgrade", "--db", self.direct_url],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start_serve(self) -> None:
        argv = [JOBCTL, "serve", "--workers", "2", "--hosts", str(self.hosts_file)]
        self.serve = subprocess.Popen(
            [*argv, "--db", self.proxy_url],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "serve.log", "ab"),  # noqa: SIM115 - lives with the process
        )
        self.rss.setdefault(self.serve.pid, [])

    def start_skewed(self) -> None:
        if not self.skew:
            return
        lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
        if not os.path.exists(lib):
            self.log("skew_skipped", reason="libfaketime not installed (apt-get install faketime)")
            self.skew = False
            return
        # libfaketime preloaded into serve itself (not the `faketime` wrapper,
        # which would stand between serve and our SIGTERM); its workers inherit it.
        # Only the wall clock is skewed, as between two machines: a faked
        # CLOCK_MONOTONIC is not seen by the kernel's timed waits, so every
        # Python timed wait (a thread join, a lock with a timeout) lasted 30 s
        # longer and the coordinator did not stop within 120 s of SIGTERM.
        # ... and Python's time.sleep under that libfaketime fails with EINVAL
        # (bench/faketime_monotonic_sleep.c says why): a shim preloaded first
        # sends monotonic sleeps to the kernel. (The skewed serve died at
        # 165 s of a 30-minute soak without it.)
        shim = self.root / "faketime_monotonic_sleep.so"
        source = REPO / "bench" / "faketime_monotonic_sleep.c"
        if shutil.which("gcc") is None:
            self.log("skew_skipped", reason="no gcc to build the sleep shim (apt-get install gcc)")
            self.skew = False
            return
        built = subprocess.run(
            ["gcc", "-shared", "-fPIC", "-O2", "-o", str(shim), str(source), "-ldl"],
            capture_output=True,
            text=True,
        )
        if built.returncode != 0:
            self.log("skew_skipped", reason=f"the sleep shim did not build: {built.stderr[-300:]}")
            self.skew = False
            return
        env = {
            **self.env,
            "LD_PRELOAD": f"{shim} {lib}",
            "FAKETIME": "+30s",
            "FAKETIME_DONT_RESET": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }
        argv = [JOBCTL, "serve", "--local-only", "--workers", "1"]
        self.skewed = subprocess.Popen(
            [*argv, "--db", self.proxy_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "serve-skewed.log", "ab"),  # noqa: SIM115
        )
        self.log("skewed_coordinator", pid=self.skewed.pid, offset="+30s")

    # -- the stream -----------------------------------------------------------------

    def submit(self, index: int) -> None:
        out = self.root / "out" / f"job-{index:05d}"
        spec = self.root / "specs" / f"job-{index:05d}.yaml"
        spec.parent.mkdir(parents=True, exist_ok=True)
        priority = self.rng.choice(PRIORITIES)
        spec.write_text(
            "version: 1\njobs:\n"
            f"  - name: soak-{index:05d}\n"
            "    python: tests.procs:identity\n"
            f"    input: {{path: '{self.input}', format: parquet}}\n"
            "    chunking: {rows: 2}\n"
            f"    output: {{path: '{out}', format: parquet, mode: overwrite}}\n"
            f"    priority: {priority}\n"
            "    timeouts: {lease: 15s}\n"
        )
        done = subprocess.run(
            [JOBCTL, "submit", str(spec), "--db", self.direct_url, "--json"],
            env=self.env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            self.log("submit_failed", error=done.stderr[-500:])
            return
        self.jobs.append((int(json.loads(done.stdout)[0]["job_id"]), out))

    def fault(self, cut_done: bool) -> bool:
        """One random fault; returns whether the database cut has happened."""
        assert self.serve is not None
        choice = self.rng.random()
        if not cut_done and time.monotonic() - self.t0 > self.minutes * 60 / 3:
            self.log("db_partition", seconds=20)
            self.proxy.cut(20)
            return True
        workers = [p for p in children(self.serve.pid) if b"orchestrator.worker" in _cmd(p)]
        if choice < 0.6 and workers:
            victim = self.rng.choice(workers)
            os.kill(victim, signal.SIGKILL)
            self.log("kill_worker", pid=victim)
        else:
            self.serve.kill()
            self.serve.wait()
            self.log("kill_coordinator", pid=self.serve.pid)
            self.start_serve()
        return cut_done

    def run(self) -> dict[str, Any]:
        self.setup()
        self.start_serve()
        self.start_skewed()
        end = self.t0 + self.minutes * 60
        next_submit = next_fault = next_sample = time.monotonic()
        next_fault += self.rng.uniform(20, 40)
        index = 0
        cut_done = False
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_submit:
                self.submit(index)
                index += 1
                next_submit = now + self.rng.uniform(1.5, 4.5)
            if now >= next_fault:
                cut_done = self.fault(cut_done)
                next_fault = now + self.rng.uniform(20, 40)
            if now >= next_sample:
                # the skewed serve is never killed: its samples span the whole soak
                for proc in (self.serve, self.skewed):
                    rss = rss_bytes(proc.pid) if proc is not None else None
                    if rss is not None and rss >= MIN_SAMPLED_RSS:  # not before its exec
                        self.rss.setdefault(proc.pid, []).append((now - self.t0, rss))
                next_sample = now + 10
            time.sleep(0.2)
        return self.finish()

    # -- the end --------------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        from orchestrator.states import JOB_TERMINAL
        from orchestrator.store import open_store
        from tests.fault.invariants import check_invariants, wait_no_processes

        store = open_store(self.direct_url)
        deadline = time.monotonic() + 600
        try:
            while time.monotonic() < deadline:
                states = {j.id: j.state for j in store.get_jobs([i for i, _ in self.jobs])}
                if all(s in JOB_TERMINAL for s in states.values()):
                    break
                time.sleep(1)
        finally:
            store.close()
        for proc in (self.serve, self.skewed):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    self.log("serve_needed_sigkill", pid=proc.pid)
        failures: list[str] = []
        try:
            wait_no_processes(self.mark, timeout=30)
        except AssertionError as exc:
            failures.append(str(exc))
        chunks = 0
        for job_id, out in self.jobs:
            try:
                report = check_invariants(self.direct_url, job_id, out, self.expected)
                chunks += report.chunks
            except AssertionError as exc:
                failures.append(f"job {job_id}: {exc}")
        for host in self.cluster.hosts:
            host.kill()
        slopes = {pid: slope_per_minute(s) for pid, s in self.rss.items()}
        longest = max(self.rss.items(), key=lambda kv: len(kv[1]))[1] if self.rss else []
        return {
            "minutes": self.minutes,
            "jobs": len(self.jobs),
            "chunks": chunks,
            "faults": self.faults,
            "fault_counts": _count(f["fault"] for f in self.faults),
            "invariant_failures": failures,
            "rss_samples": {str(k): v for k, v in self.rss.items()},
            "rss_slope_bytes_per_minute": {str(k): v for k, v in slopes.items()},
            # without the first two samples (20 s): the start-up ramp is not a leak
            "rss_slope_after_warmup_bytes_per_minute": {
                str(k): slope_per_minute(v[2:]) for k, v in self.rss.items()
            },
            "rss_serve_pids": {"skewed (never killed)": self.skewed.pid if self.skewed else None},
            "rss_longest_serve": {
                "samples": len(longest),
                "first_mb": round(longest[0][1] / 2**20, 1) if longest else None,
                "last_mb": round(longest[-1][1] / 2**20, 1) if longest else None,
                "slope_kb_per_minute": round(slope / 1024, 1)
                if (slope := slope_per_minute(longest)) is not None
                else None,
            },
        }


def _cmd(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _count(kinds: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--skew", action="store_true", help="a second coordinator 30 s ahead")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--root", type=Path, default=REPO / "bench" / "work" / "soak")
    args = parser.parse_args()
    import shutil

    shutil.rmtree(args.root, ignore_errors=True)
    result = Soak(args.root, args.minutes, args.skew, args.seed).run()
    print(json.dumps(result, indent=2))
    return 1 if result["invariant_failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
