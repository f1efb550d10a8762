"""Build a job, run `jobctl` in subprocesses, poke at it, wait for things.

Every wait is bounded; every process a scenario starts carries a mark in its
environment so the invariant checker can prove none is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.store import open_store
from orchestrator.store.base import Store
from orchestrator.store.queries import load_queries
from tests.acceptance.cli import cli_env, jobctl_argv
from tests.fault.invariants import MARK_ENV, Report, check_invariants

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, every: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


@dataclass
class Scenario:
    """One job on real files and a real store, run by the real CLI."""

    tmp: Path
    db_url: str
    name: str
    spec: Path
    out: Path
    expected: pa.Table
    mark: str = field(default_factory=lambda: uuid.uuid4().hex)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        env = cli_env(self.tmp, self.db_url)
        env[MARK_ENV] = self.mark
        return env

    def cli(
        self, *args: str, timeout: float = 90, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*jobctl_argv(), *args],
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        prefix: tuple[str, ...] = (),
        argv: tuple[str, ...] | None = None,
    ) -> subprocess.Popen[str]:
        """``jobctl args`` (``argv``: another command in its place, e.g. tests.hooked)."""
        proc = subprocess.Popen(
            [*prefix, *(argv if argv is not None else jobctl_argv()), *args],
            env=env or self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def run(self, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return self.start("run", str(self.spec), "--run-key", "k1", *extra, env=env)

    def finish(self, proc: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str]:
        _out, err = proc.communicate(timeout=timeout)
        return proc.returncode, err

    def wait_succeeded(self, count: int, timeout: float = 60) -> None:
        """Wait until at least ``count`` chunks succeeded: the run is under way."""
        wait_for(lambda: self.chunk_states().get("succeeded", 0) >= count, timeout, "some progress")

    @staticmethod
    def kill_run(proc: subprocess.Popen[str]) -> None:
        """SIGKILL a ``jobctl`` process (no chance to clean up) and reap it."""
        send(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)

    def store(self) -> Store:
        return open_store(self.db_url)

    def job_id(self) -> int:
        def find() -> int | None:
            with scenario_store(self) as store:
                record = store.find_job(self.name, "k1")
                return None if record is None else record.id

        return wait_for(find, 30, "the job to be submitted")

    def chunk_states(self) -> dict[str, int]:
        with scenario_store(self) as store:
            record = store.find_job(self.name, "k1")
            if record is None:
                return {}
            return {str(k): v for k, v in store.job_progress(record.id).chunks.items()}

    def events(self) -> list[str]:
        with scenario_store(self) as store:
            return [e.kind for e in store.list_events(self.job_id())]

    def status(self) -> dict[str, Any]:
        result = self.cli("status", str(self.job_id()), "--json")
        return dict(json.loads(result.stdout))

    def check(self, **kwargs: Any) -> Report:
        return check_invariants(
            self.db_url, self.job_id(), self.out, self.expected, mark=self.mark, **kwargs
        )


@contextlib.contextmanager
def scenario_store(scenario: Scenario) -> Iterator[Store]:
    """``with scenario_store(s) as store``: an open store, closed after."""
    store = open_store(scenario.db_url)
    try:
        yield store
    finally:
        store.close()


def make_scenario(
    tmp: Path,
    db_url: str,
    *,
    name: str = "fault",
    chunks: int = 12,
    rows: int = 20,
    python: str = "tests.procs:sleep_then_identity",
    params: dict[str, Any] | None = None,
    workers: int = 2,
    timeouts: str = "",
    retries: str = "{max_attempts: 2, backoff: {base: 0s, max: 0s}}",
    payload: int = 0,
) -> Scenario:
    """A Parquet input of ``chunks`` row groups of ``rows`` rows (one chunk each);
    ``payload`` adds a text column of that many bytes per row (big parts)."""
    data = tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    total = chunks * rows
    columns: dict[str, Any] = {
        "id": pa.array(range(total), pa.int64()),
        "name": pa.array([f"row-{i}" for i in range(total)]),
    }
    if payload:
        columns["blob"] = pa.array([f"{i:08d}" * (payload // 8) for i in range(total)])
    table = pa.table(columns)
    pq.write_table(table, data / "in.parquet", row_group_size=rows)
    params_text = json.dumps(params if params is not None else {"seconds": 0.2})
    spec = tmp / "jobs.yaml"
    body = f"""\
        - name: {name}
          python: {python}
          params: {params_text}
          input: {{path: data/in.parquet}}
          chunking: {{rows: {rows}}}
          output: {{path: out/, format: parquet}}
          retries: {retries}
          executor: {{local: {{workers: {workers}}}}}
        """
    if timeouts:
        body += f"  timeouts: {timeouts}\n"
    spec.write_text("version: 1\njobs:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    return Scenario(tmp, db_url, name, spec, tmp / "out", table)


def children(pid: int) -> list[int]:
    """Live worker processes started by ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and b"orchestrator.worker" in cmdline and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def send(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def terminate_backends(db_url: str, application_name: str = "jobctl") -> int:
    """End every session of the test's own database opened by jobctl."""
    query = load_queries("postgres")["terminate_sessions"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(query, {"application": application_name}).fetchone()
    return int(row[0]) if row else 0
