"""A job's ``executor.ssh`` section, checked at spec load.

The section shares its host keys with a hosts file (checked in
:mod:`orchestrator.spec.ssh`, which a run reads again); what only a job's
section holds is checked here: which hosts (a list or a hosts file name), and
what its chunks need from a slot (``requires``, ``prefers``,
``unreachable_timeout``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from orchestrator.spec.local_paths import resolve_path
from orchestrator.spec.ssh import (
    JOB_SSH_KEYS,
    PREFERS_KEYS,
    REQUIRES_KEYS,
    SSH_KEYS,
    TRANSFER_MODES,
    check_host_fields,
    check_host_list,
    plain_mapping,
    read_hosts_file,
)

if TYPE_CHECKING:
    from orchestrator.spec.checks import Checker
    from orchestrator.spec.yaml_nodes import YMap


def read_ssh_section(c: Checker, node: YMap, p: str, base_dir: str) -> dict[str, Any]:
    """Validate ``executor.ssh``; return it as plain data with local paths resolved.

    Every problem is recorded on ``c``; problems in a named hosts file are
    reported at that file's lines.
    """
    from orchestrator.spec.yaml_nodes import YScalar

    c.keys(node, p, (*SSH_KEYS, *JOB_SSH_KEYS))
    out = plain_mapping(node)
    check_host_fields(c, node, p, base_dir, out)
    _check_requirements(c, node, p, out)
    if (kh := node.get("known_hosts")) is not None and (raw := c.string(kh, f"{p}.known_hosts")):
        out["known_hosts"] = resolve_path(raw, base_dir)
    if (transfer := node.get("transfer")) is not None:
        c.choice(transfer, f"{p}.transfer", TRANSFER_MODES)
    if (timeout := node.get("connect_timeout")) is not None:
        c.duration(timeout, f"{p}.connect_timeout")
    hosts = node.get("hosts")
    if hosts is None:
        c.add(node, p, "missing required key 'hosts' (a list of hosts, or a hosts file name)")
    elif isinstance(hosts, YScalar) and isinstance(hosts.value, str):
        path = resolve_path(hosts.value, base_dir)
        out["hosts"] = path
        _, issues = read_hosts_file(path)
        if issues and all(i.line is None for i in issues) and not os.path.exists(path):
            c.add(hosts, f"{p}.hosts", f"hosts file {path} does not exist")
        else:
            c.issues.extend(issues)
    else:
        check_host_list(c, hosts, f"{p}.hosts", base_dir, out, "hosts")
    return out


def _check_requirements(c: Checker, node: YMap, p: str, out: dict[str, Any]) -> None:
    """``requires``, ``prefers`` and ``unreachable_timeout``; memory kept in bytes."""
    if (requires := node.get("requires")) is not None:
        mapping = c.mapping(requires, f"{p}.requires")
        if mapping is not None:
            c.keys(mapping, f"{p}.requires", REQUIRES_KEYS)
            if (pool := mapping.get("pool")) is not None:
                c.string(pool, f"{p}.requires.pool")
            if (labels := mapping.get("labels")) is not None:
                c.string_list(labels, f"{p}.requires.labels")
            if (memory := mapping.get("memory")) is not None:
                nbytes = c.size(memory, f"{p}.requires.memory")
                if nbytes is not None:
                    out["requires"]["memory"] = nbytes
    if (prefers := node.get("prefers")) is not None:
        mapping = c.mapping(prefers, f"{p}.prefers")
        if mapping is not None:
            c.keys(mapping, f"{p}.prefers", PREFERS_KEYS)
            if (labels := mapping.get("labels")) is not None:
                c.string_list(labels, f"{p}.prefers.labels")
    if (wait := node.get("unreachable_timeout")) is not None:
        c.duration(wait, f"{p}.unreachable_timeout")
