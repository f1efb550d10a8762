"""Crontab lines for the scheduled jobs of a spec (``jobctl cron``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from orchestrator.errors import JobctlError
from orchestrator.store import redact_url


@dataclass(frozen=True)
class CrontabEntry:
    job: str
    schedule: str
    next_fire: datetime
    line: str


def crontab_entries(
    spec: Path, jobctl: str, log_dir: Path, env: Mapping[str, str] | None = None
) -> list[CrontabEntry]:
    """One crontab line per scheduled job of ``spec``, running ``jobctl`` and
    appending to a log in ``log_dir`` (created: cron's ``>>`` needs it).

    Refused when the store URL holds a password: crontab lines would expose it.
    """
    from orchestrator.scheduling.fire_times import crontab_lines, next_fire
    from orchestrator.spec.loader import load_spec

    spec_file = load_spec(spec)
    environ = os.environ if env is None else env
    url = environ.get("JOBCTL_DATABASE_URL", "")
    if url and redact_url(url) != url:
        raise JobctlError(
            "JOBCTL_DATABASE_URL contains a password; crontab lines would expose it. "
            "Use ~/.pgpass or a service file instead."
        )
    log_dir.mkdir(parents=True, exist_ok=True)
    return [
        CrontabEntry(item.job, item.schedule, next_fire(item.schedule), item.line)
        for item in crontab_lines(spec_file, jobctl, log_dir, environ)
    ]
