"""Loopback sshd "hosts" and the pieces of the SSH benchmark (issue 5, issue 7 scenario 5).

The hosts are the integration tests' OpenSSH servers
(``tests/integration/ssh/conftest.py``: ``/usr/sbin/sshd -D`` per host on a
free 127.0.0.1 port, its own host key, one user key for root, a private
``known_hosts`` and ``HOME``), so the benchmark and the tests start sshd one
way. That module imports pytest, so the scenario needs the dev extras; it
says so instead of failing when they are missing.

Push throughput is reported in MB/s of the Arrow IPC the coordinator sends:
:func:`push_payloads` plans the job and serializes each chunk exactly as
``PushTransfer.outgoing`` does, and writes those bytes to one file, which is
what ``ssh host 'cat > file'`` and a paramiko ``cat > file`` then carry. So
every contender moves the same bytes.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.integration.ssh.conftest import SshCluster

SSHD = "/usr/sbin/sshd"
#: Rows per push-mode chunk (and Parquet row group of the generated input).
PUSH_CHUNK_ROWS = 250_000


def unavailable() -> str | None:
    """Why loopback sshd hosts cannot run here, or None when they can."""
    if not os.path.exists(SSHD):
        return f"{SSHD} not found: install openssh-server"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen not found: install openssh-client"
    try:
        import pytest  # noqa: F401 - the sshd launcher lives in the integration tests
    except ImportError:
        return "the sshd launcher needs the dev extras: .venv/bin/pip install -e '.[dev]'"
    return None


def start_cluster(root: Path, count: int = 2) -> SshCluster:
    """``count`` sshd hosts (h1, h2 ...) under ``root`` (emptied first), 1 slot each."""
    from tests.integration.ssh.conftest import _make_cluster

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return _make_cluster(root, count)


def stop_cluster(cluster: SshCluster) -> None:
    for host in cluster.hosts:
        host.kill()


def client_env(cluster: SshCluster, base: dict[str, str]) -> dict[str, str]:
    """``base`` for an SSH client: the cluster's HOME (not the user's ``~/.ssh``), no agent."""
    env = {**base, "HOME": str(cluster.home)}
    env.pop("SSH_AUTH_SOCK", None)
    return env


@contextlib.contextmanager
def client_environment(cluster: SshCluster) -> Iterator[None]:
    """This process's HOME is the cluster's (no ``~/.ssh`` of the user) and no agent."""
    saved = {key: os.environ.get(key) for key in ("HOME", "SSH_AUTH_SOCK")}
    os.environ["HOME"] = str(cluster.home)
    os.environ.pop("SSH_AUTH_SOCK", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def executor_section(cluster: SshCluster, transfer: str) -> dict[str, Any]:
    """An ``executor.ssh`` section naming every host of ``cluster``."""
    return {
        "known_hosts": str(cluster.known_hosts),
        "identity_file": str(cluster.user_key),
        "transfer": transfer,
        "hosts": [host.entry() for host in cluster.hosts],
    }


def make_parquet(path: Path, mb: int) -> None:
    """About ``mb`` MB of rows (id, x, name), uncompressed, one row group per chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = mb * 1_000_000 // 40
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "x": pa.array([i * 0.5 for i in range(rows)], pa.float64()),
            "name": pa.array([f"name-{i % 100_000:06d}" for i in range(rows)]),
        }
    )
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, row_group_size=PUSH_CHUNK_ROWS, compression="none")
    tmp.rename(path)


def push_payloads(spec: Path, blob: Path) -> tuple[int, int]:
    """Write the IPC payloads a push-mode run of ``spec`` sends to ``blob``: (bytes, chunks)."""
    from orchestrator.executors.ssh.push import table_to_ipc
    from orchestrator.io.readers import read_chunk
    from orchestrator.planning.plan import plan_job
    from orchestrator.spec.loader import load_spec

    [job] = load_spec(spec).jobs
    plan = plan_job(job)
    size = 0
    with open(blob, "wb") as out:
        for chunk in plan.chunks:
            rows = table_to_ipc(read_chunk(chunk, job.input.csv, schema=plan.csv_schema))
            out.write(rows)
            size += len(rows)
    return size, len(plan.chunks)


def openssh_cat_argv(cluster: SshCluster, target: str) -> list[str]:
    """``ssh h1 'cat > target'`` with the OpenSSH client, trusting only the cluster's keys."""
    host = cluster.hosts[0]
    return [
        "ssh",
        "-F",
        "/dev/null",
        "-p",
        str(host.port),
        "-i",
        str(cluster.user_key),
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"UserKnownHostsFile={cluster.known_hosts}",
        "root@127.0.0.1",
        f"cat > {shlex.quote(target)}",
    ]


def openssh_cat(cluster: SshCluster, blob: Path, target: str) -> float:
    """Seconds for the OpenSSH client to carry ``blob`` into ``target`` on h1 (connect included)."""
    env = client_env(cluster, dict(os.environ))
    started = time.perf_counter()
    with open(blob, "rb") as stdin:
        subprocess.run(
            openssh_cat_argv(cluster, target),
            stdin=stdin,
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return time.perf_counter() - started


def paramiko_cat(cluster: SshCluster, blob: Path, target: str) -> float:
    """Seconds for jobctl's paramiko connection to carry ``blob`` into ``target`` on h1."""
    from orchestrator.executors.ssh.connect import HostConnection
    from orchestrator.spec.ssh import host_from_dict

    host = cluster.hosts[0]
    spec = host_from_dict({**host.entry(), "identity_file": str(cluster.user_key)})
    data = blob.read_bytes()
    with client_environment(cluster):
        connection = HostConnection(spec, known_hosts=str(cluster.known_hosts))
        try:
            started = time.perf_counter()  # connect included, as for OpenSSH
            result = connection.run(f"cat > {shlex.quote(target)}", stdin=data, timeout=600)
            seconds = time.perf_counter() - started
        finally:
            connection.close()
    if result.status != 0:
        raise RuntimeError(f"paramiko cat exited {result.status}: {result.stderr[-500:]!r}")
    return seconds
