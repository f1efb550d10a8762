"""The ``executor.ssh`` section: canonical keys validated at load with file:line,
hosts files checked in their own file, and the typed form the executor uses."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.spec.loader import load_spec
from orchestrator.spec.ssh import DEFAULT_PYTHON, DEFAULT_WORKDIR, HostSpec, ssh_spec_from_dict


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def job_with(ssh: str) -> str:
    body = textwrap.indent(textwrap.dedent(ssh).strip("\n"), " " * 8)
    return (
        "version: 1\njobs:\n  - name: n\n    type: noop\n    input: {sequence: 2}\n"
        f"    executor:\n      ssh:\n{body}\n"
    )


def errors(tmp_path: Path, ssh: str) -> list[str]:
    path = write(tmp_path / "jobs.yaml", job_with(ssh))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return [str(issue) for issue in info.value.issues]


def test_canonical_section_loads_and_types(tmp_path: Path) -> None:
    path = write(
        tmp_path / "jobs.yaml",
        job_with(
            """
            known_hosts: keys/known_hosts
            transfer: push
            connect_timeout: 5s
            user: etl
            slots: 2
            hosts:
              - {name: h1, address: etl-01.example.com, port: 2222, identity_file: ~/.ssh/id_x,
                 python: /opt/venv/bin/python, workdir: /var/tmp/jobctl, slots: 4, pool: big,
                 labels: [gpu], env: {PYTHONPATH: /srv/code}}
              - h2
            """
        ),
    )
    [job] = load_spec(path).jobs
    raw = job.executor.ssh
    assert raw is not None and raw["known_hosts"] == str(tmp_path / "keys" / "known_hosts")
    assert raw["hosts"][0]["identity_file"] == os.path.expanduser("~/.ssh/id_x")
    spec = ssh_spec_from_dict(raw)
    assert spec.transfer == "push" and spec.connect_timeout == 5.0
    assert spec.bare_names == frozenset({"h2"})
    h1, h2 = spec.hosts
    assert h1 == HostSpec(
        name="h1",
        address="etl-01.example.com",
        port=2222,
        user="etl",
        identity_file=os.path.expanduser("~/.ssh/id_x"),
        python="/opt/venv/bin/python",
        workdir="/var/tmp/jobctl",
        slots=4,
        pool="big",
        labels=("gpu",),
        env={"PYTHONPATH": "/srv/code"},
    )
    assert h2 == HostSpec(name="h2", address="h2", user="etl", slots=2)
    assert (h2.python, h2.workdir, h2.port) == (DEFAULT_PYTHON, DEFAULT_WORKDIR, None)


def test_mistakes_are_reported_at_their_line(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        """
        transfr: push
        transfer: rsync
        hosts:
          - {name: h1, port: 70000, slots: 0}
          - {name: h1, adress: x}
          - {address: y}
          - "bad name!"
          - {name: h4, address: "-oProxyCommand=x", env: {"1BAD": v, OK: [1]}}
        """,
    )
    text = "\n".join(found)
    assert "executor.ssh.transfr: unknown key 'transfr' (did you mean 'transfer'?)" in text
    assert "invalid transfer 'rsync': use one of auto, shared, push" in text
    assert "port: must be a TCP port (1-65535), got 70000" in text
    assert "slots: must be positive, got 0" in text
    assert "host 'h1' is listed twice" in text
    assert "unknown key 'adress' (did you mean 'address'?)" in text
    assert "hosts[2]: missing required key 'name'" in text
    assert "invalid host name 'bad name!'" in text
    assert "invalid address '-oProxyCommand=x'" in text
    assert "invalid environment variable name '1BAD'" in text
    assert "env.OK: expected a string, got a list" in text
    assert all(issue.split(":")[1].isdigit() for issue in found)  # every one has its line


def test_hosts_file_is_read_and_checked_in_its_own_file(tmp_path: Path) -> None:
    write(
        tmp_path / "hosts.yaml",
        """
        user: etl
        hosts:
          - {name: a, address: 10.0.0.1}
          - {name: b, address: 10.0.0.2, slots: 3}
        """,
    )
    path = write(tmp_path / "jobs.yaml", job_with("hosts: hosts.yaml\ntransfer: shared"))
    [job] = load_spec(path).jobs
    assert job.executor.ssh == {"hosts": str(tmp_path / "hosts.yaml"), "transfer": "shared"}
    spec = ssh_spec_from_dict(job.executor.ssh)
    assert [(h.name, h.user, h.slots) for h in spec.hosts] == [("a", "etl", 1), ("b", "etl", 3)]
    assert spec.transfer == "shared"
    # a plain list works too
    write(tmp_path / "hosts.yaml", "- {name: c, address: 10.0.0.3}\n- d\n")
    assert [h.name for h in ssh_spec_from_dict(job.executor.ssh).hosts] == ["c", "d"]
    write(tmp_path / "hosts.yaml", "hosts:\n  - {name: c, slots: many}\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [issue] = info.value.issues
    assert issue.file == str(tmp_path / "hosts.yaml") and issue.line == 2
    assert "slots" in issue.field


def test_missing_hosts_file(tmp_path: Path) -> None:
    [message] = errors(tmp_path, "hosts: nowhere.yaml")
    assert f"hosts file {tmp_path / 'nowhere.yaml'} does not exist" in message


def test_hosts_is_required_and_not_empty(tmp_path: Path) -> None:
    assert "missing required key 'hosts'" in errors(tmp_path, "user: etl")[0]
    assert "must name at least one host" in errors(tmp_path, "hosts: []")[0]
