"""Reaching a host over SSH (paramiko): host key trust, authentication, one transport per host.

Trust is OpenSSH's: the host key must be in ``~/.ssh/known_hosts`` or the
inventory's ``known_hosts:`` file. An unknown key, or one that differs from a
recorded key, refuses the host with :class:`HostKeyRejected` *during the key
exchange*, before authentication, so nothing ever runs on an untrusted host.
``accept_new_host_keys`` (the ``--accept-new-host-keys`` opt-in, like
``StrictHostKeyChecking=accept-new``) records keys of hosts that have none on
record, never a key that replaces a recorded one.

Authentication uses the host's ``identity_file``, else the ssh-agent and the
default keys. Agent forwarding is never requested. ``~/.ssh/config`` supplies
HostName, Port, User and IdentityFile for aliases.

:class:`HostConnection` keeps one transport per host, shared by all of that
host's slots (one TCP connection, one handshake), reconnects lazily and, after
a failure, answers at once with the same error for a short backoff so a dead
host does not cost every slot a connect timeout.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import getpass
import hashlib
import os
import threading
import time
from dataclasses import dataclass

import paramiko

from orchestrator.errors import HostAuthFailed, HostKeyRejected, HostUnreachable, SshError
from orchestrator.spec.ssh import DEFAULT_CONNECT_TIMEOUT, USER_KNOWN_HOSTS, HostSpec

#: seconds between SSH keepalives on an idle transport (detects dead links)
KEEPALIVE_SECONDS = 5
#: a failed connect is answered from memory for this long, doubling to the max
CONNECT_BACKOFF_MIN = 0.5
CONNECT_BACKOFF_MAX = 15.0
USER_SSH_CONFIG = "~/.ssh/config"

_known_hosts_lock = threading.Lock()


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a public key (what ``ssh`` shows)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(hostname: str, port: int) -> str:
    """How known_hosts names a host: ``host`` on port 22, else ``[host]:port``."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect, after ``~/.ssh/config`` was applied."""

    name: str
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"


def resolve_endpoint(host: HostSpec) -> Endpoint:
    """Apply ``~/.ssh/config`` (HostName, Port, User, IdentityFile) to a host entry;
    values written in the inventory win."""
    config = paramiko.SSHConfig()
    path = os.path.expanduser(USER_SSH_CONFIG)
    if os.path.exists(path):
        try:
            config = paramiko.SSHConfig.from_path(path)
        except (OSError, paramiko.ssh_exception.ConfigParseError) as exc:
            raise SshError(f"cannot read {path}: {exc}") from None
    entry = config.lookup(host.address)
    port = host.port or int(entry.get("port", 22))
    user = host.user or entry.get("user") or getpass.getuser()
    if host.identity_file:
        identities: tuple[str, ...] = (os.path.expanduser(host.identity_file),)
    else:
        found: list[str] = list(entry.get("identityfile") or [])
        identities = tuple(
            os.path.expanduser(f) for f in found if os.path.exists(os.path.expanduser(f))
        )
    return Endpoint(host.name, entry.get("hostname", host.address), port, user, identities)


class _TrustPolicy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko for a host key that is not on record."""

    def __init__(
        self, endpoint: Endpoint, accept_new: bool, record_to: str, recorded: paramiko.HostKeys
    ) -> None:
        self.endpoint = endpoint
        self.accept_new = accept_new
        self.record_to = record_to
        self.recorded = recorded
        self.accepted: str | None = None

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        ep = self.endpoint
        fp = fingerprint(key)
        # A key of another type on record: the host changed its keys. Never
        # "accept new" here, that would let an attacker pick an unrecorded type.
        recorded = self.recorded.lookup(hostname)
        if recorded:
            types = ", ".join(sorted(recorded.keys()))
            raise HostKeyRejected(
                f"host {ep.name} ({ep.hostname}:{ep.port}) offered a {key.get_name()} key {fp}, "
                "but known_hosts "
                f"records a different key ({types}) for it: refused, nothing was run there. "
                "If the host was reinstalled, check the new fingerprint with its administrator "
                f"and replace the old line (ssh-keygen -R '{hostname}')."
            )
        if not self.accept_new:
            raise HostKeyRejected(
                f"host {ep.name} ({ep.hostname}:{ep.port}) offered an unknown {key.get_name()} "
                f"key {fp}: "
                "refused, nothing was run there. Check the fingerprint with the host's "
                f"administrator, then add it to {self.record_to} (ssh-keyscan) or pass "
                "--accept-new-host-keys."
            )
        append_known_host(self.record_to, hostname, key)
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.accepted = fp


def append_known_host(path: str, hostname: str, key: paramiko.PKey) -> None:
    """Add one ``host keytype base64`` line to a known_hosts file (created 0600)."""
    path = os.path.expanduser(path)
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        os.makedirs(folder, mode=0o700, exist_ok=True)
    line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
    with _known_hosts_lock:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def connect(
    host: HostSpec,
    *,
    known_hosts: str | None = None,
    accept_new_host_keys: bool = False,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> paramiko.SSHClient:
    """An authenticated client for ``host``, or an :class:`SshError` saying why not."""
    ep = resolve_endpoint(host)
    client = paramiko.SSHClient()
    user_file = os.path.expanduser(USER_KNOWN_HOSTS)
    extra = os.path.expanduser(known_hosts) if known_hosts else None
    recorded = paramiko.HostKeys()
    try:
        for path in (user_file, extra):
            if path and os.path.exists(path):
                client.load_system_host_keys(path)
                recorded.load(path)
    except (OSError, paramiko.SSHException) as exc:
        raise SshError(f"cannot read known_hosts: {exc}") from None
    policy = _TrustPolicy(ep, accept_new_host_keys, extra or user_file, recorded)
    client.set_missing_host_key_policy(policy)
    try:
        client.connect(
            hostname=ep.hostname,
            port=ep.port,
            username=ep.user,
            key_filename=list(ep.identity_files) or None,  # type: ignore[arg-type]
            allow_agent=True,
            look_for_keys=not ep.identity_files,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            channel_timeout=timeout,
        )
    except HostKeyRejected:
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyRejected(
            f"host {ep.name} ({ep.hostname}:{ep.port}) offered a {exc.key.get_name()} key "
            f"{fingerprint(exc.key)} that does not match the one in known_hosts "
            f"({fingerprint(exc.expected_key)}): refused, nothing was run there. This may be "
            "an attack; if the host was reinstalled, check the new fingerprint and replace "
            f"the old line (ssh-keygen -R '{known_hosts_name(ep.hostname, ep.port)}')."
        ) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        tried = (
            f"identity file {ep.identity_files[0]}"
            if ep.identity_files
            else "agent and default keys"
        )
        raise HostAuthFailed(
            f"host {ep.name}: {ep} refused authentication ({tried}): {exc}"
        ) from None
    except (OSError, EOFError, paramiko.SSHException) as exc:
        client.close()
        reason = str(exc) or type(exc).__name__
        raise HostUnreachable(
            f"cannot reach host {ep.name} at {ep.hostname}:{ep.port}: {reason}"
        ) from None
    transport = client.get_transport()
    if transport is not None:
        transport.set_keepalive(KEEPALIVE_SECONDS)
    return client


class HostConnection:
    """One SSH transport per host, shared by the host's slots (see the module docstring).

    Safe to use from several threads (a slot's sender thread opens no
    channels, but preflight and kill helpers may run beside the dispatcher).
    """

    def __init__(
        self,
        host: HostSpec,
        *,
        known_hosts: str | None = None,
        accept_new_host_keys: bool = False,
        timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        self.host = host
        self.known_hosts = known_hosts
        self.accept_new_host_keys = accept_new_host_keys
        self.timeout = timeout
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.RLock()
        self._failure: SshError | None = None
        self._retry_at = 0.0
        self._backoff = CONNECT_BACKOFF_MIN
        self.connects = 0  # successful connects (tests, diagnostics)

    @property
    def last_failure(self) -> SshError | None:
        return self._failure

    def is_active(self) -> bool:
        client = self._client
        transport = client.get_transport() if client is not None else None
        return transport is not None and transport.is_active()

    def transport(self) -> paramiko.Transport:
        """The live transport, connecting if needed; raises :class:`SshError`."""
        with self._lock:
            if self._client is not None:
                transport = self._client.get_transport()
                if transport is not None and transport.is_active():
                    return transport
                self._drop()
            if self._failure is not None and time.monotonic() < self._retry_at:
                raise self._failure
            try:
                client = connect(
                    self.host,
                    known_hosts=self.known_hosts,
                    accept_new_host_keys=self.accept_new_host_keys,
                    timeout=self.timeout,
                )
            except SshError as exc:
                self._failure = exc
                self._retry_at = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, CONNECT_BACKOFF_MAX)
                raise
            self._client = client
            self._failure = None
            self._backoff = CONNECT_BACKOFF_MIN
            self.connects += 1
            transport = client.get_transport()
            assert transport is not None
            return transport

    def client(self) -> paramiko.SSHClient:
        """The connected client (for SFTP)."""
        with self._lock:
            self.transport()
            assert self._client is not None
            return self._client

    def open_command(self, command: str, window_size: int | None = None) -> paramiko.Channel:
        """A session channel running ``command`` (already shell-quoted by the caller)."""
        transport = self.transport()
        try:
            if window_size:
                channel = transport.open_session(timeout=self.timeout, window_size=window_size)
            else:
                channel = transport.open_session(timeout=self.timeout)
            channel.exec_command(command)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            with self._lock:
                self._drop()
            raise HostUnreachable(f"host {self.host.name}: cannot start a command: {exc}") from None
        return channel

    def run(
        self, command: str, *, timeout: float = 60.0, stdin: bytes | None = None
    ) -> RemoteResult:
        """Run a short command to completion: its exit status, stdout and stderr."""
        channel = self.open_command(command)
        try:
            channel.settimeout(timeout)
            view = memoryview(stdin or b"")
            while view:  # paramiko's sendall copies the rest of a bytes per packet
                view = view[channel.send(view[: 1 << 18]) :]  # type: ignore[arg-type]
            channel.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + timeout
            while not (
                channel.exit_status_ready()
                and not channel.recv_ready()
                and not channel.recv_stderr_ready()
            ):
                if time.monotonic() > deadline:
                    raise HostUnreachable(
                        f"host {self.host.name}: command timed out after {timeout:g}s"
                    )
                if channel.recv_ready():
                    out += channel.recv(1 << 16)
                elif channel.recv_stderr_ready():
                    err += channel.recv_stderr(1 << 16)
                else:
                    time.sleep(0.002)
            return RemoteResult(channel.recv_exit_status(), bytes(out), bytes(err))
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise HostUnreachable(f"host {self.host.name}: command failed: {exc}") from None
        finally:
            channel.close()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def close(self) -> None:
        with self._lock:
            self._drop()


@dataclass(frozen=True)
class RemoteResult:
    status: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0

    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace").strip()


__all__ = [
    "Endpoint",
    "HostConnection",
    "RemoteResult",
    "connect",
    "fingerprint",
    "resolve_endpoint",
]
