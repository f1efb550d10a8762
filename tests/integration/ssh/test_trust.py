"""Host key trust against real sshd: unknown and changed keys are refused with
their fingerprint before anything runs; --accept-new-host-keys records only
keys of hosts that have none on record."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import HostKeyRejected
from orchestrator.executors.base import SlotUnavailable
from orchestrator.executors.ssh.connect import connect
from orchestrator.executors.ssh.inventory import build_remote_slots, close_remote_slots
from orchestrator.spec.ssh import HostSpec, host_from_dict
from orchestrator.states import JobState
from orchestrator.store import open_store
from tests.integration.ssh.conftest import SshCluster, SshHost, keygen
from tests.integration.ssh.jobs import run_spec, workers_of, write_csvs, write_spec


def ssh_fingerprint(host: SshHost) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(host.root / "ssh_host_ed25519_key.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()[1]


def accepted_logins(host: SshHost) -> int:
    """Successful authentications in the host's sshd log (0: nothing could run)."""
    return (host.root / "sshd.log").read_text().count("Accepted publickey")


def spec_of(cluster: SshCluster, host: SshHost) -> HostSpec:
    return host_from_dict({**host.entry(), "identity_file": str(cluster.user_key)})


def a_changed_key(tmp_path: Path, host: SshHost) -> str:
    """A known_hosts line recording another key for ``host`` (a reinstall, or an attack)."""
    other = keygen(tmp_path / f"other-{host.name}")
    return f"[127.0.0.1]:{host.port} {' '.join(other.split()[:2])}"


def test_unknown_key_is_refused_with_its_fingerprint(ssh_cluster: SshCluster) -> None:
    h1, h2, _ = ssh_cluster.hosts
    ssh_cluster.write_known_hosts([h2])
    with pytest.raises(HostKeyRejected) as caught:
        connect(spec_of(ssh_cluster, h1), known_hosts=str(ssh_cluster.known_hosts))
    message = str(caught.value)
    assert ssh_fingerprint(h1) in message and "unknown" in message
    assert "--accept-new-host-keys" in message
    assert accepted_logins(h1) == 0
    connect(spec_of(ssh_cluster, h2), known_hosts=str(ssh_cluster.known_hosts)).close()
    assert accepted_logins(h2) == 1


def test_changed_key_is_refused_even_with_accept_new(
    ssh_cluster: SshCluster, tmp_path: Path
) -> None:
    h1 = ssh_cluster.hosts[0]
    changed = a_changed_key(tmp_path, h1)
    ssh_cluster.known_hosts.write_text(changed + "\n")
    for accept_new in (False, True):
        with pytest.raises(HostKeyRejected) as caught:
            connect(
                spec_of(ssh_cluster, h1),
                known_hosts=str(ssh_cluster.known_hosts),
                accept_new_host_keys=accept_new,
            )
        assert ssh_fingerprint(h1) in str(caught.value)
        assert "does not match" in str(caught.value)
    assert ssh_cluster.known_hosts.read_text() == changed + "\n"
    assert accepted_logins(h1) == 0


def test_accept_new_records_only_the_unknown_key(ssh_cluster: SshCluster, tmp_path: Path) -> None:
    h1, h2, h3 = ssh_cluster.hosts
    changed = a_changed_key(tmp_path, h3)
    ssh_cluster.known_hosts.write_text(f"{h2.known_hosts_line}\n{changed}\n")
    slots = build_remote_slots(ssh_cluster.section(), accept_new_host_keys=True)
    try:
        by_host = {slot.host: slot for slot in slots}
        by_host["h1"].start()  # unknown: accepted and recorded
        by_host["h2"].start()  # known: fine
        with pytest.raises(SlotUnavailable, match=re.escape(ssh_fingerprint(h3))):
            by_host["h3"].start()  # changed: never accepted
    finally:
        close_remote_slots(slots)
    lines = ssh_cluster.known_hosts.read_text().splitlines()
    assert lines == [h2.known_hosts_line, changed, h1.known_hosts_line]
    assert accepted_logins(h3) == 0
    # now recorded: trusted without the opt-in
    connect(spec_of(ssh_cluster, h1), known_hosts=str(ssh_cluster.known_hosts)).close()


def test_job_runs_without_a_refused_host_and_nothing_runs_there(
    ssh_cluster: SshCluster, sqlite_url: str, tmp_path: Path
) -> None:
    h1, h2, _ = ssh_cluster.hosts
    ssh_cluster.known_hosts.write_text(f"{a_changed_key(tmp_path, h1)}\n{h2.known_hosts_line}\n")
    write_csvs(tmp_path / "data", files=2, rows=200)
    spec = write_spec(
        tmp_path / "jobs.yaml",
        inputs=str(tmp_path / "data" / "*.csv"),
        output=tmp_path / "out",
        ssh=ssh_cluster.section([h1, h2]),
    )
    store = open_store(sqlite_url)
    try:
        job_id, state = run_spec(store, spec)
        assert state == JobState.SUCCEEDED
        assert "h1/0" not in workers_of(store, job_id)
        record = store.get_host("h1")
        assert record.state.value == "error"
        assert ssh_fingerprint(h1) in (record.state_reason or "")
    finally:
        store.close()
    assert accepted_logins(h1) == 0
    assert not list(h1.workdir.iterdir())
