"""A job's ``env:`` section: what user code gets beyond the stripped environment.

Workers and ``command:`` programs run with the coordinator's environment
minus the store's credentials (``JOBCTL_DATABASE_URL`` and every ``PG*``
variable: ``dispatch/userenv.py``). A job names what its code needs on top:

    env:
      pass: [AWS_PROFILE]        # taken from the coordinator's environment
      set: {TZ: UTC, LANG: C.UTF-8}

The store's URL can never be passed. Secret-looking names or values in
``set`` are refused by the spec's secret scan (credentials belong in the
environment, passed by name).
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.spec.checks import Checker
from orchestrator.spec.yaml_nodes import YNode, YScalar

ENV_KEYS = ("pass", "set")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: never given to user code, whatever a spec says
STORE_URL_VARIABLE = "JOBCTL_DATABASE_URL"


def read_env(c: Checker, node: YNode | None, path: str) -> dict[str, Any] | None:
    """``{"pass": [...], "set": {...}}`` (canonical, stored with the job), or None."""
    if node is None:
        return None
    section = c.mapping(node, path)
    if section is None:
        return None
    c.keys(section, path, ENV_KEYS)
    passed: list[str] = []
    pass_node = section.get("pass")
    for name, item in c.string_list(pass_node, f"{path}.pass") or [] if pass_node else []:
        if _name_ok(c, item, f"{path}.pass", name):
            passed.append(name)
    values: dict[str, str] = {}
    set_node = section.get("set")
    mapping = c.mapping(set_node, f"{path}.set") if set_node is not None else None
    for name, (key_node, value_node) in (mapping.entries if mapping else {}).items():
        where = f"{path}.set.{name}"
        if not _name_ok(c, key_node, f"{path}.set", name) or c.reported(value_node):
            continue
        if not isinstance(value_node, YScalar) or value_node.value is None:
            c.expected(value_node, where, "a string or a number")
        elif isinstance(value_node.value, bool):
            c.expected(value_node, where, "a string (quote true/false)")
        else:
            values[name] = str(value_node.value)
    return {"pass": sorted(set(passed)), "set": dict(sorted(values.items()))}


def _name_ok(c: Checker, node: YNode, path: str, name: str) -> bool:
    if not ENV_NAME.fullmatch(name):
        c.add(node, path, f"{name!r} is not an environment variable name")
        return False
    if name == STORE_URL_VARIABLE:
        c.add(node, path, f"{name} is the store's credential: it is never given to user code")
        return False
    return True
