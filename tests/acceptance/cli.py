"""Run the real `jobctl` console script as a user types it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def jobctl_argv() -> list[str]:
    script = Path(sys.executable).parent / "jobctl"
    if script.exists():
        return [str(script)]
    found = shutil.which("jobctl")
    return [found] if found else [sys.executable, "-m", "orchestrator.cli.app"]


def cli_env(home: Path, db_url: str | None = None) -> dict[str, str]:
    """An environment with its own data dir, the test processors importable."""
    env = dict(os.environ)
    env["XDG_DATA_HOME"] = str(home / "data")
    env["XDG_STATE_HOME"] = str(home / "state")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("JOBCTL_DATABASE_URL", None)
    env.pop("JOBCTL_DEBUG", None)
    if db_url:
        env["JOBCTL_DATABASE_URL"] = db_url
    return env


def jobctl(
    *args: str, env: dict[str, str], timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*jobctl_argv(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def jobctl_popen(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*jobctl_argv(), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
