"""`jobctl cron FILE`: crontab lines for every scheduled job of a spec."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import JsonOption, console, print_json


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
    from orchestrator.api.crontab import crontab_entries

    logs = (log_dir or Path.home() / ".local" / "state" / "jobctl" / "cron").resolve()
    entries = crontab_entries(spec, _jobctl_path(), logs)
    if json_output:
        print_json(
            [
                {
                    "job": item.job,
                    "schedule": item.schedule,
                    "next_fire": item.next_fire,
                    "line": item.line,
                }
                for item in entries
            ]
        )
        return
    console.print(f"# jobctl cron {spec}: logs in {logs}", markup=False)
    for item in entries:
        console.print(item.line, markup=False, soft_wrap=True)
