"""kill -9 of the coordinator of a validate job with a unique rule while its map
phase runs; ``jobctl resume`` publishes the quarantine exactly once: the same
rows, rules and lines as an undisturbed run, and counts that reconcile."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.acceptance.cli import cli_env, jobctl
from tests.acceptance.test_validate import SPEC, write_orders
from tests.fault.test_identity_kill import kill_a_run_during


def test_kill_9_in_the_map_phase_then_resume(tmp_path: Path, pg_url: str) -> None:
    expected = write_orders(tmp_path)
    (tmp_path / "jobs.yaml").write_text(SPEC.replace("{rate}", "50%"))
    env = cli_env(tmp_path, pg_url)
    job_id = kill_a_run_during(tmp_path, env, 0)
    out = tmp_path / "out"
    assert not (out / "_SUCCESS").exists()  # nothing published by the dead run
    resumed = jobctl("resume", str(job_id), env=env, cwd=tmp_path, timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "_SUCCESS").read_text())
    rows = []
    for item in manifest["rejects"]:
        with open(out / item["file"], newline="") as f:
            rows.extend(csv.DictReader(f))
    got = [(int(r["_source_line_or_row"]), r["_rule"]) for r in rows]
    assert sorted(got) == sorted((line, rule) for line, (rule, _) in expected.items())
    summary = manifest["validation"]
    assert summary["reconciled"] and summary["rows_in"] == 41
    assert summary["rows_rejected"] == len(expected) == len(rows)
