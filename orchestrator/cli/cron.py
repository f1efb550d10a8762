"""`jobctl cron FILE`: crontab lines for every scheduled job of a spec."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import JsonOption, console, print_json
from orchestrator.errors import JobctlError


def _jobctl_path() -> str:
    script = Path(sys.argv[0])
    if script.name == "jobctl" and script.exists():
        return str(script.resolve())
    found = shutil.which("jobctl")
    return str(Path(found).resolve()) if found else str(Path(sys.executable).parent / "jobctl")


def cron(
    spec: Annotated[Path, typer.Argument(help="The job spec (YAML).")],
    log_dir: Annotated[
        Path | None, typer.Option("--log-dir", help="Where each job's log goes.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Print crontab lines (install with `crontab -e` or `| crontab -`)."""
    from orchestrator.scheduling.fire_times import crontab_lines, next_fire
    from orchestrator.spec.loader import load_spec
    from orchestrator.store import redact_url

    spec_file = load_spec(spec)
    url = os.environ.get("JOBCTL_DATABASE_URL", "")
    if url and redact_url(url) != url:
        raise JobctlError(
            "JOBCTL_DATABASE_URL contains a password; crontab lines would expose it. "
            "Use ~/.pgpass or a service file instead."
        )
    logs = (log_dir or Path.home() / ".local" / "state" / "jobctl" / "cron").resolve()
    logs.mkdir(parents=True, exist_ok=True)  # cron's >> redirection needs it
    lines = crontab_lines(spec_file, _jobctl_path(), logs, os.environ)
    if json_output:
        print_json(
            [
                {
                    "job": item.job,
                    "schedule": item.schedule,
                    "next_fire": next_fire(item.schedule),
                    "line": item.line,
                }
                for item in lines
            ]
        )
        return
    console.print(f"# jobctl cron {spec}: logs in {logs}", markup=False)
    for item in lines:
        console.print(item.line, markup=False, soft_wrap=True)
