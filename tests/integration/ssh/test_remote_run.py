"""Jobs on real sshd hosts: the same output as a local run (shared and push), and
failover when a host dies mid-run."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.executors.ssh.connect import HostConnection
from orchestrator.spec.ssh import host_from_dict
from orchestrator.states import JobState
from orchestrator.store import open_store
from orchestrator.store.base import Store
from orchestrator.store.hosts import HostState
from tests.integration.ssh.conftest import SshCluster, pids_in
from tests.integration.ssh.jobs import (
    pushed_sizes,
    read_output,
    run_spec,
    workers_of,
    write_csvs,
    write_spec,
)

SLOW = {"seconds": 0.05}


@pytest.fixture
def lite(sqlite_url: str) -> Any:
    store = open_store(sqlite_url)
    yield store
    store.close()


@pytest.mark.parametrize("transfer", ["auto", "push"])
def test_three_hosts_and_local_slots_match_a_local_run(
    transfer: str,
    ssh_cluster: SshCluster,
    lite: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = write_csvs(tmp_path / "data")
    inputs = str(tmp_path / "data" / "*.csv")
    local_spec = write_spec(
        tmp_path / "local.yaml",
        inputs=inputs,
        output=tmp_path / "out-local",
        ssh=None,
        python="tests.procs:sleep_then_identity",
        params=SLOW,
    )
    job_id, state = run_spec(lite, local_spec)
    assert state == JobState.SUCCEEDED
    expected, expected_parts = read_output(tmp_path / "out-local")
    assert expected.num_rows == rows and len(expected_parts) >= 12

    pushed = pushed_sizes(monkeypatch)
    remote_spec = write_spec(
        tmp_path / "remote.yaml",
        inputs=inputs,
        output=tmp_path / "out-remote",
        ssh=ssh_cluster.section(transfer=transfer),
        python="tests.procs:sleep_then_identity",
        params=SLOW,
    )
    job_id, state = run_spec(lite, remote_spec)
    assert state == JobState.SUCCEEDED
    table, parts = read_output(tmp_path / "out-remote")
    assert table.equals(expected)
    assert [(p["file"], p["rows"], p["checksum"]) for p in parts] == [
        (p["file"], p["rows"], p["checksum"]) for p in expected_parts
    ]
    workers = workers_of(lite, job_id)
    assert {"h1/0", "h2/0", "h3/0", "local-0"} <= set(workers), workers
    assert sum(workers.values()) == len(parts)
    if transfer == "push":
        remote_chunks = sum(n for w, n in workers.items() if not w.startswith("local"))
        assert len(pushed) >= remote_chunks
    else:  # auto: loopback hosts see our paths, so nothing is pushed
        assert pushed == []
    assert all(lite.get_host(h.name).state == HostState.ONLINE for h in ssh_cluster.hosts)
    _assert_no_workers_left(ssh_cluster)


def _assert_no_workers_left(cluster: SshCluster, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while any(cluster.workers().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cluster.workers() == {h.name: [] for h in cluster.hosts}


def _remote_workers(cluster: SshCluster, name: str) -> str:
    """Worker pids whose cwd is the host's workdir, listed over a fresh connection."""
    host = next(h for h in cluster.hosts if h.name == name)
    spec = host_from_dict({**host.entry(), "identity_file": str(cluster.user_key)})
    connection = HostConnection(spec, known_hosts=str(cluster.known_hosts))
    try:
        workdir = str(host.workdir)
        script = (
            "for p in /proc/[0-9]*; do "
            f'[ "$(readlink $p/cwd)" = "{workdir}" ] && echo ${{p#/proc/}}; done; true'
        )
        result = connection.run(script, timeout=30)
        assert result.ok, result.stderr
        return result.text()
    finally:
        connection.close()


def test_host_killed_mid_run_fails_over_and_comes_back(
    ssh_cluster: SshCluster, pg_url: str, tmp_path: Path
) -> None:
    rows = write_csvs(tmp_path / "data", files=4, rows=1000)
    spec = write_spec(
        tmp_path / "jobs.yaml",
        inputs=str(tmp_path / "data" / "*.csv"),
        output=tmp_path / "out",
        ssh=ssh_cluster.section(transfer="shared"),
        python="tests.procs:sleep_then_identity",
        params={"seconds": 0.2},
        chunk_bytes="1KiB",
    )
    victim = ssh_cluster.hosts[1]
    events: dict[str, Any] = {}

    def kill_then_restart() -> None:
        watcher = open_store(pg_url)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                jobs = watcher.list_jobs()
                if jobs and workers_of(watcher, jobs[0].id).get("h2/0", 0) >= 2:
                    break
                time.sleep(0.05)
            victim.kill()  # sshd, its sessions and its workers: the host is gone
            events["killed"] = time.monotonic()
            while time.monotonic() < deadline:
                if watcher.get_host("h2").state in (HostState.OFFLINE, HostState.ERROR):
                    break
                time.sleep(0.05)
            events["down_state"] = watcher.get_host("h2").state
            victim.start()  # it answers again: the coordinator reconnects
            events["restarted"] = time.monotonic()
        finally:
            watcher.close()

    store = open_store(pg_url)
    try:
        killer = threading.Thread(target=kill_then_restart)
        killer.start()
        job_id, state = run_spec(store, spec)
        killer.join(timeout=60)
        assert state == JobState.SUCCEEDED
        assert events["down_state"] in (HostState.OFFLINE, HostState.ERROR)
        table, _ = read_output(tmp_path / "out")
        ids = table.column("id").to_pylist()
        assert len(ids) == rows and len(set(ids)) == rows  # nothing lost or duplicated
        lost = [e for e in store.list_events(job_id) if e.kind == "chunk_lost"]
        assert lost and all("h2/0" in str(e.detail.get("worker")) for e in lost)
        record = store.get_host("h2")
        assert record.state == HostState.ONLINE, record  # came back while the job ran
    finally:
        store.close()
    assert _remote_workers(ssh_cluster, "h2") == ""
    _assert_no_workers_left(ssh_cluster)


def test_stopped_remote_worker_loses_its_lease_and_is_killed(
    ssh_cluster: SshCluster, lite: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # on a loaded machine the stop can land before the worker's ready frame: such
    # a worker is silent after STARTUP_SILENCE_SECONDS (shortened here; the run is
    # in this process) and is killed by the pid its shell announced
    monkeypatch.setattr("orchestrator.dispatch.slots.STARTUP_SILENCE_SECONDS", 5.0)
    rows = write_csvs(tmp_path / "data", files=1, rows=300)
    host = ssh_cluster.hosts[0]
    spec = write_spec(
        tmp_path / "jobs.yaml",
        inputs=str(tmp_path / "data" / "*.csv"),
        output=tmp_path / "out",
        ssh=ssh_cluster.section([host], transfer="shared"),
        local_workers=None,
        python="tests.procs:sleep_then_identity",
        params={"seconds": 0.3},
        timeouts={"lease": "3s", "heartbeat": "1s"},  # chunk timeout: the default 30 min
    )
    stopped: list[int] = []

    def stop_the_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not stopped:
            pids = pids_in(host.workdir)
            if pids:
                time.sleep(0.5)  # mid-chunk
                os.kill(pids[0], signal.SIGSTOP)
                stopped.append(pids[0])
            time.sleep(0.05)

    thread = threading.Thread(target=stop_the_worker)
    thread.start()
    job_id, state = run_spec(lite, spec)
    thread.join(timeout=60)
    assert stopped and state == JobState.SUCCEEDED
    table, _ = read_output(tmp_path / "out")
    assert sorted(table.column("id").to_pylist()) == list(range(rows))
    # its heartbeats stopped, so its chunk's lease was not renewed and went elsewhere
    kinds = {e.kind for e in lite.list_events(job_id)}
    assert kinds & {"chunk_reaped", "chunk_lost"}, kinds
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{stopped[0]}"):
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{stopped[0]}")  # SIGKILLed over a fresh channel
    _assert_no_workers_left(ssh_cluster)


def test_broken_host_and_drained_host_are_skipped(
    ssh_cluster: SshCluster, lite: Store, tmp_path: Path
) -> None:
    _, h2, h3 = ssh_cluster.hosts
    h2.overrides = {"python": "/nonexistent/python3"}
    lite.add_host(host_from_dict({**h3.entry(), "identity_file": str(ssh_cluster.user_key)}))
    lite.set_host_state("h3", HostState.MAINTENANCE, reason="drained by ops")
    rows = write_csvs(tmp_path / "data", files=2, rows=300)
    spec = write_spec(
        tmp_path / "jobs.yaml",
        inputs=str(tmp_path / "data" / "*.csv"),
        output=tmp_path / "out",
        ssh=ssh_cluster.section(),
        local_workers=None,
        # chunks that take a moment, so the run outlasts h2's failing worker start
        python="tests.procs:sleep_then_identity",
        params={"seconds": 0.2},
    )
    job_id, state = run_spec(lite, spec)
    assert state == JobState.SUCCEEDED
    assert read_output(tmp_path / "out")[0].num_rows == rows
    assert set(workers_of(lite, job_id)) == {"h1/0"}
    broken = lite.get_host("h2")
    assert broken.state == HostState.ERROR
    assert "status 127" in (broken.state_reason or "") and "nonexistent" in (
        broken.state_reason or ""
    )
    assert lite.get_host("h3").state == HostState.MAINTENANCE  # never overridden by a run
    h1_record = lite.get_host("h1")
    assert h1_record.state == HostState.ONLINE and h1_record.successes == len(
        read_output(tmp_path / "out")[1]
    )
    assert h1_record.cpu is not None and h1_record.load is not None and h1_record.mem is not None
    assert not pids_in(h3.workdir)


def test_an_ssh_workers_attempt_logs_reach_the_store(
    ssh_cluster: SshCluster, lite: Store, tmp_path: Path
) -> None:
    import yaml

    write_csvs(tmp_path / "data", files=1)
    spec = write_spec(
        tmp_path / "remote.yaml",
        inputs=str(tmp_path / "data" / "*.csv"),
        output=tmp_path / "out",
        ssh=ssh_cluster.section(ssh_cluster.hosts[:1]),
        local_workers=None,
        python="tests.procs:flaky_chatter",
        params={"seq": 1},
    )
    doc = yaml.safe_load(spec.read_text())
    doc["jobs"][0]["retries"] = {"max_attempts": 3, "backoff": {"base": "0s"}}
    spec.write_text(yaml.safe_dump(doc))
    job_id, state = run_spec(lite, spec)
    assert state == JobState.SUCCEEDED
    first, second = lite.attempt_logs(job_id, seq=1)
    assert (first.attempt, first.outcome, second.attempt, second.outcome) == (
        1,
        "failed",
        2,
        "succeeded",
    )
    assert "print of attempt 1" in first.output
    assert "WARNING logger line of attempt 1" in first.output
    assert first.traceback is not None and "in _deep_failure" in first.traceback
    assert "print of attempt 2" in second.output
    assert first.worker is not None and first.worker.startswith("h1")
