"""Fixtures of the fault tests: scenarios cleaned up after each test, and a
throwaway PostgreSQL cluster for the tests that restart the server (the
shared server on :5432 is never stopped)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fault.harness import Scenario, make_scenario, send
from tests.fault.invariants import marked_processes
from tests.ports import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def scenario_factory(tmp_path: Path) -> Iterator[Callable[..., Scenario]]:
    """``scenario_factory(db_url, **options)``; every process a scenario started
    is gone after the test, whatever it asserted."""
    made: list[Scenario] = []

    def factory(db_url: str, **options: Any) -> Scenario:
        scenario = make_scenario(tmp_path / f"s{len(made)}", db_url, **options)
        made.append(scenario)
        return scenario

    yield factory
    for scenario in made:
        scenario.kill_all()
        for pid in marked_processes(scenario.mark):
            send(pid, signal.SIGKILL)


def _as_postgres(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


@dataclass
class Cluster:
    """A PostgreSQL server of one test: ``restart`` it as brutally as you like."""

    data: Path
    port: int
    #: the server's options (``pg_ctl start -o``), to start it again after a stop
    options: str = ""

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args)

    @property
    def log(self) -> Path:
        return self.data.parent / "server.log"

    def restart_immediate(self) -> None:
        """``pg_ctl restart -m immediate``: every session dies, no clean shutdown."""
        self.pg_ctl("-m", "immediate", "-l", str(self.log), "restart")

    def down_for(self, seconds: float) -> None:
        """Stop the server (``-m immediate``), keep it down ``seconds``, start it."""
        self.pg_ctl("-m", "immediate", "stop")
        time.sleep(seconds)
        self.pg_ctl("-l", str(self.log), "-o", self.options, "start")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@pytest.fixture
def own_postgres() -> Iterator[Cluster]:
    """initdb + start a cluster as the ``postgres`` user (trust auth, a free
    port, fsync off), stopped and deleted after the test."""
    base = Path(tempfile.mkdtemp(prefix="jobctl-pg-", dir="/tmp"))
    shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    _as_postgres(
        str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"
    )
    port = free_port()
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={base} "
        "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    )
    cluster = Cluster(data, port, options)
    cluster.pg_ctl("-l", str(cluster.log), "-o", options, "start")
    try:
        cluster.wait_ready()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            cluster.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)
