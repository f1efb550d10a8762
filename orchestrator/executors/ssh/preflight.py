"""``jobctl hosts check``: can each host run chunks of this jobctl, and what does it see?

Per host: reachable (TCP + SSH banner), authenticated (host key trusted, our
key accepted), the remote Python's version, the jobctl version importable
there (must equal ours), pyarrow present, free disk in the workdir, and which
of the given paths the host sees as we do (shared storage). The remote side
is one ``python -c`` whose input arrives as JSON on stdin, so no path ever
passes through the remote shell. Hosts are checked in parallel and each gets
its own result: one host's failure never hides the others (a host group
returns partial results).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orchestrator
from orchestrator.errors import HostAuthFailed, HostKeyRejected, HostUnreachable, SshError
from orchestrator.executors.ssh.connect import HostConnection, resolve_endpoint
from orchestrator.executors.ssh.remote_commands import python_command
from orchestrator.spec.model import JobSpec
from orchestrator.spec.ssh import DEFAULT_CONNECT_TIMEOUT, HostSpec

#: the oldest remote Python that runs jobctl
MIN_PYTHON = (3, 11)
#: input files of a spec checked for visibility (the first few of each input)
FILES_PER_INPUT = 3

_PROBE = r"""
import json, os, platform, shutil, sys, sysconfig
req = json.load(sys.stdin)
out = {"python": platform.python_version(), "executable": sys.executable,
       "platform": sysconfig.get_platform(), "workdir": os.getcwd()}
try:
    import orchestrator
    out["jobctl"] = orchestrator.__version__
except Exception:
    out["jobctl"] = None
try:
    import pyarrow
    out["pyarrow"] = pyarrow.__version__
except Exception:
    out["pyarrow"] = None
out["free_bytes"] = shutil.disk_usage(os.getcwd()).free
seen = {}
for item in req["paths"]:
    try:
        if "token" in item:
            with open(item["probe"]) as f:
                seen[item["path"]] = f.read() == item["token"]
        else:
            seen[item["path"]] = os.path.getsize(item["path"]) == item["size"]
    except OSError:
        seen[item["path"]] = False
out["paths"] = seen
print(json.dumps(out))
"""


@dataclass
class HostCheck:
    """What ``hosts check`` found about one host (``--json`` prints these keys)."""

    host: str
    address: str
    reachable: bool = False
    auth_ok: bool = False
    python: str | None = None
    python_ok: bool = False
    jobctl: str | None = None
    version_match: bool = False
    pyarrow: str | None = None
    platform: str | None = None
    free_bytes: int | None = None
    paths: dict[str, bool] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Ready to run chunks (path visibility only decides shared vs push)."""
        return self.auth_ok and self.python_ok and self.version_match and bool(self.pyarrow)

    @property
    def shared(self) -> bool:
        """Every checked path is visible: ``transfer: auto`` would choose shared."""
        return bool(self.paths) and all(self.paths.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "address": self.address,
            "ok": self.ok,
            "reachable": self.reachable,
            "auth_ok": self.auth_ok,
            "python": self.python,
            "python_ok": self.python_ok,
            "jobctl": self.jobctl,
            "local_jobctl": orchestrator.__version__,
            "version_match": self.version_match,
            "pyarrow": self.pyarrow,
            "platform": self.platform,
            "free_bytes": self.free_bytes,
            "paths": dict(self.paths),
            "shared": self.shared,
            "errors": list(self.errors),
        }


def spec_paths(jobs: Sequence[JobSpec]) -> list[str]:
    """The local paths of jobs whose visibility matters: a few input files of each
    input, and each output folder."""
    paths: list[str] = []
    for job in jobs:
        raw = job.input.path
        if raw and "://" not in raw:
            if os.path.isdir(raw):
                names = sorted(os.listdir(raw))[:FILES_PER_INPUT]
                paths += [os.path.join(raw, n) for n in names]
            else:
                paths += sorted(glob.glob(raw))[:FILES_PER_INPUT] or [raw]
        if job.output is not None and "://" not in job.output.path:
            paths.append(job.output.path)  # ends with "/": may not exist yet
    return list(dict.fromkeys(paths))


def _path_requests(paths: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Probe requests: a file is compared by size; a folder (or an output folder,
    ending in ``/``, that does not exist yet) by a token file we write into it, or
    into its nearest existing parent; a missing file is not visible anywhere."""
    requests: list[dict[str, Any]] = []
    probes: list[str] = []
    for path in paths:
        if os.path.isfile(path):
            requests.append({"path": path, "size": os.path.getsize(path)})
            continue
        if not (os.path.isdir(path) or path.endswith("/")):  # an input that is not here
            requests.append({"path": path, "size": -1})
            continue
        folder = path
        while folder and not os.path.isdir(folder):
            folder = os.path.dirname(folder.rstrip("/")) or "/"
        token = secrets.token_hex(16)
        probe = os.path.join(folder, f".jobctl-probe-{token}")
        try:
            with open(probe, "w") as f:
                f.write(token)
        except OSError:
            requests.append({"path": path, "size": -1})
            continue
        probes.append(probe)
        requests.append({"path": path, "probe": probe, "token": token})
    return requests, probes


def check_host(
    host: HostSpec,
    *,
    known_hosts: str | None = None,
    accept_new_host_keys: bool = False,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    paths: Sequence[str] = (),
) -> HostCheck:
    """Check one host; never raises for a problem of the host (see ``errors``)."""
    try:
        address = str(resolve_endpoint(host))
    except SshError as exc:
        return HostCheck(host.name, host.address, errors=[str(exc)])
    result = HostCheck(host.name, address)
    connection = HostConnection(
        host, known_hosts=known_hosts, accept_new_host_keys=accept_new_host_keys, timeout=timeout
    )
    requests, probes = _path_requests(paths)
    try:
        connection.transport()
        result.reachable = result.auth_ok = True
        remote = connection.run(
            python_command(host, "-c", _PROBE),
            timeout=max(timeout, 30.0),
            stdin=json.dumps({"paths": requests}).encode(),
        )
        if not remote.ok:
            tail = remote.stderr.decode("utf-8", "replace").strip().splitlines()[-2:]
            result.errors.append(
                f"python {host.python!r} in {host.workdir!r} failed (status {remote.status}): "
                + " | ".join(tail)
            )
            return result
        _read_probe(result, json.loads(remote.text()))
    except HostUnreachable as exc:  # before connecting, or a command that got no answer
        result.errors.append(str(exc))
    except (HostAuthFailed, HostKeyRejected) as exc:
        result.reachable = True
        result.errors.append(str(exc))
    except SshError as exc:
        result.errors.append(str(exc))
    except ValueError as exc:  # the probe printed something that is not our JSON
        result.errors.append(f"unexpected answer from the remote python: {exc}")
    finally:
        connection.close()
        for probe in probes:
            with contextlib.suppress(OSError):
                os.unlink(probe)
    return result


def _read_probe(result: HostCheck, found: dict[str, Any]) -> None:
    result.python = found.get("python")
    version = tuple(int(p) for p in str(result.python or "0.0").split(".")[:2])
    result.python_ok = version >= MIN_PYTHON
    if not result.python_ok:
        result.errors.append(f"python {result.python} is older than 3.11")
    result.jobctl = found.get("jobctl")
    result.version_match = result.jobctl == orchestrator.__version__
    if result.jobctl is None:
        result.errors.append("jobctl is not installed there (run `jobctl hosts bootstrap`)")
    elif not result.version_match:
        result.errors.append(
            f"jobctl {result.jobctl} there, {orchestrator.__version__} here "
            "(run `jobctl hosts bootstrap`)"
        )
    result.pyarrow = found.get("pyarrow")
    if not result.pyarrow:
        result.errors.append("pyarrow is not importable there")
    result.platform = found.get("platform")
    result.free_bytes = found.get("free_bytes")
    result.paths = {str(k): bool(v) for k, v in (found.get("paths") or {}).items()}


def check_hosts(
    hosts: Sequence[tuple[HostSpec, str | None]],
    *,
    accept_new_host_keys: bool = False,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    paths: Sequence[str] = (),
) -> list[HostCheck]:
    """Check hosts in parallel (each with its known_hosts file); results in order."""
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        futures = [
            pool.submit(
                check_host,
                host,
                known_hosts=known,
                accept_new_host_keys=accept_new_host_keys,
                timeout=timeout,
                paths=paths,
            )
            for host, known in hosts
        ]
        return [future.result() for future in futures]
