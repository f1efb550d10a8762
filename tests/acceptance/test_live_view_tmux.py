"""The live view in a real terminal (tmux) 80 columns wide: no line wraps."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.acceptance.cli import cli_env, jobctl_argv
from tests.acceptance.test_serve import job_spec, logged_job

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def test_the_live_view_fits_80_columns(tmp_path: Path, sqlite_url: str) -> None:
    env = cli_env(tmp_path, sqlite_url)
    name = "a-job-name-long-enough-to-be-cut-at-eighty-columns"
    spec = job_spec(tmp_path / "jobs.yaml", [logged_job(name, 12, tmp_path / "log", 0.3)])
    done = tmp_path / "done"
    command = " ".join(shlex.quote(a) for a in [*jobctl_argv(), "run", str(spec), "--workers", "2"])
    script = f"{command}; echo EXIT $? > {shlex.quote(str(done))}; sleep 60"
    session = f"jobctl-view-{tmp_path.name}"[:60]
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.isidentifier())
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
         f"env {exports} bash -c {shlex.quote(script)}"],
        check=True, env=env,
    )  # fmt: skip
    try:
        captures: list[str] = []
        deadline = time.monotonic() + 90
        while not done.exists() and time.monotonic() < deadline:
            pane = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            )
            captures.append(pane.stdout)
            time.sleep(0.3)
        final = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
        ).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    assert done.read_text().strip() == "EXIT 0", final
    lines = [line.rstrip() for text in [*captures, final] for line in text.splitlines()]
    assert max(len(line) for line in lines) <= 80
    assert any("#1 running" in line and "ETA" in line for line in lines), captures
    assert any("#1 succeeded" in line and "12/12" in line for line in final.splitlines()), final
    assert f"job 1 {name}" in final  # the summary names the job in full
