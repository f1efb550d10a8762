"""The ``executor.ssh`` section: which hosts run chunks, how to reach them, how data travels.

A job holds the section as an :class:`SshExecutorSpec` (``ExecutorSpec.ssh``):
validated here when the spec is loaded, with ``file:line`` errors like every
other section, and parsed once into typed fields; its plain data (a read-only
mapping) is the canonical form the store keeps and the spec hash covers. A
named hosts file is read again when a run builds its slots
(:meth:`SshExecutorSpec.resolve`, giving :class:`SshSpec` / :class:`HostSpec`),
so hosts edited between submit and run are the ones used. ``hosts:
hosts.yaml`` names a separate inventory file, read with the same
line-numbered, ``safe_load``-only YAML reader and checked at spec load too, so
a typo there is found before anything runs.

Canonical keys (extensions keep these)::

    executor:
      ssh:
        known_hosts: ~/.ssh/known_hosts   # an extra file; ~/.ssh/known_hosts is always read
        transfer: auto                    # auto | shared | push
        connect_timeout: 10s
        requires: {pool: big, labels: [gpu], memory: 8GiB}   # hard filters of slot choice
        prefers: {labels: [ssd]}          # scored when placing chunks, never required
        unreachable_timeout: 5m           # no slot can take the chunks this long: job fails
        user: etl                         # any host key here is a default for every host
        hosts:                            # or: hosts: hosts.yaml
          - {name: h1, address: etl-01.example.com, port: 22, user: etl,
             identity_file: ~/.ssh/id_ed25519, python: /opt/venv/bin/python,
             workdir: /var/tmp/jobctl, slots: 4, pool: default, labels: [gpu],
             env: {PYTHONPATH: /srv/code}}
          - h2                            # a host registered with `jobctl hosts add`,
                                          # or an alias of ~/.ssh/config
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.errors import SpecError, SpecIssue
from orchestrator.spec.local_paths import resolve_path

# The store keeps hosts as HostSpec, so every store user imports this module:
# the validation half (YAML reader, checks, units, secret scan) is imported
# where a section or a hosts file is read, not here.
if TYPE_CHECKING:
    from orchestrator.spec.checks import Checker
    from orchestrator.spec.yaml_nodes import YMap, YNode

TRANSFER_MODES: tuple[str, ...] = ("auto", "shared", "push")
#: keys a host entry may set; the same keys at the section level are defaults
HOST_DEFAULT_KEYS: tuple[str, ...] = (
    "port",
    "user",
    "identity_file",
    "python",
    "workdir",
    "slots",
    "pool",
    "labels",
    "env",
)
HOST_KEYS: tuple[str, ...] = ("name", "address", *HOST_DEFAULT_KEYS)
SSH_KEYS: tuple[str, ...] = (
    "known_hosts",
    "transfer",
    "connect_timeout",
    "hosts",
    *HOST_DEFAULT_KEYS,
)
#: keys of a job's section only (not of a hosts file): what its chunks need
#: from a slot, and how long it waits when no slot can take them
JOB_SSH_KEYS: tuple[str, ...] = ("requires", "prefers", "unreachable_timeout")
REQUIRES_KEYS: tuple[str, ...] = ("pool", "labels", "memory")
PREFERS_KEYS: tuple[str, ...] = ("labels",)

#: the remote interpreter when a host names none
DEFAULT_PYTHON = "python3"
#: the remote working directory when a host names none (``~`` is the remote home)
DEFAULT_WORKDIR = "~/.jobctl"
#: seconds to wait for a TCP connection, the SSH banner and authentication
DEFAULT_CONNECT_TIMEOUT = 10.0
#: the user's own known_hosts, always consulted
USER_KNOWN_HOSTS = "~/.ssh/known_hosts"
#: seconds a job waits while no slot can take its chunks (every host down,
#: drained or short of memory) before the run fails it; ``jobctl resume`` goes on
DEFAULT_UNREACHABLE_TIMEOUT = 300.0
#: an inventory file is configuration; anything bigger is a mistake
MAX_HOSTS_FILE_BYTES = 1024 * 1024

HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATH_KEYS = ("identity_file",)


@dataclass(frozen=True)
class HostSpec:
    """One remote host as the executor uses it (defaults applied)."""

    name: str
    address: str
    port: int | None = None  # None: the ~/.ssh/config Port, else 22
    user: str | None = None  # None: the ~/.ssh/config User, else the local user
    identity_file: str | None = None  # None: the ssh-agent and the default keys
    python: str = DEFAULT_PYTHON
    workdir: str = DEFAULT_WORKDIR
    slots: int = 1
    pool: str = "default"
    labels: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the canonical key names (``jobctl hosts list --json``)."""
        return {
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "user": self.user,
            "identity_file": self.identity_file,
            "python": self.python,
            "workdir": self.workdir,
            "slots": self.slots,
            "pool": self.pool,
            "labels": list(self.labels),
            "env": dict(self.env),
        }


@dataclass(frozen=True)
class HostRequirements:
    """What a job's chunks need from a slot (``requires``) and prefer (``prefers``).

    They filter every slot of the run, local ones too (a local slot is host
    ``localhost`` in pool ``default`` with no labels).
    """

    pool: str | None = None
    labels: tuple[str, ...] = ()
    memory: int | None = None  # bytes free on the host
    preferred_labels: tuple[str, ...] = ()

    def describe(self) -> str:
        """``pool big, labels gpu, memory 8.0 GiB`` (empty when nothing is required)."""
        parts = [f"pool {self.pool}"] if self.pool else []
        parts += [f"labels {', '.join(self.labels)}"] if self.labels else []
        parts += [f"memory {self.memory / 2**30:.1f} GiB"] if self.memory else []
        return ", ".join(parts)


@dataclass(frozen=True)
class SshSpec:
    """The typed ``executor.ssh`` section, with a hosts file already read."""

    hosts: tuple[HostSpec, ...]
    known_hosts: str | None = None
    transfer: str = "auto"
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    #: hosts given by bare name: a host registered in the store of that name wins
    bare_names: frozenset[str] = frozenset()
    requires: HostRequirements = HostRequirements()
    unreachable_timeout: float = DEFAULT_UNREACHABLE_TIMEOUT


@dataclass(frozen=True, eq=False)
class SshExecutorSpec(Mapping[str, Any]):
    """A job's ``executor.ssh``: typed fields parsed once at load, over its plain data.

    It is also a read-only mapping of the validated plain data (compares equal
    to it), because that data is what the store keeps and the spec hash covers.
    Typed here are the keys only a job's section has (``requires``,
    ``prefers``, ``unreachable_timeout``); the hosts and the keys a hosts file
    may set too (``transfer``, ``known_hosts``, ``connect_timeout``, host
    defaults) come from :meth:`resolve`, which reads that file when a run
    needs them.
    """

    data: Mapping[str, Any]
    #: the hosts file the section names (absolute), or None for inline hosts
    hosts_file: str | None = None
    requires: HostRequirements = HostRequirements()
    unreachable_timeout: float = DEFAULT_UNREACHABLE_TIMEOUT

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SshExecutorSpec:
        """Parse validated plain data (from the spec reader or our own store)."""
        plain = copy.deepcopy(dict(data))
        hosts = plain.get("hosts")
        return cls(
            data=plain,
            hosts_file=hosts if isinstance(hosts, str) else None,
            requires=requirements_from_dict(plain),
            unreachable_timeout=_unreachable_timeout(plain),
        )

    def to_dict(self) -> dict[str, Any]:
        """The plain data, a copy (JSON-able)."""
        return copy.deepcopy(dict(self.data))

    def resolve(self) -> SshSpec:
        """The hosts as the executor uses them; reads the hosts file now.

        Raises :class:`SpecError` when that file is no longer valid.
        """
        return ssh_spec_from_dict(self.data)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


# -- validation of host entries (a job section or a hosts file) --------------------


def plain_mapping(node: YMap) -> dict[str, Any]:
    """A YAML mapping as plain data (what the store keeps)."""
    from orchestrator.spec.yaml_nodes import to_plain

    plain = to_plain(node)
    assert isinstance(plain, dict)
    return plain


def check_host_list(
    c: Checker, node: YNode, p: str, base_dir: str, out: dict[str, Any], key: str
) -> None:
    from orchestrator.spec.yaml_nodes import YMap, YScalar, YSeq

    if c.reported(node):
        return
    if not isinstance(node, YSeq):
        c.expected(node, p, "a list of hosts (names or mappings) or a hosts file name")
        return
    if not node.items:
        c.add(node, p, "must name at least one host")
    seen: set[str] = set()
    for i, item in enumerate(node.items):
        where = f"{p}[{i}]"
        name: str | None = None
        if isinstance(item, YMap):
            c.keys(item, where, HOST_KEYS, required=("name",))
            entry = out[key][i]
            check_host_fields(c, item, where, base_dir, entry)
            if (name_node := item.get("name")) is not None:
                name = _host_name(c, name_node, f"{where}.name")
            if (address := item.get("address")) is not None:
                _address(c, address, f"{where}.address")
        elif isinstance(item, YScalar) and isinstance(item.value, str):
            name = _host_name(c, item, where)
        elif not c.reported(item):
            c.expected(item, where, "a host name or a mapping with name, address, ...")
        if name is not None:
            if name in seen:
                c.add(item, where, f"host {name!r} is listed twice")
            seen.add(name)


def check_host_fields(c: Checker, node: YMap, p: str, base_dir: str, out: dict[str, Any]) -> None:
    """The keys a host entry shares with the section's defaults."""
    from orchestrator.spec.yaml_nodes import YScalar

    get = node.get
    if (port := get("port")) is not None:
        value = c.integer(port, f"{p}.port", minimum=1)
        if value is not None and value > 65535:
            c.add(port, f"{p}.port", f"must be a TCP port (1-65535), got {value}")
    for key in ("user", "python", "workdir", "pool"):
        if (value_node := get(key)) is not None:
            c.string(value_node, f"{p}.{key}")
    for key in _PATH_KEYS:
        if (value_node := get(key)) is not None and (raw := c.string(value_node, f"{p}.{key}")):
            out[key] = resolve_path(raw, base_dir)
    if (slots := get("slots")) is not None:
        c.integer(slots, f"{p}.slots", minimum=1)
    if (labels := get("labels")) is not None:
        c.string_list(labels, f"{p}.labels")
    if (env := get("env")) is not None and (env_map := c.mapping(env, f"{p}.env")) is not None:
        for name, (key_node, env_value) in env_map.entries.items():
            if not ENV_NAME.fullmatch(name):
                c.add(key_node, f"{p}.env", f"invalid environment variable name {name!r}")
            raw_value = env_value.value if isinstance(env_value, YScalar) else None
            scalar = isinstance(raw_value, str | int | float) and not isinstance(raw_value, bool)
            if not scalar and not c.reported(env_value):
                c.expected(env_value, f"{p}.env.{name}", "a string")


def _host_name(c: Checker, node: YNode, path: str) -> str | None:
    name = c.string(node, path)
    if name is not None and not HOST_NAME.fullmatch(name):
        c.add(
            node,
            path,
            f"invalid host name {c.shown(node)}: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (at most 64 characters)",
        )
        return None
    return name


def _address(c: Checker, node: YNode, path: str) -> None:
    address = c.string(node, path)
    if address is not None and (address.startswith("-") or any(ch.isspace() for ch in address)):
        c.add(node, path, f"invalid address {c.shown(node)}: a host name or IP address")


def read_hosts_file(path: str) -> tuple[dict[str, Any] | None, list[SpecIssue]]:
    """A hosts file as plain data (a list of hosts, or a mapping like the ssh
    section), and every problem found in it, located in that file."""
    from orchestrator.spec import secret_scan
    from orchestrator.spec.checks import Checker
    from orchestrator.spec.yaml_nodes import YamlProblem, YMap, YSeq, parse_yaml, to_plain

    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_HOSTS_FILE_BYTES + 1)
    except OSError as exc:
        return None, [SpecIssue(path, None, None, "", f"cannot read the hosts file: {exc}")]
    if len(data) > MAX_HOSTS_FILE_BYTES:
        return None, [SpecIssue(path, None, None, "", "hosts file larger than 1 MiB")]
    try:
        root, problems = parse_yaml(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None, [SpecIssue(path, None, None, "", "not UTF-8 text")]
    except YamlProblem as problem:
        return None, [SpecIssue(path, problem.line, problem.column, "", problem.message)]
    c = Checker(path)
    c.issues.extend(SpecIssue(path, f.line, f.column, f.field, f.message) for f in problems)
    base_dir = os.path.dirname(os.path.abspath(path))
    if root is None:
        c.add(None, "", "the hosts file is empty")
        return None, c.sorted_issues()
    hits, c.hidden = secret_scan.scan(root)
    for hit in hits:
        c.add(hit.node, hit.path, hit.message)
    if isinstance(root, YSeq):
        out: dict[str, Any] = {"hosts": [to_plain(item) for item in root.items]}
        check_host_list(c, root, "hosts", base_dir, out, "hosts")
    elif isinstance(root, YMap):
        out = plain_mapping(root)
        c.keys(root, "", SSH_KEYS, required=("hosts",))
        check_host_fields(c, root, "", base_dir, out)
        if (kh := root.get("known_hosts")) is not None and (raw := c.string(kh, "known_hosts")):
            out["known_hosts"] = resolve_path(raw, base_dir)
        if (transfer := root.get("transfer")) is not None:
            c.choice(transfer, "transfer", TRANSFER_MODES)
        if (timeout := root.get("connect_timeout")) is not None:
            c.duration(timeout, "connect_timeout")
        if (hosts := root.get("hosts")) is not None:
            check_host_list(c, hosts, "hosts", base_dir, out, "hosts")
    else:
        c.expected(root, "", "a list of hosts or a mapping with 'hosts'")
        return None, c.sorted_issues()
    return (None if c.issues else out), c.sorted_issues()


# -- the typed form, for the executor -----------------------------------------------------


def ssh_spec_from_dict(data: Mapping[str, Any]) -> SshSpec:
    """The typed section from validated plain data; reads a named hosts file.

    Raises :class:`SpecError` when the hosts file changed since the spec was
    loaded and is no longer valid.
    """
    section = dict(data)
    hosts_value = section.get("hosts")
    if isinstance(hosts_value, str):
        loaded, issues = read_hosts_file(hosts_value)
        if loaded is None:
            raise SpecError(issues)
        merged = {k: v for k, v in loaded.items() if k != "hosts"}
        merged.update({k: v for k, v in section.items() if k != "hosts"})
        merged["hosts"] = loaded.get("hosts") or []
        section = merged
    defaults = {k: section[k] for k in HOST_DEFAULT_KEYS if section.get(k) is not None}
    hosts: list[HostSpec] = []
    bare: set[str] = set()
    for item in section.get("hosts") or []:
        if isinstance(item, str):
            bare.add(item)
            hosts.append(host_from_dict({"name": item, "address": item}, defaults))
        else:
            hosts.append(host_from_dict(item, defaults))
    timeout = section.get("connect_timeout")
    return SshSpec(
        hosts=tuple(hosts),
        known_hosts=section.get("known_hosts"),
        transfer=section.get("transfer") or "auto",
        connect_timeout=_seconds(timeout) if timeout is not None else DEFAULT_CONNECT_TIMEOUT,
        bare_names=frozenset(bare),
        requires=requirements_from_dict(section),
        unreachable_timeout=_unreachable_timeout(section),
    )


def requirements_from_dict(section: Mapping[str, Any] | None) -> HostRequirements:
    """The ``requires``/``prefers`` of a validated section (nothing required without one)."""
    from orchestrator.spec.units import parse_size

    requires = dict((section or {}).get("requires") or {})
    prefers = dict((section or {}).get("prefers") or {})
    memory = requires.get("memory")
    return HostRequirements(
        pool=str(requires["pool"]) if requires.get("pool") is not None else None,
        labels=tuple(str(label) for label in requires.get("labels") or ()),
        memory=parse_size(memory) if memory is not None else None,
        preferred_labels=tuple(str(label) for label in prefers.get("labels") or ()),
    )


def host_from_dict(item: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> HostSpec:
    """A :class:`HostSpec` from a validated mapping, section defaults filled in."""
    merged = {**(defaults or {}), **{k: v for k, v in item.items() if v is not None}}
    name = str(merged["name"])
    identity = merged.get("identity_file")
    return HostSpec(
        name=name,
        address=str(merged.get("address") or name),
        port=int(merged["port"]) if merged.get("port") is not None else None,
        user=merged.get("user"),
        identity_file=os.path.expanduser(identity) if identity else None,
        python=str(merged.get("python") or DEFAULT_PYTHON),
        workdir=str(merged.get("workdir") or DEFAULT_WORKDIR),
        slots=int(merged.get("slots") or 1),
        pool=str(merged.get("pool") or "default"),
        labels=tuple(str(label) for label in merged.get("labels") or ()),
        env={str(k): str(v) for k, v in (merged.get("env") or {}).items()},
    )


def _unreachable_timeout(section: Mapping[str, Any]) -> float:
    wait = section.get("unreachable_timeout")
    return _seconds(wait) if wait is not None else DEFAULT_UNREACHABLE_TIMEOUT


def _seconds(value: Any) -> float:
    from orchestrator.spec.units import parse_duration

    return float(parse_duration(value))
