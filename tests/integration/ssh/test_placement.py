"""Where chunks run on real sshd hosts, and runs that cannot place them end instead
of waiting forever: host key trust through `jobctl run`/`resume`, requirements,
every host down, and what `jobctl hosts list` shows while a run works."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.dispatch.placement import UNPLACEABLE_EVENT
from orchestrator.states import ChunkState, JobState
from orchestrator.store import open_store
from orchestrator.store.base import Store
from tests.acceptance.cli import jobctl, jobctl_popen
from tests.integration.ssh.conftest import SshCluster, pids_in
from tests.integration.ssh.jobs import read_output, run_spec, workers_of, write_csvs, write_spec
from tests.integration.ssh.test_hosts_cli import env_for
from tests.integration.ssh.test_trust import a_changed_key, accepted_logins, ssh_fingerprint


@pytest.fixture
def lite(sqlite_url: str) -> Any:
    store = open_store(sqlite_url)
    yield store
    store.close()


def spec_on(cluster: SshCluster, tmp_path: Path, hosts: Any, **options: Any) -> Path:
    """A job of CSV chunks on ``hosts`` only (no local slots)."""
    params = options.pop("params", None)
    local_workers = options.pop("local_workers", None)
    return write_spec(
        tmp_path / "jobs.yaml",
        inputs=str(tmp_path / "data" / "*.csv"),
        output=tmp_path / "out",
        ssh=cluster.section(hosts, **options),
        local_workers=local_workers,
        python="tests.procs:sleep_then_identity" if params else "tests.procs:identity",
        params=params,
    )


# -- gap 1: --accept-new-host-keys on run and resume ------------------------------------


def test_run_refuses_an_unknown_key_until_resumed_with_accept_new(
    ssh_cluster: SshCluster, sqlite_url: str, tmp_path: Path
) -> None:
    h1, h2, _ = ssh_cluster.hosts
    ssh_cluster.write_known_hosts([h2])  # h1's key is not on record
    rows = write_csvs(tmp_path / "data", files=1, rows=200)
    spec = spec_on(ssh_cluster, tmp_path, [h1])
    env = env_for(ssh_cluster, tmp_path, sqlite_url)
    started = time.monotonic()
    refused = jobctl("run", str(spec), "--json", env=env, timeout=120)
    assert refused.returncode == 1, refused.stderr
    assert time.monotonic() - started < 60  # at once, not after the unreachable wait
    [doc] = json.loads(refused.stdout)
    assert doc["state"] == "failed" and doc["chunks"]["succeeded"] == 0
    assert ssh_fingerprint(h1) in doc["error"] and "unknown" in doc["error"]
    assert "--accept-new-host-keys" in doc["error"]
    assert accepted_logins(h1) == 0 and not list(h1.workdir.iterdir())
    assert ssh_cluster.known_hosts.read_text() == h2.known_hosts_line + "\n"

    resumed = jobctl("resume", str(doc["id"]), "--accept-new-host-keys", "--json", env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads(resumed.stdout)[0]["state"] == "succeeded"
    assert read_output(tmp_path / "out")[0].num_rows == rows
    lines = ssh_cluster.known_hosts.read_text().splitlines()
    assert lines == [h2.known_hosts_line, h1.known_hosts_line]  # recorded once, then trusted


def test_run_refuses_a_changed_key_even_with_accept_new(
    ssh_cluster: SshCluster, sqlite_url: str, tmp_path: Path
) -> None:
    h1 = ssh_cluster.hosts[0]
    changed = a_changed_key(tmp_path, h1)
    ssh_cluster.known_hosts.write_text(changed + "\n")
    write_csvs(tmp_path / "data", files=1, rows=50)
    spec = spec_on(ssh_cluster, tmp_path, [h1])
    env = env_for(ssh_cluster, tmp_path, sqlite_url)
    result = jobctl("run", str(spec), "--accept-new-host-keys", env=env, timeout=120)
    assert result.returncode == 1, result.stderr
    assert ssh_fingerprint(h1) in result.stdout and "does not match" in result.stdout
    assert ssh_cluster.known_hosts.read_text() == changed + "\n"
    assert accepted_logins(h1) == 0


# -- gap 2: requirements choose the hosts --------------------------------------------------


def test_required_labels_choose_the_hosts(
    ssh_cluster: SshCluster, lite: Store, tmp_path: Path
) -> None:
    h1, _, h3 = ssh_cluster.hosts
    h1.overrides = {"labels": ["gpu"], "slots": 2}
    h3.overrides = {"labels": ["gpu", "ssd"]}
    rows = write_csvs(tmp_path / "data", files=2, rows=300)
    spec = spec_on(
        ssh_cluster,
        tmp_path,
        None,
        requires={"labels": ["gpu"]},
        prefers={"labels": ["ssd"]},
        local_workers=1,  # localhost has no gpu label: it takes nothing
        params={"seconds": 0.05},
    )
    job_id, state = run_spec(lite, spec)
    assert state == JobState.SUCCEEDED
    table, parts = read_output(tmp_path / "out")
    assert sorted(table.column("id").to_pylist()) == sorted(
        i * 100_000 + n for i in range(2) for n in range(300)
    )
    assert table.num_rows == rows
    workers = workers_of(lite, job_id)
    assert set(workers) == {"h1/0", "h1/1", "h3/0"}, workers
    assert sum(workers.values()) == len(parts)


def test_a_requirement_no_host_meets_fails_at_once(
    ssh_cluster: SshCluster, lite: Store, tmp_path: Path
) -> None:
    write_csvs(tmp_path / "data", files=1, rows=100)
    spec = spec_on(ssh_cluster, tmp_path, None, requires={"pool": "big", "memory": "1GiB"})
    started = time.monotonic()
    job_id, state = run_spec(lite, spec)
    assert state == JobState.FAILED
    assert time.monotonic() - started < 30
    error = lite.get_job(job_id).error or ""
    assert "executor.ssh.requires: pool big, memory 1.0 GiB" in error
    for name in ("h1", "h2", "h3"):
        assert f"{name}: pool default, not big" in error
    assert workers_of(lite, job_id) == {}
    assert lite.job_progress(job_id).chunks.get(ChunkState.PENDING, 0) > 0  # kept for resume
    assert [e.kind for e in lite.list_events(job_id)].count(UNPLACEABLE_EVENT) == 1


# -- gap 3: every host down ----------------------------------------------------------------


def test_every_host_down_at_start_ends_the_run_then_resume_goes_on(
    ssh_cluster: SshCluster, sqlite_url: str, tmp_path: Path
) -> None:
    h1, h2, _ = ssh_cluster.hosts
    rows = write_csvs(tmp_path / "data", files=1, rows=200)
    spec = spec_on(ssh_cluster, tmp_path, [h1, h2], unreachable_timeout="2s")
    h1.kill()
    h2.kill()
    env = env_for(ssh_cluster, tmp_path, sqlite_url)
    started = time.monotonic()
    result = jobctl("run", str(spec), "--json", env=env, timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert 2 <= elapsed < 60
    [doc] = json.loads(result.stdout)
    assert doc["state"] == "failed"
    assert "for 2s (executor.ssh.unreachable_timeout)" in doc["error"]
    assert "h1: cannot reach host h1" in doc["error"] and "h2: cannot reach host h2" in doc["error"]
    hosts = {
        h["name"]: h["state"] for h in json.loads(jobctl("hosts", "list", "--json", env=env).stdout)
    }
    assert hosts == {"h1": "offline", "h2": "offline"}

    h1.start()
    h2.start()
    resumed = jobctl("resume", str(doc["id"]), "--json", env=env, timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert read_output(tmp_path / "out")[0].num_rows == rows


def test_hosts_that_die_mid_run_and_stay_down_end_the_job(
    ssh_cluster: SshCluster, pg_url: str, tmp_path: Path
) -> None:
    hosts = ssh_cluster.hosts[:2]
    rows = write_csvs(tmp_path / "data", files=2, rows=600)
    spec = spec_on(ssh_cluster, tmp_path, hosts, unreachable_timeout="3s", params={"seconds": 0.1})
    killed: list[float] = []

    def kill_both() -> None:
        watcher = open_store(pg_url)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                jobs = watcher.list_jobs()
                if jobs and sum(workers_of(watcher, jobs[0].id).values()) >= 3:
                    break
                time.sleep(0.05)
            for host in hosts:
                host.kill()
            killed.append(time.monotonic())
        finally:
            watcher.close()

    store = open_store(pg_url)
    try:
        killer = threading.Thread(target=kill_both)
        killer.start()
        job_id, state = run_spec(store, spec)
        ended = time.monotonic()
        killer.join(timeout=60)
        assert state == JobState.FAILED and killed
        assert ended - killed[0] < 45  # the 3s bound, plus noticing the loss
        record = store.get_job(job_id)
        assert "(executor.ssh.unreachable_timeout)" in (record.error or "")
        progress = store.job_progress(job_id)
        assert progress.chunks.get(ChunkState.SUCCEEDED, 0) >= 3
        assert progress.chunks.get(ChunkState.PENDING, 0) > 0
        assert not progress.chunks.get(ChunkState.DEAD)  # host loss is not the chunks' fault

        for host in hosts:
            host.start()
        final = run_spec_resume(store, job_id)
        assert final == JobState.SUCCEEDED
    finally:
        store.close()
    ids = read_output(tmp_path / "out")[0].column("id").to_pylist()
    assert len(ids) == rows and len(set(ids)) == rows  # nothing lost or duplicated
    assert not any(pids_in(h.workdir) for h in hosts)


def run_spec_resume(store: Store, job_id: int) -> JobState:
    from orchestrator.dispatch.entry import run_jobs
    from orchestrator.dispatch.options import RunOptions

    final = run_jobs(store, [job_id], RunOptions(resume=True, install_signal_handlers=False))
    return final[job_id]


# -- gap 4: hosts list while a run works ---------------------------------------------------


def test_hosts_list_shows_a_run_at_work(
    ssh_cluster: SshCluster, sqlite_url: str, tmp_path: Path
) -> None:
    h1, h2, _ = ssh_cluster.hosts
    write_csvs(tmp_path / "data", files=3, rows=800)  # ~50 chunks: 12s, two reports a host
    spec = spec_on(ssh_cluster, tmp_path, [h1, h2], params={"seconds": 0.5})
    env = env_for(ssh_cluster, tmp_path, sqlite_url)
    run = jobctl_popen("run", str(spec), "--json", env=env)
    seen: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and run.poll() is None:
            listed = jobctl("hosts", "list", "--json", env=env)
            docs = json.loads(listed.stdout) if listed.returncode == 0 else []
            busy = [d for d in docs if d["state"] == "busy"]
            if busy and all(d["cpu"] is not None for d in busy):
                seen = busy[0]
                text = jobctl("hosts", "list", env=env).stdout
                break
            time.sleep(0.5)
        assert seen, "no host was ever shown busy with figures"
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, err
    assert seen["slots_in_use"] == seen["slots"] == 1
    assert 0 <= seen["cpu"] <= 1 and seen["mem"] is not None and seen["load"] is not None
    assert seen["last_heartbeat"] and seen["success_rate"] in (None, 1.0)
    # one line per host: name, address, state, busy/slots, cpu, mem, load, heartbeat, ok
    shown = r"^h[12]\s+127\.0\.0\.1:\d+\s+(busy|online)\s+[01]/1\s+(\d+%\s+){3}"
    shown += r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(\d+%|-)"
    rows = [line for line in text.splitlines() if re.match(shown, line)]
    assert any(line.startswith(seen["name"]) for line in rows), text  # the busy one, in full
    listed_hosts = {line.split()[0] for line in text.splitlines() if re.match(r"^h[12]\s", line)}
    assert listed_hosts == {"h1", "h2"}, text  # the other may not have reported figures yet
    after = {d["name"]: d for d in json.loads(jobctl("hosts", "list", "--json", env=env).stdout)}
    assert {d["state"] for d in after.values()} == {"online"}
    assert all(d["slots_in_use"] == 0 and d["success_rate"] == 1.0 for d in after.values())
    total = json.loads(out)[0]["chunks_total"]
    assert sum(d["successes"] for d in after.values()) == total
