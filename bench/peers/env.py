"""The peers' own environment: a separate venv, Debian tools and a Redis server.

Runs in the project venv (standard library only). The peers' dependencies live
in ``bench/.peers-venv`` so that they never touch the project's ``.venv``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[1]
PEERS_DIR = BENCH_DIR / "peers"
PEERS_VENV = BENCH_DIR / ".peers-venv"

# What the peer scripts import. Unpinned on purpose: each peer reports the
# version it ran with; pin here if a release breaks a peer.
PEER_REQUIREMENTS: tuple[str, ...] = (
    "celery[redis]",
    "redis",
    "dask[distributed]",
    "procrastinate",
    "pgqueuer",
    "psycopg[binary]",
    "pyarrow",
    "duckdb",
    "pandas",
    "psutil",
    "pandera[polars]",
    "polars",
    "splink",  # the identity scenario (bench/identity.py): Splink 5 on DuckDB
)

# command on PATH -> Debian package that provides it
DEBIAN_TOOLS: dict[str, str] = {"parallel": "parallel", "redis-server": "redis-server"}

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
REDIS_FALLBACK_PORT = 6390


def log(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


def peer_python() -> Path:
    return PEERS_VENV / "bin" / "python"


def ensure_peer_env(requirements: Iterable[str] = PEER_REQUIREMENTS) -> Path:
    """Create ``bench/.peers-venv`` if missing, install the peers; return its python."""
    reqs = sorted(set(requirements))
    python = peer_python()
    stamp = PEERS_VENV / ".peers-installed"
    wanted = "\n".join(reqs) + "\n"
    if not python.exists():
        log(f"creating {PEERS_VENV}")
        # sys.executable may itself be a venv's python: venv then uses its base.
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    log(f"installing the peers into {PEERS_VENV}: {' '.join(reqs)}")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs],
        check=True,
    )
    stamp.write_text(wanted)
    return python


def _as_root(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return cmd
    if shutil.which("sudo") is None:
        raise RuntimeError(f"need root to run {' '.join(cmd)} (no sudo)")
    return ["sudo", *cmd]


def ensure_debian(pkgs: Iterable[str] = ("parallel", "redis-server")) -> None:
    """apt-get install those of ``pkgs`` whose command is not on PATH."""
    missing = [p for p in pkgs if shutil.which(p) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise RuntimeError(f"cannot install {' '.join(missing)}: no apt-get; install it yourself")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    debs = [DEBIAN_TOOLS.get(p, p) for p in missing]
    log(f"installing Debian packages: {' '.join(debs)}")
    subprocess.run(_as_root(["apt-get", "update", "-qq"]), check=True, env=env)
    subprocess.run(
        _as_root(["apt-get", "install", "-y", "-qq", *debs]),
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    if "parallel" in missing:
        # Silence GNU parallel's citation notice once for this user.
        home = Path.home() / ".parallel"
        home.mkdir(exist_ok=True)
        (home / "will-cite").touch()


def redis_ping(host: str = REDIS_HOST, port: int = REDIS_PORT, timeout: float = 1.0) -> bool:
    """True if a Redis server answers PING at host:port (raw RESP, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis(db: int = 0) -> str:
    """URL of a running Redis: 127.0.0.1:6379 if it answers, else one started on 6390."""
    if redis_ping(REDIS_HOST, REDIS_PORT):
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    if not redis_ping(REDIS_HOST, REDIS_FALLBACK_PORT):
        ensure_debian(["redis-server"])
        log(f"starting redis-server on {REDIS_HOST}:{REDIS_FALLBACK_PORT}")
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(REDIS_FALLBACK_PORT),
                "--bind",
                REDIS_HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not redis_ping(REDIS_HOST, REDIS_FALLBACK_PORT):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on port {REDIS_FALLBACK_PORT}")
            time.sleep(0.05)
    return f"redis://{REDIS_HOST}:{REDIS_FALLBACK_PORT}/{db}"


if __name__ == "__main__":
    ensure_debian()
    print(ensure_peer_env())
    print(ensure_redis())
