"""Taking over the chunks of a coordinator that is gone.

A lease expires by itself, but waiting for that after a crash wastes up to a
whole lease period. The coordinator registry lets a live coordinator prove a
peer gone sooner: the peer has no registry row (it deregistered, or never
registered — an older jobctl), or it ran on this host under a pid that no
longer exists. Anything else (another host, a pid that exists — perhaps
reused) is not proof, and the lease is left to expire.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from orchestrator.store.base import LeaseOwner, Store


@dataclass(frozen=True)
class Reclaimed:
    owner: str
    chunks: int
    reason: str


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return True  # unknown: not proof of death
    return True


def gone_reason(owner: LeaseOwner, me: str, host: str) -> str | None:
    """Why ``owner`` is provably gone, or None when it may be alive."""
    if owner.owner == me:
        return None
    if owner.host is None:
        return f"coordinator {owner.owner} is not registered (it exited or was declared gone)"
    if owner.host == host and owner.pid is not None and not pid_alive(owner.pid):
        return f"coordinator {owner.owner} is gone (pid {owner.pid} no longer exists on {host})"
    return None


def reclaim_orphans(store: Store, me: str, host: str | None = None) -> list[Reclaimed]:
    """Return the chunks of every provably gone coordinator to pending now."""
    here = host or socket.gethostname()
    done: list[Reclaimed] = []
    for owner in store.lease_owners():
        reason = gone_reason(owner, me, here)
        if reason is not None:
            moved = store.reclaim_owner(owner.owner, reason)
            done.append(Reclaimed(owner.owner, moved, reason))
    return done


def reap(store: Store, me: str, host: str) -> None:
    """What any live coordinator does now and then: expired leases back to
    pending, and the chunks of peers that are provably gone."""
    store.reap_expired()
    reclaim_orphans(store, me, host)
