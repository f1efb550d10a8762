"""`jobctl serve` on SSH hosts: the hosts of --hosts, and a host added while it serves."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import yaml

from orchestrator.store import open_store
from tests.acceptance.cli import jobctl, jobctl_popen
from tests.acceptance.test_serve import states, submit, wait_for
from tests.integration.ssh.conftest import REPO, SshCluster
from tests.integration.ssh.jobs import workers_of
from tests.integration.ssh.test_hosts_cli import env_for


def test_serve_uses_its_hosts_file_and_hosts_added_while_serving(
    ssh_cluster: SshCluster, pg_url: str, tmp_path: Path
) -> None:
    h1, h2, _ = ssh_cluster.hosts
    env = env_for(ssh_cluster, tmp_path, pg_url)
    # hosts registered with `hosts add` are checked against ~/.ssh/known_hosts
    (ssh_cluster.home / ".ssh" / "known_hosts").write_text(h2.known_hosts_line + "\n")
    hosts_file = tmp_path / "hosts.yaml"
    hosts_file.write_text(
        yaml.safe_dump(
            {
                "known_hosts": str(ssh_cluster.known_hosts),
                "identity_file": str(ssh_cluster.user_key),
                "hosts": [h1.entry()],
            }
        )
    )
    log = tmp_path / "started.log"
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        "version: 1\njobs:\n  - name: remote\n    python: tests.procs:log_start\n"
        f"    params: {{log: '{log}', seconds: 0.3}}\n    input: {{sequence: 30}}\n"
    )
    serve = jobctl_popen(
        "serve", "--workers", "0", "--hosts", str(hosts_file), env=env, cwd=tmp_path
    )
    store = open_store(pg_url)
    try:
        [job_id] = submit(spec, env, tmp_path)
        wait_for(lambda: store.job_progress(job_id).done >= 3, 60, "chunks done on h1")
        add = [
            "hosts", "add", "h2", "--address", "127.0.0.1", "--port", str(h2.port),
            "--user", "root", "--identity-file", str(ssh_cluster.user_key),
            "--python", sys.executable, "--workdir", str(h2.workdir),
            "--env", f"PYTHONPATH={REPO}",
        ]  # fmt: skip
        assert jobctl(*add, env=env).returncode == 0
        wait_for(lambda: states(store, [job_id])[job_id] == "succeeded", 120, "the job")
        by_worker = workers_of(store, job_id)
        hosts = {name.split("/")[0] for name in by_worker}
        assert hosts == {"h1", "h2"}, by_worker  # h2 joined without a restart
        assert sum(by_worker.values()) == 30
        assert {r.name for r in store.list_hosts()} == {"h1", "h2"}  # --hosts registered h1
    finally:
        serve.send_signal(signal.SIGTERM)
        _out, err = serve.communicate(timeout=60)
        store.close()
    assert serve.returncode == 0, err
    assert sorted(int(line.split()[1]) for line in log.read_text().splitlines()) == list(range(30))
