"""Remote command lines, built so that no argument is ever interpreted by the remote shell.

An SSH ``exec`` request is one string that the remote login shell parses, so
every word we put in it goes through :func:`shlex.quote`: a file name like
``$(touch /tmp/pwned); -rf`` arrives as that name, nothing runs. The only
exception is a leading ``~/`` of a path from the inventory, which means the
remote home: it becomes ``"$HOME"/`` followed by the quoted rest. A relative
path that starts with ``-`` gets ``./`` so no command takes it for an option.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from orchestrator.protocol import HEARTBEAT_ENV
from orchestrator.spec.ssh import HostSpec

#: the module a remote slot runs (``python -m``)
WORKER_MODULE = "orchestrator.worker"
#: seconds between a remote worker's heartbeats (its chunks' leases are renewed
#: only while they come, so a stopped or hung remote worker's chunk is taken over)
WORKER_HEARTBEAT_SECONDS = 1.0


def remote_path(path: str) -> str:
    """A path for the remote shell: quoted, with a leading ``~`` meaning the remote home."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        rest = path[2:]
        return '"$HOME"/' + shlex.quote(rest) if rest else '"$HOME"/'
    if path.startswith("-"):  # a relative path that a command would take for an option
        path = "./" + path
    return shlex.quote(path)


def quote_all(argv: Sequence[str]) -> str:
    """``argv`` as one shell command line, every word quoted."""
    return " ".join(shlex.quote(arg) for arg in argv)


#: the first line a remote worker's shell writes to stderr, before it becomes the
#: worker (``exec`` keeps the pid): the coordinator can kill a worker that hangs
#: or is stopped before its ``ready`` frame, which would say the pid
PID_LINE_PREFIX = "jobctl-worker-pid "


def in_workdir(
    host: HostSpec,
    command: str,
    extra_env: dict[str, str] | None = None,
    *,
    announce_pid: bool = False,
) -> str:
    """``command`` run in the host's workdir (created if missing), replacing the shell."""
    workdir = remote_path(host.workdir)
    announce = f'echo "{PID_LINE_PREFIX}$$" >&2 && ' if announce_pid else ""
    env = ""
    variables = {**(extra_env or {}), **host.env}
    if variables:
        pairs = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(variables.items()))
        env = f"env {pairs} "
    return f"mkdir -p {workdir} && cd {workdir} && {announce}exec {env}{command}"


def python_command(host: HostSpec, *args: str) -> str:
    """The host's python with ``args``, in its workdir and environment."""
    return in_workdir(host, " ".join([remote_path(host.python), *(shlex.quote(a) for a in args)]))


def worker_command(host: HostSpec) -> str:
    """``cd WORKDIR && exec env [K=V ...] PYTHON -m orchestrator.worker``, all quoted."""
    heartbeat = {HEARTBEAT_ENV: f"{WORKER_HEARTBEAT_SECONDS:g}"}
    command = f"{remote_path(host.python)} -m {WORKER_MODULE}"
    return in_workdir(host, command, heartbeat, announce_pid=True)


def kill_worker_command(pid: int) -> str:
    """SIGKILL one remote worker, only if that pid still runs a jobctl worker (Linux
    ``/proc``; elsewhere the pid is trusted): no orphan, no innocent victim."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 1:
        raise ValueError(f"not a worker pid: {pid!r}")
    proc = f"/proc/{pid}/cmdline"
    return (
        f"if [ ! -d /proc/self ] || grep -q {shlex.quote(WORKER_MODULE)} {proc}; "
        f"then kill -KILL {pid}; fi 2>/dev/null; true"
    )
