"""`jobctl hosts ...` and `jobctl run` on sshd hosts, as a user types them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.acceptance.cli import cli_env, jobctl
from tests.integration.ssh.conftest import SshCluster
from tests.integration.ssh.jobs import read_output, write_csvs, write_spec

#: wheels survive test runs: the first bootstrap downloads, later ones are quick
WHEEL_CACHE = Path(os.environ.get("JOBCTL_TEST_WHEEL_CACHE", "/tmp/jobctl-test-wheel-cache"))


def env_for(cluster: SshCluster, tmp_path: Path, db_url: str) -> dict[str, str]:
    env = cli_env(tmp_path, db_url)
    env["HOME"] = str(cluster.home)
    env["XDG_CACHE_HOME"] = str(WHEEL_CACHE)
    env.pop("SSH_AUTH_SOCK", None)
    return env


def test_registry_commands(ssh_cluster: SshCluster, sqlite_url: str, tmp_path: Path) -> None:
    env = env_for(ssh_cluster, tmp_path, sqlite_url)
    h1 = ssh_cluster.hosts[0]
    add = [
        "hosts", "add", "h1", "--address", "127.0.0.1", "--port", str(h1.port),
        "--user", "root", "--identity-file", str(ssh_cluster.user_key),
        "--python", sys.executable, "--workdir", str(h1.workdir), "--slots", "2",
        "--label", "gpu", "--env", f"PYTHONPATH={Path(__file__).resolve().parents[3]}",
    ]  # fmt: skip
    assert jobctl(*add, env=env).returncode == 0
    again = jobctl(*add, env=env)
    assert again.returncode == 2 and "--replace" in again.stdout
    [doc] = json.loads(jobctl("hosts", "list", "--json", env=env).stdout)
    assert doc["name"] == "h1" and doc["port"] == h1.port and doc["slots"] == 2
    assert doc["labels"] == ["gpu"] and doc["state"] == "unknown"
    assert doc["success_rate"] is None and doc["slots_in_use"] == 0
    check = jobctl("hosts", "check", "h1", "--known-hosts", str(ssh_cluster.known_hosts), env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "h1 (root@127.0.0.1" in check.stdout and "ok" in check.stdout
    drained = json.loads(jobctl("hosts", "drain", "h1", "--json", env=env).stdout)
    assert drained["state"] == "maintenance" and drained["changed"] is True
    enabled = json.loads(jobctl("hosts", "enable", "h1", "--json", env=env).stdout)
    assert enabled["state"] == "unknown"
    assert jobctl("hosts", "check", "nope", env=env).returncode == 2
    assert json.loads(jobctl("hosts", "remove", "h1", "--json", env=env).stdout)["removed"]
    assert json.loads(jobctl("hosts", "list", "--json", env=env).stdout) == []


def test_check_reports_each_host_of_a_spec(
    ssh_cluster: SshCluster, sqlite_url: str, tmp_path: Path
) -> None:
    _, h2, h3 = ssh_cluster.hosts
    h2.overrides = {"python": "/nonexistent/python3"}
    fresh = tmp_path / "fresh workdir ü"
    h3.overrides = {"workdir": str(fresh)}
    write_csvs(tmp_path / "data", files=2, rows=10)
    spec = write_spec(
        tmp_path / "jobs.yaml",
        inputs=str(tmp_path / "data" / "*.csv"),
        output=tmp_path / "out",
        ssh=ssh_cluster.section(),
    )
    env = env_for(ssh_cluster, tmp_path, sqlite_url)
    result = jobctl("hosts", "check", "--spec", str(spec), "--json", env=env)
    assert result.returncode == 1, result.stderr
    by_host = {doc["host"]: doc for doc in json.loads(result.stdout)}
    good = by_host["h1"]
    assert good["ok"] and good["reachable"] and good["auth_ok"] and good["version_match"]
    assert good["python"].startswith("3.") and good["pyarrow"] and good["free_bytes"] > 0
    assert good["shared"] and len(good["paths"]) == 3  # two inputs and the output folder
    bad = by_host["h2"]
    assert bad["reachable"] and bad["auth_ok"] and not bad["ok"]
    assert "/nonexistent/python3" in bad["errors"][0] and "127" in bad["errors"][0]
    assert by_host["h3"]["ok"] and fresh.is_dir()
    text = jobctl("hosts", "check", "--spec", str(spec), "h1", env=env)
    assert text.returncode == 0 and "h2" not in text.stdout


def test_run_on_hosts_from_the_command_line(
    ssh_cluster: SshCluster, sqlite_url: str, tmp_path: Path
) -> None:
    rows = write_csvs(tmp_path / "data", files=2, rows=300)
    spec = write_spec(
        tmp_path / "jobs.yaml",
        inputs=str(tmp_path / "data" / "*.csv"),
        output=tmp_path / "out",
        ssh=ssh_cluster.section(transfer="push"),
        local_workers=None,
    )
    env = env_for(ssh_cluster, tmp_path, sqlite_url)
    result = jobctl("run", str(spec), "--json", env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    table, _ = read_output(tmp_path / "out")
    assert table.num_rows == rows
    hosts = json.loads(jobctl("hosts", "list", "--json", env=env).stdout)
    assert [(h["name"], h["state"]) for h in hosts] == [(n, "online") for n in ("h1", "h2", "h3")]
    assert sum(h["successes"] for h in hosts) == json.loads(result.stdout)[0]["chunks_total"]
    assert all(h["last_heartbeat"] for h in hosts)
    assert ssh_cluster.workers() == {"h1": [], "h2": [], "h3": []}


@pytest.mark.slow
def test_bootstrap_a_fresh_workdir_then_run_there(
    ssh_cluster: SshCluster, sqlite_url: str, tmp_path: Path
) -> None:
    host = ssh_cluster.hosts[0]
    host.overrides = {"workdir": str(tmp_path / "fresh"), "env": {}}
    spec = write_spec(
        tmp_path / "jobs.yaml",
        inputs=str(tmp_path / "data" / "*.csv"),
        output=tmp_path / "out",
        ssh=ssh_cluster.section([host], transfer="push"),
        local_workers=None,
        python="tests.procs:identity",
    )
    env = env_for(ssh_cluster, tmp_path, sqlite_url)
    result = jobctl("hosts", "bootstrap", "--spec", str(spec), "--json", env=env, timeout=900)
    assert result.returncode == 0, result.stderr
    [done] = json.loads(result.stdout)
    venv_python = tmp_path / "fresh" / f"venv-{done['version']}" / "bin" / "python"
    assert done["python"] == str(venv_python) and venv_python.exists()
    assert (tmp_path / "fresh" / "wheelhouse").is_dir() and done["wheels"] > 10
    # the new venv serves chunks: a built-in job type, nothing from this checkout
    rows = write_csvs(tmp_path / "data", files=1, rows=200)
    host.overrides["python"] = str(venv_python)
    spec = write_spec(
        tmp_path / "jobs.yaml",
        inputs=str(tmp_path / "data" / "*.csv"),
        output=tmp_path / "out",
        ssh=ssh_cluster.section([host], transfer="push"),
        local_workers=None,
        python="orchestrator.processors.convert:convert",
    )
    check = jobctl("hosts", "check", "--spec", str(spec), "--json", env=env)
    assert json.loads(check.stdout)[0]["version_match"], check.stdout
    result = jobctl("run", str(spec), env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert read_output(tmp_path / "out")[0].num_rows == rows
