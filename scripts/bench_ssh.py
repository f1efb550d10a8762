"""Issue 5's SSH benchmark lines (not a test): two loopback sshd "hosts".

1. Per-chunk overhead over SSH: ``--chunks`` no-op chunks (``input.sequence``)
   through 2 hosts x 1 slot, no local slots -> chunks/s (the whole run: submit
   excluded, coordinator start, SSH connect, workers, commits, publish). The
   same job on 2 local slots is printed beside it.
2. Push-mode throughput: a Parquet input of about ``--mb`` MB read here,
   streamed to the remote workers as Arrow IPC (``noop``: nothing comes back;
   ``convert``: Parquet parts come back and are staged here) -> MB/s of pushed
   Arrow data, beside ``ssh host 'cat > file'``
   (OpenSSH client) and a paramiko ``cat > file`` of the same bytes, same run.

    .venv/bin/python scripts/bench_ssh.py [--chunks 2000] [--mb 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator import api  # noqa: E402
from orchestrator.dispatch.coordinator import RunOptions, run_jobs  # noqa: E402
from orchestrator.executors.ssh import push as push_module  # noqa: E402
from orchestrator.executors.ssh.connect import HostConnection  # noqa: E402
from orchestrator.spec.loader import load_spec  # noqa: E402
from orchestrator.spec.ssh import host_from_dict  # noqa: E402
from orchestrator.store import open_store  # noqa: E402
from tests.integration.ssh.conftest import SshCluster, _make_cluster  # noqa: E402


def run(store_url: str, job: dict[str, Any], folder: Path) -> tuple[float, int]:
    """Submit and run one job; (seconds of run_jobs, chunks)."""
    spec = folder / f"{job['name']}.yaml"
    spec.write_text(yaml.safe_dump({"version": 1, "jobs": [job]}))
    store = open_store(store_url)
    try:
        [result] = api.submit_spec(store, load_spec(spec))
        t0 = time.perf_counter()
        final = run_jobs(store, [result.job_id], RunOptions(install_signal_handlers=False))
        seconds = time.perf_counter() - t0
        assert final[result.job_id].value == "succeeded", final
        return seconds, result.chunks
    finally:
        store.close()


def section(cluster: SshCluster, transfer: str) -> dict[str, Any]:
    return {
        "known_hosts": str(cluster.known_hosts),
        "identity_file": str(cluster.user_key),
        "transfer": transfer,
        "hosts": [h.entry() for h in cluster.hosts],
    }


def overhead(cluster: SshCluster, store_url: str, folder: Path, chunks: int) -> None:
    base = {"type": "noop", "input": {"sequence": chunks}}
    remote = {**base, "name": "noop-ssh", "executor": {"ssh": section(cluster, "shared")}}
    local = {**base, "name": "noop-local", "executor": {"local": {"workers": 2}}}
    for label, job in (("2 ssh hosts x 1 slot", remote), ("2 local slots      ", local)):
        seconds, n = run(store_url, job, folder)
        print(f"no-op chunks, {label}: {n} chunks in {seconds:.2f} s = {n / seconds:,.0f} chunks/s")


def make_parquet(path: Path, mb: int) -> int:
    rows = mb * 1_000_000 // 40
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "x": pa.array([i * 0.5 for i in range(rows)], pa.float64()),
            "name": pa.array([f"name-{i % 100_000:06d}" for i in range(rows)]),
        }
    )
    pq.write_table(table, path, row_group_size=250_000, compression="none")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return int(sink.getvalue().size)


def throughput(cluster: SshCluster, store_url: str, folder: Path, mb: int) -> None:
    data = folder / "big.parquet"
    ipc_bytes = make_parquet(data, mb)
    pushed: list[int] = []
    original = push_module.PushTransfer.outgoing

    def counting(self: Any, header: dict[str, Any], payload: Any) -> Any:
        out = original(self, header, payload)
        if out[1] is not None:
            pushed.append(len(out[1]))
        return out

    push_module.PushTransfer.outgoing = counting  # type: ignore[method-assign]
    for kind, output in (("noop", None), ("convert", "parquet")):
        job: dict[str, Any] = {
            "name": f"push-{kind}",
            "type": kind,
            "input": {"path": str(data)},
            "chunking": {"rows": 250_000},
            "executor": {"ssh": section(cluster, "push")},
        }
        if output:
            job["output"] = {"path": str(folder / "out"), "format": output, "compression": "none"}
        pushed.clear()
        seconds, n = run(store_url, job, folder)
        sent = sum(pushed)
        what = "parts returned" if output else "nothing returned"
        print(
            f"push mode, {kind} ({what}), {n} chunks: {sent / 1e6:.0f} MB of Arrow pushed "
            f"in {seconds:.2f} s = {sent / 1e6 / seconds:.0f} MB/s"
        )
    push_module.PushTransfer.outgoing = original  # type: ignore[method-assign]
    local = {**job, "name": "convert-local", "executor": {"local": {"workers": 2}}}
    local["output"] = {
        "path": str(folder / "out-local"),
        "format": "parquet",
        "compression": "none",
    }
    seconds, n = run(store_url, local, folder)
    print(f"(same convert on 2 local slots: {seconds:.2f} s = {sent / 1e6 / seconds:.0f} MB/s)")
    blob = folder / "blob.arrow"
    blob.write_bytes(os.urandom(1024) * (ipc_bytes // 1024))
    host = cluster.hosts[0]
    argv = ["ssh", "-p", str(host.port), "-i", str(cluster.user_key), "-o", "BatchMode=yes"]
    argv += ["-o", f"UserKnownHostsFile={cluster.known_hosts}", "root@127.0.0.1"]
    t0 = time.perf_counter()
    with open(blob, "rb") as stdin:
        subprocess.run([*argv, f"cat > {host.root}/blob.copy"], stdin=stdin, check=True)
    openssh = time.perf_counter() - t0
    size = blob.stat().st_size
    print(f"ssh host 'cat > file' (OpenSSH), same bytes: {size / 1e6 / openssh:.0f} MB/s")
    spec = host_from_dict({**host.entry(), "identity_file": str(cluster.user_key)})
    connection = HostConnection(spec, known_hosts=str(cluster.known_hosts))
    t0 = time.perf_counter()
    connection.run(f"cat > {host.root}/blob.copy2", stdin=blob.read_bytes(), timeout=600)
    paramiko_s = time.perf_counter() - t0
    connection.close()
    print(f"paramiko exec 'cat > file', same bytes: {size / 1e6 / paramiko_s:.0f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cluster = _make_cluster(folder / "ssh", 2)
        os.environ["HOME"] = str(cluster.home)
        os.environ["XDG_STATE_HOME"] = str(folder / "state")
        store_url = f"sqlite://{folder / 'bench.db'}"
        try:
            overhead(cluster, store_url, folder, args.chunks)
            throughput(cluster, store_url, folder, args.mb)
        finally:
            for host in cluster.hosts:
                host.kill()


if __name__ == "__main__":
    main()
