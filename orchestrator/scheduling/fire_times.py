"""Cron schedules: the fire time a run belongs to, and the crontab that fires it.

A scheduled run is keyed by its fire time (``sched-20261128T0200Z``), not by
the moment the process started: two invocations for the same fire (cron
double-fired, a retry, a second host) compute the same run key, so they
attach to one job instead of duplicating it. croniter computes fire times;
the expression itself was validated when the spec was loaded.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from croniter import croniter

from orchestrator.spec.model import SpecFile

#: Environment variables a cron line carries over from the shell that wrote it.
CRON_ENV_VARS: tuple[str, ...] = (
    "JOBCTL_DATABASE_URL",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGSERVICE",
    "PGPASSFILE",
    "XDG_DATA_HOME",
    "PATH",
    "PYTHONPATH",
)


def last_fire(expression: str, now: datetime | None = None) -> datetime:
    """The most recent fire time at or before ``now`` (UTC, to the minute)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    itr = croniter(expression, moment)
    # croniter's get_prev is strictly before; a run started in its fire minute belongs to it
    if croniter.match(expression, moment):
        return moment
    fire: datetime = itr.get_prev(datetime)
    return fire.astimezone(UTC)


def next_fire(expression: str, after: datetime | None = None) -> datetime:
    moment = (after or datetime.now(UTC)).astimezone(UTC)
    fire: datetime = croniter(expression, moment).get_next(datetime)
    return fire.astimezone(UTC)


def run_key_for(fire: datetime) -> str:
    return "sched-" + fire.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


@dataclass(frozen=True)
class CronLine:
    job: str
    schedule: str
    line: str


def crontab_lines(
    spec: SpecFile,
    jobctl: str,
    log_dir: Path,
    env: Mapping[str, str],
) -> list[CronLine]:
    """One crontab line per scheduled job: absolute paths, environment, logs.

    Secrets are not written: a password in ``JOBCTL_DATABASE_URL`` refuses
    the line's generation (use ``.pgpass`` or a service file instead).
    """
    spec_path = str(Path(spec.path).resolve())
    assignments = []
    for name in CRON_ENV_VARS:
        value = env.get(name)
        if value:
            assignments.append(f"{name}={shlex.quote(value)}")
    lines = []
    for job in spec.jobs:
        if not job.schedule:
            continue
        log = log_dir / f"{job.name}.log"
        command = " ".join(
            [
                *assignments,
                shlex.quote(jobctl),
                "run",
                shlex.quote(spec_path),
                "--job",
                shlex.quote(job.name),
                "--scheduled",
                ">>",
                shlex.quote(str(log)),
                "2>&1",
            ]
        )
        # cron treats % as a newline in the command: escape it
        command = command.replace("%", "\\%")
        lines.append(CronLine(job.name, job.schedule, f"{job.schedule} {command}"))
    return lines
