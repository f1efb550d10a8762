"""From ``executor.ssh`` sections to remote slots: hosts resolved, one transport each.

The hosts of a run come from its jobs' ``executor.ssh`` sections (inline or a
hosts file, see :mod:`orchestrator.spec.ssh`). A host named by a bare string
is taken from the registry (hosts added with ``jobctl hosts add``) when it is
there, else it is an address or a ``~/.ssh/config`` alias with the section's
defaults. Hosts named in several sections are one host (first one wins), so
its slots are started once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.errors import NotFound
from orchestrator.executors.ssh.connect import HostConnection
from orchestrator.executors.ssh.host import HostEvents, RemoteHost
from orchestrator.executors.ssh.slot import SshSlot
from orchestrator.spec.ssh import HostSpec, SshExecutorSpec, SshSpec, ssh_spec_from_dict

#: slot indexes of remote slots start here, far from the local slots' 0..n-1
REMOTE_SLOT_BASE = 1 << 20

SshSection = SshSpec | SshExecutorSpec | Mapping[str, Any]


def as_ssh_spec(section: SshSection) -> SshSpec:
    """A resolved section from a :class:`SshSpec`, a job's section or plain data."""
    if isinstance(section, SshSpec):
        return section
    if isinstance(section, SshExecutorSpec):
        return section.resolve()
    return ssh_spec_from_dict(section)


def resolve_hosts(
    sections: Sequence[SshSection], registry: Mapping[str, HostSpec] | None = None
) -> list[tuple[HostSpec, SshSpec]]:
    """Every distinct host of the sections, with the section it came from."""
    found: dict[str, tuple[HostSpec, SshSpec]] = {}
    for section in sections:
        spec = as_ssh_spec(section)
        for host in spec.hosts:
            if host.name in found:
                continue
            if registry is not None and host.name in spec.bare_names and host.name in registry:
                host = registry[host.name]
            found[host.name] = (host, spec)
    return list(found.values())


def default_log_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "jobctl" / "logs"


def build_remote_slots(
    ssh_spec: SshSection | Sequence[SshSection],
    first_index: int = REMOTE_SLOT_BASE,
    accept_new_host_keys: bool = False,
    *,
    registry: Mapping[str, HostSpec] | None = None,
    events: HostEvents | None = None,
    log_dir: Path | None = None,
) -> list[SshSlot]:
    """One :class:`SshSlot` per ``slots`` of every host, numbered from ``first_index``.

    Nothing connects here: each host's transport opens when its first slot
    starts, so a host that is down does not delay the others (its slots are
    retried with backoff by the coordinator).
    """
    if isinstance(ssh_spec, SshSpec | Mapping):
        sections: Sequence[SshSection] = [ssh_spec]
    else:
        sections = ssh_spec
    events = events or HostEvents()
    log_dir = log_dir or default_log_dir()
    slots: list[SshSlot] = []
    index = first_index
    for host, section in resolve_hosts(sections, registry):
        connection = HostConnection(
            host,
            known_hosts=section.known_hosts,
            accept_new_host_keys=accept_new_host_keys,
            timeout=section.connect_timeout,
        )
        remote = RemoteHost(host, connection, events)
        for n in range(host.slots):
            slots.append(SshSlot(index, n, remote, log_dir))
            index += 1
    return slots


def close_remote_slots(slots: Sequence[SshSlot]) -> None:
    """Kill what still runs and close every host's transport (end of a run)."""
    hosts: dict[str, RemoteHost] = {}
    for slot in slots:
        slot.kill()
        slot.close_log()
        hosts[slot.host] = slot.remote
    for remote in hosts.values():
        remote.close()


def select_hosts(
    registry: Mapping[str, HostSpec],
    sections: Sequence[SshSection] = (),
    names: Sequence[str] = (),
) -> list[tuple[HostSpec, str | None]]:
    """The hosts ``hosts check``/``bootstrap`` work on, each with its extra
    known_hosts file: those of the spec's sections when given, else every
    registered host; only ``names`` when given (an unknown name is an error)."""
    if sections:
        chosen = [(host, spec.known_hosts) for host, spec in resolve_hosts(sections, registry)]
    else:
        chosen = [(host, None) for host in registry.values()]
    if not names:
        return chosen
    known = {host.name for host, _ in chosen}
    missing = [name for name in names if name not in known]
    if missing:
        where = "in the spec" if sections else "registered (see `jobctl hosts list`)"
        raise NotFound(f"no host named {', '.join(missing)} {where}")
    return [(host, kh) for host, kh in chosen if host.name in names]
