"""Slot choice in a run: the job's hard filters, then the shortest queue, the score
breaking ties; a job no slot can run is refused at once or after a bounded wait.

The slots are the real local and SSH slot objects, not started (nothing runs,
nothing connects): placement only reads what they know about their hosts.
"""

from __future__ import annotations

import textwrap
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from orchestrator.dispatch.placement import FIGURES_SECONDS, Figures, Placement
from orchestrator.errors import HostKeyRejected, HostUnreachable, SpecError
from orchestrator.executors.base import Slot
from orchestrator.executors.local import WorkerProcess
from orchestrator.executors.ssh.host import HostEvents
from orchestrator.executors.ssh.inventory import build_remote_slots
from orchestrator.executors.ssh.slot import SshSlot
from orchestrator.spec.loader import load_spec
from orchestrator.spec.model import ExecutorSpec, JobSpec, LocalExecutorSpec
from orchestrator.spec.ssh import DEFAULT_UNREACHABLE_TIMEOUT, SshExecutorSpec, ssh_spec_from_dict

GiB = 1 << 30
IDLE: Figures = (0.1, 0.1, 0.1, 64 * GiB)


def host(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "address": "127.0.0.1", "port": 22, **extra}


def remote_slots(tmp_path: Path, *hosts: dict[str, Any], drained: bool = False) -> list[SshSlot]:
    events = HostEvents(is_drained=lambda name: drained)
    return build_remote_slots({"hosts": list(hosts)}, 100, events=events, log_dir=tmp_path)


def local_slots(tmp_path: Path, count: int) -> list[Slot]:
    return [WorkerProcess(i, tmp_path) for i in range(count)]


def job(local: bool = True, **ssh: Any) -> JobSpec:
    section = SshExecutorSpec.from_dict(ssh) if ssh else None
    executor = ExecutorSpec(local=LocalExecutorSpec() if local else None, ssh=section)
    return JobSpec(name="j", type="noop", executor=executor)


class Run:
    """A placement with the jobs of a run, called the way the coordinator does."""

    def __init__(self, slots: list[Any], jobs: dict[int, JobSpec], figures: Figures) -> None:
        self.jobs = jobs
        self.p = Placement(slots, figures=lambda: figures)
        self.p.update(slots, 0.0)

    def update(self, usable: list[Any], now: float) -> None:
        self.p.update(usable, now)

    def placeable(self, job_id: int) -> bool:
        return self.p.placeable(job_id, self.jobs.get(job_id) or job())

    def choose(self, job_id: int, queues: dict[int, deque[int]]) -> Slot:
        return self.p.choose(job_id, self.jobs.get(job_id) or job(), queues)

    def unplaceable(self, now: float) -> list[tuple[int, str]]:
        return self.p.unplaceable(self.jobs, now)


def placement(slots: list[Any], jobs: dict[int, JobSpec], figures: Figures = IDLE) -> Run:
    return Run(slots, jobs, figures)


def queues(slots: list[Any]) -> dict[int, deque[int]]:
    return {s.slot: deque() for s in slots}


def test_requirements_and_the_jobs_own_executor(tmp_path: Path) -> None:
    remote = remote_slots(
        tmp_path,
        host("h1", pool="big", labels=["gpu"], slots=2),
        host("h2", labels=["gpu"]),
        host("h3", pool="big"),
    )
    slots = [*local_slots(tmp_path, 2), *remote]
    hosts = [host("h1"), host("h2"), host("h3")]
    jobs = {
        1: job(hosts=hosts, requires={"pool": "big", "labels": ["gpu"]}),
        2: job(local=True),  # no executor.ssh: local slots only
        3: job(local=False, hosts=[host("h2"), host("h3")]),
    }
    p = placement(slots, jobs)
    q = queues(slots)
    chosen = []
    for _ in range(6):
        slot = p.choose(1, q)
        q[slot.slot].append(1)
        chosen.append(slot.name)
    assert sorted(chosen) == ["h1/0", "h1/0", "h1/0", "h1/1", "h1/1", "h1/1"]
    assert {p.choose(2, queues(slots)).host for _ in range(3)} == {"localhost"}
    q = queues(slots)
    for _ in range(4):
        q[p.choose(3, q).slot].append(3)
    assert {name: len(q[s.slot]) for s in slots for name in [s.name] if q[s.slot]} == {
        "h2/0": 2,
        "h3/0": 2,
    }
    assert all(p.placeable(job_id) for job_id in jobs)
    assert p.unplaceable(0.0) == []


def test_shortest_queue_first_then_score(tmp_path: Path) -> None:
    slots = remote_slots(tmp_path, host("busy"), host("idle"), host("ssd", labels=["ssd"]))
    busy, idle, ssd = slots
    busy.remote.on_figures({"cpu": 0.9, "mem": 0.9, "load": 0.9})
    idle.remote.on_figures({"cpu": 0.1, "mem": 0.1, "load": 0.1})
    ssd.remote.on_figures({"cpu": 0.5, "mem": 0.5, "load": 0.5})
    jobs = {1: job(local=False, hosts=[host("busy"), host("idle"), host("ssd")])}
    p = placement(slots, jobs)
    q = queues(slots)
    assert p.choose(1, q) is idle  # all empty: the best score
    q[idle.slot].append(1)
    assert p.choose(1, q) is ssd  # then the next best of the shortest queues
    q[ssd.slot].append(1)
    assert p.choose(1, q) is busy  # a short queue beats a good score
    q[busy.slot].extend([1, 1])
    assert p.choose(1, q) in (idle, ssd)

    preferring = {
        1: job(local=False, hosts=[host("idle"), host("ssd")], prefers={"labels": ["ssd"]})
    }
    p = placement(slots, preferring)
    idle.remote.on_figures({"cpu": 0.2, "mem": 0.2, "load": 0.2})
    ssd.remote.on_figures({"cpu": 0.2, "mem": 0.2, "load": 0.2})
    p.update(slots, FIGURES_SECONDS)
    assert p.choose(1, queues(slots)) is ssd  # capability match breaks the tie


def test_recent_failures_lose_ties_and_figures_are_cached(tmp_path: Path) -> None:
    slots = remote_slots(tmp_path, host("a"), host("b"))
    a, b = slots
    for s in slots:
        s.remote.on_figures({"cpu": 0.3, "mem": 0.3, "load": 0.3})
    jobs = {1: job(local=False, hosts=[host("a"), host("b")])}
    p = placement(slots, jobs)
    assert p.choose(1, queues(slots)) is a  # equal: by name
    for _ in range(3):
        a.remote.run_started(a.slot)
        a.remote.run_ended(a.slot, ok=False)
    assert a.remote.success_rate == 0.0
    p.update(slots, 1.0)  # figures are not read again before FIGURES_SECONDS
    assert p.choose(1, queues(slots)) is a
    p.update(slots, FIGURES_SECONDS)
    assert p.choose(1, queues(slots)) is b


def test_no_slot_of_the_run_fits_refused_at_once(tmp_path: Path) -> None:
    slots = [*local_slots(tmp_path, 1), *remote_slots(tmp_path, host("h1"), host("h2"))]
    jobs = {7: job(hosts=[host("h1"), host("h2")], requires={"pool": "big", "labels": ["gpu"]})}
    p = placement(slots, jobs)
    assert not p.placeable(7)
    [(job_id, message)] = p.unplaceable(0.0)
    assert job_id == 7
    assert "requires: pool big, labels gpu" in message
    assert "h1: pool default, not big" in message and "h2: pool default" in message
    assert "localhost: pool default, not big" in message


def test_every_host_key_refused_fails_at_once(tmp_path: Path) -> None:
    slots = remote_slots(tmp_path, host("h1"), host("h2"))
    for s in slots:
        s.remote.mark(False, HostKeyRejected(f"host {s.host} offered an unknown key SHA256:x"))
    jobs = {1: job(local=False, hosts=[host("h1"), host("h2")])}
    p = placement(slots, jobs)
    p.update([], 0.0)
    [(_, message)] = p.unplaceable(0.0)
    assert "refused" in message and "h1: host h1 offered an unknown key SHA256:x" in message


def test_hosts_down_wait_for_the_bound(tmp_path: Path) -> None:
    slots = remote_slots(tmp_path, host("h1"), host("h2"))
    h1, h2 = slots
    h1.remote.mark(False, HostUnreachable("cannot reach host h1: connection refused"))
    h2.remote.mark(False, HostKeyRejected("host h2 offered an unknown key SHA256:y"))
    jobs = {
        1: job(local=False, hosts=[host("h1"), host("h2")], unreachable_timeout="30s"),
        2: job(local=False, hosts=[host("h1")]),
    }
    p = placement(slots, jobs)
    p.update([], 10.0)  # every slot down
    assert not p.placeable(1) and not p.placeable(2)
    assert p.unplaceable(10.0) == []
    assert p.unplaceable(39.0) == []
    p.update([h1], 40.0)  # h1 came back for a moment: the wait starts again
    assert p.placeable(1) and p.unplaceable(40.0) == []
    p.update([], 41.0)
    assert p.unplaceable(41.0) == [] and p.unplaceable(70.0) == []
    [(job_id, message)] = p.unplaceable(71.0)
    assert job_id == 1 and "for 30s (executor.ssh.unreachable_timeout)" in message
    assert "h1: cannot reach host h1: connection refused" in message
    assert "h2: host h2 offered an unknown key SHA256:y" in message
    assert [j for j, _ in p.unplaceable(41.0 + DEFAULT_UNREACHABLE_TIMEOUT)] == [1, 2]


def test_drained_hosts_and_free_memory_are_filtered(tmp_path: Path) -> None:
    drained = remote_slots(tmp_path, host("h1"), drained=True)
    local = local_slots(tmp_path, 1)
    slots = [*local, *drained]
    jobs = {
        1: job(hosts=[host("h1")], requires={"memory": 8 * GiB}, unreachable_timeout=5),
        2: job(hosts=[host("h1")], requires={"memory": "1GiB"}),
    }
    p = placement(slots, jobs, figures=(0.1, 0.1, 0.1, 2 * GiB))
    assert not p.placeable(1)
    assert p.placeable(2) and p.choose(2, queues(slots)) is local[0]
    assert p.unplaceable(0.0) == []
    [(_, message)] = p.unplaceable(5.0)
    assert "localhost: 2147483648 bytes free, the chunk needs 8589934592" in message
    assert "h1: host is maintenance" in message
    # a remote host that reports its free memory is filtered the same way
    open_hosts = remote_slots(tmp_path, host("h1"))
    open_hosts[0].remote.on_figures({"mem_free": GiB})
    p = placement(
        open_hosts, {1: job(local=False, hosts=[host("h1")], requires={"memory": 8 * GiB})}
    )
    assert not p.placeable(1)


def test_jobs_met_later_and_hosts_they_do_not_name(tmp_path: Path) -> None:
    slots = [*local_slots(tmp_path, 1), *remote_slots(tmp_path, host("h1"), host("h2"))]
    p = Placement(slots, figures=lambda: IDLE)
    p.update(slots, 0.0)
    # a job admitted later (its upstream job succeeded) is read when first seen
    later = job(local=False, hosts=[host("h2")])
    assert p.placeable(5, later) and p.choose(5, later, queues(slots)).host == "h2"
    p.update(slots, FIGURES_SECONDS)
    p.update(slots, 2 * FIGURES_SECONDS)
    assert 5 not in p.rules  # forgotten once nobody asks (serve sees jobs come and go)
    # hosts of another job's executor are not this job's, nor are local slots
    [(job_id, message)] = p.unplaceable({6: job(local=False, hosts=[host("h3")])}, 0.0)
    assert job_id == 6 and "h1: not a host of the job's executor.ssh" in message
    assert "localhost: local slots: the job has no executor.local" in message
    # --workers asks for local slots: every job may use them
    p = Placement(slots, local_option=True, figures=lambda: IDLE)
    p.update(slots, 0.0)
    assert p.choose(6, job(local=False, hosts=[host("h3")]), queues(slots)).host == "localhost"


# -- the spec keys ------------------------------------------------------------------------


def spec_text(ssh: str) -> str:
    body = textwrap.indent(textwrap.dedent(ssh).strip("\n"), " " * 8)
    return (
        "version: 1\njobs:\n  - name: n\n    type: noop\n    input: {sequence: 2}\n"
        f"    executor:\n      ssh:\n{body}\n"
    )


def test_requirement_keys_load_and_type(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(
        spec_text(
            """
            hosts: [h1]
            requires: {pool: big, labels: [gpu, ssd], memory: 8GiB}
            prefers: {labels: [nvme]}
            unreachable_timeout: 2m
            """
        )
    )
    [spec] = load_spec(path).jobs
    assert spec.executor.ssh is not None
    assert spec.executor.ssh["requires"]["memory"] == 8 * GiB
    ssh = ssh_spec_from_dict(spec.executor.ssh)
    assert ssh.requires.pool == "big" and ssh.requires.labels == ("gpu", "ssd")
    assert ssh.requires.memory == 8 * GiB and ssh.requires.preferred_labels == ("nvme",)
    assert ssh.unreachable_timeout == 120.0
    assert ssh.requires.describe() == "pool big, labels gpu, ssd, memory 8.0 GiB"
    defaults = ssh_spec_from_dict({"hosts": ["h1"]})
    assert defaults.unreachable_timeout == DEFAULT_UNREACHABLE_TIMEOUT == 300.0
    assert defaults.requires.describe() == ""


def test_requirement_keys_are_validated_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(
        spec_text(
            """
            hosts: [h1]
            requires: {pool: 3, labels: gpu, memory: lots, ram: 1GiB}
            prefers: [ssd]
            unreachable_timeout: never
            """
        )
    )
    with pytest.raises(SpecError) as info:
        load_spec(path)
    issues = [str(issue) for issue in info.value.issues]
    text = "\n".join(issues)
    assert ":9:" in text and "requires.pool: expected a string" in text
    assert "requires.labels: expected a list of strings" in text
    assert "requires.memory: invalid size 'lots'" in text
    assert "requires.ram: unknown key 'ram'" in text
    assert ":10:" in text and "prefers: expected a mapping" in text
    assert ":11:" in text and "unreachable_timeout: invalid duration 'never'" in text
    hosts_file = tmp_path / "hosts.yaml"
    hosts_file.write_text("hosts: [h1]\nrequires: {pool: big}\n")
    path.write_text(spec_text(f"hosts: {hosts_file}"))
    with pytest.raises(SpecError, match="unknown key 'requires'"):
        load_spec(path)  # a job's needs belong to the job, not to an inventory
