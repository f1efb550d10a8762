"""Cron fire times, run keys and crontab lines."""

from __future__ import annotations

import os
import shlex
from datetime import UTC, datetime
from pathlib import Path

from croniter import croniter

from orchestrator.scheduling.fire_times import crontab_lines, last_fire, next_fire, run_key_for
from orchestrator.spec.loader import load_spec_text

SPEC = """\
version: 1
jobs:
  - name: nightly
    type: noop
    input: {sequence: 3}
    schedule: "0 2 * * *"
  - name: "every-15"
    type: noop
    input: {sequence: 3}
    schedule: "*/15 * * * *"
  - name: adhoc
    type: noop
    input: {sequence: 3}
"""


def test_last_fire_belongs_to_its_minute() -> None:
    at = datetime(2026, 11, 28, 2, 0, 40, tzinfo=UTC)
    assert last_fire("0 2 * * *", at) == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    later = datetime(2026, 11, 28, 14, 3, tzinfo=UTC)
    assert last_fire("0 2 * * *", later) == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert next_fire("0 2 * * *", later) == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def test_same_fire_same_run_key() -> None:
    first = last_fire("*/15 * * * *", datetime(2026, 11, 28, 10, 16, 1, tzinfo=UTC))
    second = last_fire("*/15 * * * *", datetime(2026, 11, 28, 10, 29, 59, tzinfo=UTC))
    assert run_key_for(first) == run_key_for(second) == "sched-20261128T1015Z"


def test_crontab_lines_parse_and_quote(tmp_path: Path) -> None:
    spec = load_spec_text(SPEC, str(tmp_path / "my jobs.yaml"), base_dir=str(tmp_path))
    env = {"JOBCTL_DATABASE_URL": "postgresql:///jobs?service=etl", "PATH": "/usr/bin:/bin"}
    lines = crontab_lines(spec, "/opt/jobctl/bin/jobctl", tmp_path / "logs", env)
    assert [line.job for line in lines] == ["nightly", "every-15"]
    for line in lines:
        fields = line.line.split(" ", 5)
        schedule = " ".join(fields[:5])
        assert croniter.is_valid(schedule)
        command = shlex.split(fields[5].replace("\\%", "%"))
        assert "/opt/jobctl/bin/jobctl" in command
        assert str((tmp_path / "my jobs.yaml").resolve()) in command
        assert command[command.index("--job") + 1] == line.job
        assert "--scheduled" in command
        assert "JOBCTL_DATABASE_URL=postgresql:///jobs?service=etl" in command
    assert os.sep in lines[0].line
