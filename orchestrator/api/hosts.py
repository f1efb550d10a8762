"""Hosts of the SSH executor: register, drain, enable, check, bootstrap.

Imported by ``jobctl hosts`` only: the host spec module and the SSH checks are
not what a read-only job command needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.errors import SpecError, SpecIssue
from orchestrator.spec.ssh import (
    DEFAULT_PYTHON,
    DEFAULT_WORKDIR,
    HOST_NAME,
    HostSpec,
    host_from_dict,
)
from orchestrator.store.hosts import HostRecord, HostState

if TYPE_CHECKING:
    from orchestrator.executors.ssh.bootstrap import BootstrapResult
    from orchestrator.executors.ssh.preflight import HostCheck
    from orchestrator.store.base import Store

__all__ = [
    "DEFAULT_PYTHON",
    "DEFAULT_WORKDIR",
    "BootstrapResult",
    "HostAdded",
    "HostRecord",
    "HostSpec",
    "HostState",
    "add_host",
    "bootstrap_hosts",
    "check_hosts",
    "drain_host",
    "enable_host",
    "list_hosts",
    "make_host",
    "remove_host",
]


def make_host(fields: dict[str, Any]) -> HostSpec:
    """A host spec from command-line fields, refused early when its name or
    address could be taken for an option."""
    spec = host_from_dict(fields)
    if not HOST_NAME.fullmatch(spec.name) or spec.address.startswith("-"):
        raise SpecError(
            [SpecIssue("<command line>", None, None, "name", f"invalid host {spec.name!r}")]
        )
    return spec


@dataclass(frozen=True)
class HostAdded:
    created: bool
    record: HostRecord


def add_host(store: Store, spec: HostSpec, *, replace: bool = False) -> HostAdded:
    """Register ``spec`` (update the host of that name when ``replace``)."""
    created = store.add_host(spec, replace=replace)
    return HostAdded(created, store.get_host(spec.name))


def remove_host(store: Store, name: str) -> bool:
    """Forget a host; False when it was not registered."""
    return store.remove_host(name)


def list_hosts(store: Store) -> list[HostRecord]:
    return store.list_hosts()


def _set_state(store: Store, name: str, state: HostState, reason: str) -> tuple[bool, HostRecord]:
    changed = store.set_host_state(name, state, reason=reason)
    return changed, store.get_host(name)


def drain_host(store: Store, name: str) -> tuple[bool, HostRecord]:
    """Maintenance: running chunks finish, the host takes no new ones."""
    return _set_state(store, name, HostState.MAINTENANCE, "drained by a user")


def enable_host(store: Store, name: str) -> tuple[bool, HostRecord]:
    """End maintenance: the host takes chunks again (checked on its next use)."""
    return _set_state(store, name, HostState.UNKNOWN, "enabled by a user")


def _targets(
    store: Store, spec: Path | None, names: Sequence[str] | None
) -> tuple[list[tuple[HostSpec, str | None]], list[str]]:
    """The hosts to work on, each with its extra known_hosts file, and the
    spec's paths whose visibility a check looks at."""
    from orchestrator.executors.ssh.inventory import select_hosts
    from orchestrator.executors.ssh.preflight import spec_paths
    from orchestrator.spec.loader import load_spec

    registry = {r.name: r.spec for r in store.list_hosts()}
    if spec is None:
        return select_hosts(registry, (), names or ()), []
    jobs = load_spec(spec).jobs
    sections = [job.executor.ssh for job in jobs if job.executor.ssh]
    if not sections:
        raise SpecError([SpecIssue(str(spec), None, None, "executor.ssh", "no job names hosts")])
    return select_hosts(registry, sections, names or ()), spec_paths(jobs)


def check_hosts(
    store: Store,
    names: Sequence[str] | None = None,
    spec: Path | None = None,
    known_hosts: Path | None = None,
    accept_new_host_keys: bool = False,
) -> list[HostCheck]:
    """Per host: reachable, auth, python, jobctl version, pyarrow, free disk, shared paths."""
    from orchestrator.executors.ssh.preflight import check_hosts as preflight

    targets, paths = _targets(store, spec, names)
    if known_hosts is not None:
        targets = [(host, str(known_hosts)) for host, _ in targets]
    return preflight(targets, accept_new_host_keys=accept_new_host_keys, paths=paths)


def bootstrap_hosts(
    store: Store,
    names: Sequence[str] | None = None,
    spec: Path | None = None,
    known_hosts: Path | None = None,
    accept_new_host_keys: bool = False,
    rebuild: bool = False,
    on_done: Callable[[BootstrapResult], None] | None = None,
) -> list[BootstrapResult]:
    """Install this jobctl on each host from a shipped wheelhouse; a registered
    host's python becomes the new venv's. ``on_done`` hears each result as it
    comes."""
    from orchestrator.executors.ssh.bootstrap import bootstrap_host

    targets, _ = _targets(store, spec, names)
    registered = {r.name for r in store.list_hosts()}
    done = []
    for host, known in targets:
        result = bootstrap_host(
            host,
            known_hosts=str(known_hosts) if known_hosts else known,
            accept_new_host_keys=accept_new_host_keys,
            rebuild=rebuild,
        )
        if host.name in registered:
            store.add_host(replace(host, python=result.python), replace=True)
        done.append(result)
        if on_done is not None:
            on_done(result)
    return done
