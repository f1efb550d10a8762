"""Real OpenSSH servers on 127.0.0.1 for the SSH executor's tests.

``ssh_cluster`` starts several ``/usr/sbin/sshd -D -e -f CONFIG``, each on a
free port with its own host key, all accepting one test user key for root
(``AuthorizedKeysFile`` in the temp dir, ``StrictModes no``, no PAM). A
``known_hosts`` file in the temp dir lists their keys. ``HOME`` points at a
temp dir so the user's own ``~/.ssh`` is neither read nor written.

The "hosts" are this machine, so shared storage is a given and the remote
python is this test run's interpreter (``sys.executable``); ``PYTHONPATH``
reaches the remote worker through the inventory's ``env:`` (quoted into the
remote command). Each host has its own workdir, so a host's worker processes
are found by their working directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.ports import free_port

REPO = Path(__file__).resolve().parents[3]
SSHD = "/usr/sbin/sshd"


def keygen(path: Path) -> str:
    """A new ed25519 key pair at ``path``; returns the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path.with_suffix(".pub").read_text().strip()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def pids_in(directory: Path) -> list[int]:
    """Processes whose working directory is ``directory`` (a host's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/cwd") == str(directory):
                    found.append(int(entry))
    return found


@dataclass
class SshHost:
    """One sshd: a "host" with its own port, host key and workdir."""

    name: str
    root: Path
    port: int
    authorized_keys: Path
    public_key: str = ""
    proc: subprocess.Popen[bytes] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def workdir(self) -> Path:
        return self.root / "work"

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.public_key}"

    def setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(exist_ok=True)
        key = self.root / "ssh_host_ed25519_key"
        if not key.exists():
            self.public_key = " ".join(keygen(key).split()[:2])
        config = self.root / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {key}",
                    f"PidFile {self.root / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    "StrictModes no",
                    "PermitRootLogin yes",
                    "UsePAM no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "MaxSessions 64",
                    "MaxStartups 64",
                    "LogLevel INFO",
                    "Subsystem sftp internal-sftp",
                    # sessions run the login user's shell rc files; on machines
                    # whose ~/.bashrc runs `pyenv init -`, a session SIGKILLed by
                    # a test mid-`pyenv rehash` leaves its lock behind and every
                    # later login would wait pyenv's default 60 s for it
                    "SetEnv PYENV_REHASH_TIMEOUT=1",
                    "",
                ]
            )
        )

    def start(self) -> None:
        """Start sshd and wait until it accepts connections."""
        log = open(self.root / "sshd.log", "ab")  # noqa: SIM115 - kept by the process
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.root / "sshd_config")],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log_text = (self.root / "sshd.log").read_text()
                raise RuntimeError(f"sshd {self.name} exited: {log_text}")
            address = ("127.0.0.1", self.port)
            with contextlib.suppress(OSError), socket.create_connection(address, 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError(f"sshd {self.name} did not listen on {self.port}")

    def kill(self) -> None:
        """The host dies: sshd, its sessions and the workers they run, all SIGKILLed."""
        if self.proc is None:
            return
        victims = [self.proc.pid, *descendants(self.proc.pid)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def entry(self, **changes: Any) -> dict[str, Any]:
        """This host as an inventory entry."""
        entry: dict[str, Any] = {
            "name": self.name,
            "address": "127.0.0.1",
            "port": self.port,
            "user": "root",
            "python": sys.executable,
            "workdir": str(self.workdir),
            "slots": 1,
            "env": {"PYTHONPATH": str(REPO)},
        }
        entry.update(self.overrides)
        entry.update(changes)
        return entry


@dataclass
class SshCluster:
    hosts: list[SshHost]
    user_key: Path
    known_hosts: Path
    home: Path

    def write_known_hosts(self, hosts: list[SshHost] | None = None) -> None:
        lines = [h.known_hosts_line for h in (self.hosts if hosts is None else hosts)]
        self.known_hosts.write_text("".join(f"{line}\n" for line in lines))

    def section(self, hosts: list[SshHost] | None = None, **extra: Any) -> dict[str, Any]:
        """An ``executor.ssh`` section naming ``hosts`` (all by default)."""
        return {
            "known_hosts": str(self.known_hosts),
            "identity_file": str(self.user_key),
            "hosts": [h.entry() for h in (self.hosts if hosts is None else hosts)],
            **extra,
        }

    def workers(self) -> dict[str, list[int]]:
        """Worker processes still running, per host (by working directory)."""
        return {h.name: pids_in(h.workdir) for h in self.hosts}


def _make_cluster(root: Path, count: int) -> SshCluster:
    if not os.path.exists(SSHD):
        pytest.fail(f"{SSHD} is missing: install openssh-server (scripts/test does)")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    home = root / "home"
    (home / ".ssh").mkdir(parents=True)
    user_key = root / "id_ed25519"
    authorized = root / "authorized_keys"
    authorized.write_text(keygen(user_key) + "\n")
    hosts = [
        SshHost(f"h{i + 1}", root / f"h{i + 1}", free_port(), authorized) for i in range(count)
    ]
    for host in hosts:
        host.setup()
        host.start()
    cluster = SshCluster(hosts, user_key, root / "known_hosts", home)
    cluster.write_known_hosts()
    return cluster


@pytest.fixture
def ssh_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SshCluster]:
    """Three sshd hosts (h1..h3), trusted through ``cluster.known_hosts``."""
    cluster = _make_cluster(tmp_path / "ssh", 3)
    monkeypatch.setenv("HOME", str(cluster.home))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    try:
        yield cluster
    finally:
        for host in cluster.hosts:
            host.kill()
