"""The SSH hosts of a run: slots from the jobs' ``executor.ssh``, host state kept in the store.

:func:`with_remote_slots` is what ``run_jobs`` calls: it adds the remote
slots to the run's options and returns the clean-up that closes the hosts'
transports when the run ends. The hosts table follows what the run sees:
``online`` when a host answers (``busy`` while every one of its slots has a
chunk), ``offline`` when it does not, ``error`` when it answers but cannot be
used (host key, authentication, no python), plus heartbeat figures. A host a
user drained (``maintenance``) is never changed by a run, and its slots take
no new chunks. Nothing of paramiko is imported for a run without SSH hosts.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from orchestrator.dispatch.active import worker_payload
from orchestrator.dispatch.options import RunOptions, default_log_dir
from orchestrator.errors import HostUnreachable, JobctlError
from orchestrator.executors.base import Slot
from orchestrator.spec.model import JobSpec
from orchestrator.spec.ssh import SshExecutorSpec, ssh_spec_from_dict
from orchestrator.store.base import Store
from orchestrator.store.hosts import HostState

if TYPE_CHECKING:
    from orchestrator.executors.ssh.host import HostStats


def _nothing() -> None:
    return None


class HostTracker:
    """Writes the hosts' health and figures into the store, once per change."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.states: dict[str, HostState] = {}
        #: slots per host, to tell ``busy`` (every slot has a chunk) from ``online``
        self.capacity: dict[str, int] = {}

    def host_state(self, name: str, up: bool, error: BaseException | None) -> None:
        if up:
            state = HostState.ONLINE
        elif error is None or isinstance(error, HostUnreachable):
            state = HostState.OFFLINE
        else:
            state = HostState.ERROR
        if self.states.get(name) == state and up:
            return
        self.states[name] = state
        with contextlib.suppress(JobctlError):
            self.store.set_host_state(
                name, state, reason=str(error) if error else None, automatic=True
            )

    def slot_state(self, slot: Slot, up: bool, reason: str) -> None:
        """The coordinator's view: a slot came back, or could not start."""
        remote = getattr(slot, "remote", None)
        if remote is None:  # a local slot
            return
        error = remote.connection.last_failure if not up else None
        self.host_state(slot.host, up, error or (None if up else JobctlError(reason)))

    def stats(self, name: str, stats: HostStats) -> None:
        with contextlib.suppress(JobctlError):
            self.store.record_host_stats(
                name,
                cpu=stats.cpu,
                mem=stats.mem,
                load=stats.load,
                slots_in_use=stats.slots_in_use,
                successes=stats.successes,
                failures=stats.failures,
            )
        full = 0 < self.capacity.get(name, 0) <= stats.slots_in_use
        current, wanted = self.states.get(name), HostState.BUSY if full else HostState.ONLINE
        if current in (HostState.ONLINE, HostState.BUSY) and current != wanted:
            self.states[name] = wanted
            reason = "every slot is running a chunk" if full else None
            with contextlib.suppress(JobctlError):
                self.store.set_host_state(name, wanted, reason=reason, automatic=True)

    def is_drained(self, name: str) -> bool:
        try:
            return self.store.get_host(name).state == HostState.MAINTENANCE
        except JobctlError:
            return False


def with_remote_slots(
    store: Store, job_ids: Sequence[int], options: RunOptions
) -> tuple[RunOptions, Callable[[], None]]:
    """``options`` with the remote slots of the jobs' SSH hosts, and a clean-up."""
    sections: list[SshExecutorSpec] = []
    transfer: dict[str, str] = {}
    for job_id in job_ids:
        record = store.get_job(job_id)
        spec = JobSpec.from_dict(record.spec)
        if not spec.executor.ssh:
            continue
        sections.append(spec.executor.ssh)
        key = str(worker_payload(record, spec, None)["key"])
        transfer[key] = spec.executor.ssh.resolve().transfer
    if not sections:
        return options, _nothing

    from orchestrator.executors.ssh.host import HostEvents
    from orchestrator.executors.ssh.inventory import (
        REMOTE_SLOT_BASE,
        build_remote_slots,
        close_remote_slots,
    )

    tracker = HostTracker(store)
    events = HostEvents(
        on_state=tracker.host_state,
        on_stats=tracker.stats,
        is_drained=tracker.is_drained,
        transfer_for=lambda key: transfer.get(key, "auto"),
    )
    registry = {record.name: record.spec for record in store.list_hosts()}
    slots = build_remote_slots(
        sections,
        REMOTE_SLOT_BASE,
        options.accept_new_host_keys,
        registry=registry,
        events=events,
        log_dir=default_log_dir(),
    )
    for remote in {slot.host: slot.remote for slot in slots}.values():
        store.add_host(remote.spec)  # registers hosts named only in the spec; keeps others
        tracker.capacity[remote.name] = remote.spec.slots
    previous = options.on_slot_state

    def on_slot_state(slot: Slot, up: bool, reason: str) -> None:
        tracker.slot_state(slot, up, reason)
        if previous is not None:
            previous(slot, up, reason)

    changed = dataclasses.replace(
        options,
        remote_slots=(*options.remote_slots, *slots),
        on_slot_state=on_slot_state,
    )
    return changed, lambda: close_remote_slots(slots)


class ServeHosts:
    """The SSH hosts of ``jobctl serve``: the hosts of ``--hosts`` files
    (registered in the store when it starts) and every host registered in the
    store, including hosts added with ``jobctl hosts add`` while it serves
    (:meth:`new_slots`, polled by the coordinator). A drained host takes no
    new chunks at once; a removed host keeps its slots until the serve
    restarts (drain it first). Every slot of a serve may run every job it
    serves, within the job's ``executor.ssh.requires``."""

    def __init__(
        self, store: Store, hosts_files: Sequence[str], accept_new_host_keys: bool
    ) -> None:
        from orchestrator.executors.ssh.host import HostEvents
        from orchestrator.executors.ssh.inventory import REMOTE_SLOT_BASE

        self.store = store
        self.accept_new_host_keys = accept_new_host_keys
        self.tracker = HostTracker(store)
        self.events = HostEvents(
            on_state=self.tracker.host_state,
            on_stats=self.tracker.stats,
            is_drained=self.tracker.is_drained,
        )
        self.known_hosts: dict[str, str | None] = {}  # host -> its file's known_hosts
        for path in hosts_files:
            section = ssh_spec_from_dict({"hosts": str(path)})
            for host in section.hosts:
                store.add_host(host)  # a host registered before keeps its record
                self.known_hosts.setdefault(host.name, section.known_hosts)
        self.slots: list[Slot] = []
        self._names: set[str] = set()
        self._next_index = REMOTE_SLOT_BASE

    def new_slots(self) -> list[Slot]:
        """Slots of registered hosts this serve does not use yet (none connects here)."""
        from orchestrator.executors.ssh.inventory import build_remote_slots

        fresh = [r for r in self.store.list_hosts() if r.name not in self._names]
        if not fresh:
            return []
        registry = {record.name: record.spec for record in fresh}
        added: list[Slot] = []
        for record in fresh:
            section = {"hosts": [record.name], "known_hosts": self.known_hosts.get(record.name)}
            slots = build_remote_slots(
                [section],
                self._next_index,
                self.accept_new_host_keys,
                registry=registry,
                events=self.events,
                log_dir=default_log_dir(),
            )
            self._next_index += len(slots)
            self.tracker.capacity[record.name] = record.spec.slots
            self._names.add(record.name)
            added.extend(slots)
        self.slots.extend(added)
        return added

    def on_slot_state(self, slot: Slot, up: bool, reason: str) -> None:
        self.tracker.slot_state(slot, up, reason)

    def close(self) -> None:
        from orchestrator.executors.ssh.inventory import close_remote_slots

        close_remote_slots(self.slots)  # type: ignore[arg-type]
