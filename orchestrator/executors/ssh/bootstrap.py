"""``jobctl hosts bootstrap``: this exact jobctl in a versioned venv on a host with no index.

1. Ask the host's python for its version and platform.
2. Build a wheelhouse here: our own wheel (``pip wheel --no-deps`` of the
   source tree, rebuilt every time so the code shipped is the code here) and
   wheels of every dependency, pinned to the versions installed here, cached
   under ``~/.cache/jobctl/wheelhouse/<version>-<python>-<platform>``.
   Building it may use the network (the package index); the host never does.
3. Ship the wheelhouse over SFTP to ``WORKDIR/wheelhouse`` (files already
   there with the same size are skipped).
4. ``python -m venv WORKDIR/venv-<version>`` and ``pip install --no-index
   --find-links WORKDIR/wheelhouse`` there, then check that the venv imports
   this version.

Every remote argument is quoted; the host's pip runs with no configuration
file, so it cannot reach for an index either.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import posixpath
import shlex
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

import orchestrator
from orchestrator.errors import BootstrapError
from orchestrator.executors.ssh.connect import HostConnection
from orchestrator.executors.ssh.remote_commands import python_command, quote_all
from orchestrator.spec.ssh import DEFAULT_CONNECT_TIMEOUT, HostSpec

#: seconds the wheelhouse build (pip, maybe downloading) may take
BUILD_TIMEOUT = 900.0
#: seconds the remote venv creation and install may take
INSTALL_TIMEOUT = 900.0
DIST_NAME = "jobctl"

_TARGET_PROBE = (
    "import json, os, platform, sysconfig; print(json.dumps({'python': "
    "platform.python_version(), 'platform': sysconfig.get_platform(), 'workdir': os.getcwd()}))"
)

Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Target:
    """The interpreter the wheels are for."""

    python: str  # "3.11.7"
    platform: str  # sysconfig.get_platform(): "linux-x86_64"

    @property
    def minor(self) -> str:
        return ".".join(self.python.split(".")[:2])

    @property
    def is_local(self) -> bool:
        here = Target(platform.python_version(), sysconfig.get_platform())
        return (self.minor, self.platform) == (here.minor, here.platform)


@dataclass(frozen=True)
class BootstrapResult:
    host: str
    python: str  # the venv's interpreter, absolute on the host
    version: str
    uploaded: int  # wheel files sent this time
    uploaded_bytes: int
    wheels: int

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)


def project_dir() -> Path:
    """The source tree of the running jobctl (bootstrap ships what runs here)."""
    root = Path(orchestrator.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise BootstrapError(
            f"jobctl runs from {root}, not a source tree: bootstrap builds its wheel from one"
        )
    return root


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "jobctl" / "wheelhouse"


def _pins() -> list[str]:
    """``name==version`` of every distribution installed here except jobctl: the
    remote venv gets the dependency versions this jobctl runs with."""
    pins = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").strip()
        if name and name.lower() != DIST_NAME:
            pins[name.lower()] = f"{name}=={dist.version}"
    return sorted(pins.values())


def _requirements() -> list[str]:
    """jobctl's own dependencies (no extras)."""
    found = importlib.metadata.requires(DIST_NAME) or []
    return [req for req in found if "extra ==" not in req]


def _platform_tags(plat: str) -> list[str]:
    """pip ``--platform`` tags for a sysconfig platform (Linux manylinux, macOS)."""
    system, _, machine = plat.partition("-")
    if system == "linux":
        return [f"manylinux_2_{n}_{machine}" for n in (28, 17)] + [f"manylinux2014_{machine}"]
    return [plat.replace("-", "_").replace(".", "_")]


def build_wheelhouse(target: Target, *, rebuild: bool = False, run: Runner = _run) -> Path:
    """The wheelhouse for ``target`` (dependencies cached; our wheel always rebuilt)."""
    folder = cache_root() / f"{orchestrator.__version__}-py{target.minor}-{target.platform}"
    folder.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    for old in folder.glob(f"{DIST_NAME}-*.whl"):
        old.unlink()
    own = run([*pip, "wheel", "--no-deps", "--wheel-dir", str(folder), str(project_dir())])
    _check(own, "building the jobctl wheel")
    done = folder / ".dependencies-complete"
    # The marker holds the requirements it was built for: a dependency added
    # to jobctl since (same version number during development) rebuilds it.
    wanted = "\n".join(["ok", *_requirements()]) + "\n"
    if rebuild or not done.exists() or done.read_text() != wanted:
        constraints = folder / "constraints.txt"
        constraints.write_text("\n".join(_pins()) + "\n")
        if target.is_local:
            argv = [*pip, "wheel", "--wheel-dir", str(folder), "-c", str(constraints)]
        else:
            argv = [*pip, "download", "--dest", str(folder), "-c", str(constraints)]
            argv += ["--only-binary=:all:", "--python-version", target.minor]
            argv += ["--implementation", "cp"]
            for tag in _platform_tags(target.platform):
                argv += ["--platform", tag]
        _check(run([*argv, *_requirements()]), "collecting the dependencies' wheels")
        done.write_text(wanted)
    return folder


def _check(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-4:])
        raise BootstrapError(f"{what} failed (pip exit {result.returncode}): {tail}")


def remote_target(connection: HostConnection) -> tuple[Target, str]:
    """The host python's version and platform, and its absolute workdir."""
    result = connection.run(python_command(connection.host, "-c", _TARGET_PROBE), timeout=60)
    if not result.ok:
        tail = result.stderr.decode("utf-8", "replace").strip()[-300:]
        raise BootstrapError(
            f"host {connection.host.name}: python {connection.host.python!r} does not run "
            f"(status {result.status}): {tail}"
        )
    found = json.loads(result.text())
    version = tuple(int(p) for p in str(found["python"]).split(".")[:2])
    if version < (3, 11):
        raise BootstrapError(f"host {connection.host.name}: python {found['python']} < 3.11")
    return Target(found["python"], found["platform"]), str(found["workdir"])


def _upload(sftp: paramiko.SFTPClient, folder: Path, remote: str) -> tuple[int, int, int]:
    """Send the wheels the host lacks; (files sent, bytes sent, wheels in the house)."""
    try:
        sftp.stat(remote)
    except OSError:
        sftp.mkdir(remote)
    present = {entry.filename: entry.st_size for entry in sftp.listdir_attr(remote)}
    sent = sent_bytes = 0
    wheels = sorted(folder.glob("*.whl"))
    for wheel in wheels:
        size = wheel.stat().st_size
        if wheel.name.startswith(f"{DIST_NAME}-") or present.get(wheel.name) != size:
            sftp.put(str(wheel), posixpath.join(remote, wheel.name))
            sent += 1
            sent_bytes += size
    return sent, sent_bytes, len(wheels)


def bootstrap_host(
    host: HostSpec,
    *,
    known_hosts: str | None = None,
    accept_new_host_keys: bool = False,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    rebuild: bool = False,
    run: Runner = _run,
) -> BootstrapResult:
    """Install this jobctl on ``host`` (see the module docstring)."""
    version = orchestrator.__version__
    connection = HostConnection(
        host, known_hosts=known_hosts, accept_new_host_keys=accept_new_host_keys, timeout=timeout
    )
    try:
        target, workdir = remote_target(connection)
        folder = build_wheelhouse(target, rebuild=rebuild, run=run)
        house = posixpath.join(workdir, "wheelhouse")
        try:
            sftp = connection.client().open_sftp()
            try:
                sent, sent_bytes, wheels = _upload(sftp, folder, house)
            finally:
                sftp.close()
        except (OSError, paramiko.SSHException) as exc:
            raise BootstrapError(
                f"host {host.name}: shipping the wheelhouse failed: {exc}"
            ) from None
        venv = posixpath.join(workdir, f"venv-{version}")
        python = posixpath.join(venv, "bin", "python")
        own = next(folder.glob(f"{DIST_NAME}-{version}-*.whl"))
        pip = [python, "-m", "pip", "--disable-pip-version-check", "--no-input", "install"]
        pip += ["--no-index", "--find-links", house]
        steps = [
            quote_all([host.python, "-m", "venv", venv]),
            quote_all([*pip, f"{DIST_NAME}=={version}"]),
            quote_all([*pip, "--no-deps", "--force-reinstall", posixpath.join(house, own.name)]),
            quote_all([python, "-c", "import orchestrator; print(orchestrator.__version__)"]),
        ]
        script = f"cd {shlex.quote(workdir)} && export PIP_CONFIG_FILE=/dev/null && " + " && ".join(
            steps
        )
        result = connection.run(script, timeout=INSTALL_TIMEOUT)
        if not result.ok or result.text().splitlines()[-1:] != [version]:
            tail = " | ".join(result.stderr.decode("utf-8", "replace").strip().splitlines()[-4:])
            raise BootstrapError(
                f"host {host.name}: installing jobctl {version} in {venv} failed "
                f"(status {result.status}): {tail}"
            )
        return BootstrapResult(host.name, python, version, sent, sent_bytes, wheels)
    finally:
        connection.close()
