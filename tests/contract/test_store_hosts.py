"""The host inventory of the SSH executor, on both store backends: register,
update, remove, state changes with their events (a user's maintenance is never
undone by the coordinator's automatic view), and heartbeat statistics."""

from __future__ import annotations

import pytest

from orchestrator.errors import NotFound
from orchestrator.spec.ssh import HostSpec
from orchestrator.store.base import Store
from orchestrator.store.hosts import HostState

H1 = HostSpec(
    name="h1",
    address="etl-01.example.com",
    port=2222,
    user="etl",
    identity_file="/home/etl/.ssh/id_ed25519",
    python="/opt/venv/bin/python",
    workdir="/var/tmp/jobctl",
    slots=4,
    pool="big",
    labels=("gpu", "ssd"),
    env={"PYTHONPATH": "/srv/code"},
)


def test_add_get_list_remove(store: Store) -> None:
    assert store.list_hosts() == []
    assert store.add_host(H1) is True
    assert store.add_host(HostSpec(name="a0", address="10.0.0.1")) is True
    record = store.get_host("h1")
    assert record.spec == H1
    assert record.state == HostState.UNKNOWN and record.state_changed_at is not None
    assert (record.successes, record.failures, record.slots_in_use) == (0, 0, 0)
    assert record.success_rate is None and record.last_heartbeat is None
    bare = store.get_host("a0").spec
    assert bare.port is None and bare.user is None and bare.labels == () and bare.slots == 1
    assert [h.name for h in store.list_hosts()] == ["a0", "h1"]
    assert store.remove_host("h1") is True
    assert store.remove_host("h1") is False
    with pytest.raises(NotFound, match="h1"):
        store.get_host("h1")


def test_add_existing_keeps_it_unless_replace(store: Store) -> None:
    store.add_host(H1)
    store.set_host_state("h1", HostState.ONLINE)
    moved = HostSpec(name="h1", address="etl-02.example.com", slots=2)
    assert store.add_host(moved) is False
    assert store.get_host("h1").spec.address == "etl-01.example.com"
    assert store.add_host(moved, replace=True) is False
    record = store.get_host("h1")
    assert record.spec == moved and record.state == HostState.ONLINE


def test_state_changes_and_maintenance(store: Store) -> None:
    store.add_host(H1)
    assert store.set_host_state("h1", HostState.ONLINE, automatic=True) is True
    assert store.set_host_state("h1", HostState.ONLINE, automatic=True) is False
    assert store.set_host_state("h1", HostState.OFFLINE, reason="refused", automatic=True)
    record = store.get_host("h1")
    assert record.state == HostState.OFFLINE and record.state_reason == "refused"
    # a user's drain holds against the coordinator's automatic updates
    assert store.set_host_state("h1", HostState.MAINTENANCE, reason="drained by ops")
    assert store.set_host_state("h1", HostState.ONLINE, automatic=True) is False
    assert store.get_host("h1").state == HostState.MAINTENANCE
    assert store.set_host_state("h1", HostState.ONLINE, reason="enabled") is True
    assert store.get_host("h1").state == HostState.ONLINE
    with pytest.raises(NotFound):
        store.set_host_state("nope", HostState.ONLINE)


def test_heartbeat_statistics(store: Store) -> None:
    store.add_host(H1)
    store.record_host_stats("h1", cpu=0.5, mem=0.25, load=0.75, slots_in_use=3, successes=4)
    store.record_host_stats("h1", cpu=None, mem=0.5, slots_in_use=1, successes=2, failures=2)
    record = store.get_host("h1")
    assert (record.cpu, record.mem, record.load) == (0.5, 0.5, 0.75)
    assert record.slots_in_use == 1 and record.last_heartbeat is not None
    assert (record.successes, record.failures) == (6, 2)
    assert record.success_rate == pytest.approx(0.75)
    store.record_host_stats("unknown-host", cpu=0.1)  # a host removed meanwhile: no error
