"""Host records of the SSH executor, as both store backends keep them.

A host's state is the coordinator's view of its health (online, offline,
error) or a user's decision (maintenance: ``jobctl hosts drain``). Automatic
updates never override a user's maintenance; only ``hosts enable`` ends it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # spec.ssh (YAML reading, checks) is not needed to read a store
    from orchestrator.spec.ssh import HostSpec


class HostState(enum.StrEnum):
    UNKNOWN = "unknown"  # registered, never contacted
    ONLINE = "online"
    BUSY = "busy"  # online, every slot running a chunk
    OFFLINE = "offline"  # does not answer (refused, timeout, reset)
    ERROR = "error"  # answers, but cannot be used (auth, host key, no python)
    MAINTENANCE = "maintenance"  # drained by a user: finish running chunks, take no new ones


#: states in which a host takes new chunks
HOST_USABLE: frozenset[HostState] = frozenset({HostState.UNKNOWN, HostState.ONLINE, HostState.BUSY})


class HostEventKind:
    """``events.kind`` values about hosts (``job_id`` NULL, host in ``detail``)."""

    HOST_ADDED = "host_added"
    HOST_UPDATED = "host_updated"
    HOST_REMOVED = "host_removed"
    HOST_STATE = "host_state"


@dataclass(frozen=True)
class HostRecord:
    """A registered host: how to reach it, and what the coordinators last saw."""

    spec: HostSpec
    state: HostState
    state_reason: str | None
    state_changed_at: datetime | None
    slots_in_use: int
    cpu: float | None
    mem: float | None
    load: float | None
    last_heartbeat: datetime | None
    successes: int
    failures: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def success_rate(self) -> float | None:
        """Share of chunks that succeeded on the host (None before any ran)."""
        total = self.successes + self.failures
        return self.successes / total if total else None


def host_params(host: HostSpec, dump: Callable[[Any], str | None]) -> dict[str, Any]:
    """Query parameters of a host's settings (``dump``: the backend's JSON encoder)."""
    return {
        "name": host.name,
        "address": host.address,
        "port": host.port or 0,
        "user": host.user,
        "identity_file": host.identity_file,
        "python": host.python,
        "workdir": host.workdir,
        "slots": host.slots,
        "pool": host.pool,
        "labels": dump(list(host.labels)),
        "env": dump(dict(host.env)),
    }


def host_event_detail(host: HostSpec) -> dict[str, Any]:
    """What an event says about a host's settings (never its environment)."""
    return {"host": host.name, "address": host.address, "port": host.port, "user": host.user}


def host_record(
    row: Any, loads: Callable[[Any], Any], to_datetime: Callable[[Any], datetime | None]
) -> HostRecord:
    """One ``hosts`` row (either backend) as a record."""
    labels = loads(row["labels"]) or []
    if isinstance(labels, dict):  # the column's original default is an empty object
        labels = list(labels)
    from orchestrator.spec.ssh import host_from_dict

    spec = host_from_dict(
        {
            "name": row["name"],
            "address": row["address"],
            "port": row["port"] or None,
            "user": row["username"],
            "identity_file": row["identity_file"],
            "python": row["python"],
            "workdir": row["workdir"],
            "slots": row["slots"],
            "pool": row["pool"],
            "labels": labels,
            "env": loads(row["env"]) or {},
        }
    )
    return HostRecord(
        spec=spec,
        state=HostState(row["state"]),
        state_reason=row["state_reason"],
        state_changed_at=to_datetime(row["state_changed_at"]),
        slots_in_use=int(row["slots_in_use"] or 0),
        cpu=row["cpu"],
        mem=row["mem"],
        load=row["load"],
        last_heartbeat=to_datetime(row["last_heartbeat"]),
        successes=int(row["successes"]),
        failures=int(row["failures"]),
    )
