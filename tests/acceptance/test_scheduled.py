"""A cron run keys its job by the fire time: two invocations make one job."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

from tests.acceptance.cli import REPO, cli_env, jobctl, jobctl_argv, jobctl_popen


def test_two_scheduled_invocations_make_one_job(tmp_path: Path, env: dict[str, str]) -> None:
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        "version: 1\njobs:\n"
        "  - name: yearly\n"
        "    python: tests.procs:sleep_then_identity\n"
        "    params: {seconds: 0.2}\n"
        "    input: {sequence: 12}\n"
        '    schedule: "0 0 1 1 *"\n'
        "    executor: {local: {workers: 1}}\n"
    )
    procs = [
        subprocess.Popen(
            [*jobctl_argv(), "run", str(spec), "--scheduled", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    ids = {json.loads(out)[0]["id"] for out, _ in outputs}
    assert len(ids) == 1
    jobs = json.loads(jobctl("list", "--json", env=env).stdout)
    assert len(jobs) == 1
    assert jobs[0]["run_key"].startswith("sched-") and jobs[0]["run_key"].endswith("0101T0000Z")
    doc = json.loads(jobctl("status", str(jobs[0]["id"]), "--json", env=env).stdout)
    assert doc["state"] == "succeeded" and doc["chunks"]["succeeded"] == 12


def test_scheduled_needs_a_schedule(tmp_path: Path, env: dict[str, str]) -> None:
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        "version: 1\njobs:\n  - name: adhoc\n    type: noop\n    input: {sequence: 2}\n"
    )
    result = jobctl("run", str(spec), "--scheduled", env=env)
    assert result.returncode == 2
    assert "schedule" in result.stderr


def overlap_spec(tmp_path: Path, policy: str, log: Path, seconds: float = 1.0) -> Path:
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        "version: 1\njobs:\n"
        "  - name: nightly\n"
        "    python: tests.procs:log_start\n"
        f"    params: {{log: '{log}', seconds: {seconds}}}\n"
        "    input: {sequence: 3}\n"
        '    schedule: "0 0 1 1 *"\n'
        f"    concurrency: {policy}\n"
        "    executor: {local: {workers: 1}}\n"
    )
    return spec


def start_previous_run(spec: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """A run of the same job under another run key, running when this returns."""
    proc = jobctl_popen("run", str(spec), "--run-key", "previous", env=env)
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text()):
        assert time.monotonic() < deadline and proc.poll() is None, "previous run never started"
        time.sleep(0.1)
    return proc


def scheduled_jobs(env: dict[str, str]) -> list[dict[str, object]]:
    listed = json.loads(jobctl("list", "--json", env=env).stdout)
    return [job for job in listed if str(job["run_key"]).startswith("sched-")]


def test_overlap_forbid_skips_while_the_previous_run_goes_on(
    tmp_path: Path, env: dict[str, str]
) -> None:
    log = tmp_path / "started.log"
    # 3 chunks of 3 s: still running when a loaded machine has started the second run
    spec = overlap_spec(tmp_path, "forbid", log, seconds=3.0)
    previous = start_previous_run(spec, log, env)
    result = jobctl("run", str(spec), "--scheduled", env=env)
    assert result.returncode == 0, result.stderr
    assert "skipped (concurrency: forbid)" in result.stderr
    assert scheduled_jobs(env) == []
    assert previous.wait(timeout=60) == 0
    again = jobctl("run", str(spec), "--scheduled", env=env)  # nothing goes on now
    assert again.returncode == 0, again.stderr
    assert [job["state"] for job in scheduled_jobs(env)] == ["succeeded"]


def test_overlap_replace_cancels_the_previous_run(tmp_path: Path, env: dict[str, str]) -> None:
    log = tmp_path / "started.log"
    spec = overlap_spec(tmp_path, "replace", log, seconds=3.0)
    previous = start_previous_run(spec, log, env)
    result = jobctl("run", str(spec), "--scheduled", env=env)
    assert result.returncode == 0, result.stderr
    assert "cancelled previous run" in result.stderr
    assert previous.wait(timeout=30) == 4  # the replaced run ends cancelled
    states = {
        job["run_key"]: job["state"] for job in json.loads(jobctl("list", "--json", env=env).stdout)
    }
    assert states["previous"] == "cancelled"
    assert [job["state"] for job in scheduled_jobs(env)] == ["succeeded"]


def test_overlap_allow_runs_both(tmp_path: Path, env: dict[str, str]) -> None:
    log = tmp_path / "started.log"
    spec = overlap_spec(tmp_path, "allow", log)
    previous = start_previous_run(spec, log, env)
    result = jobctl("run", str(spec), "--scheduled", env=env)
    assert result.returncode == 0, result.stderr
    assert previous.wait(timeout=60) == 0
    assert [job["state"] for job in scheduled_jobs(env)] == ["succeeded"]
    assert len(log.read_text().splitlines()) == 6  # both runs ran every chunk


def test_overlap_queue_waits_for_the_previous_run(tmp_path: Path, env: dict[str, str]) -> None:
    log = tmp_path / "started.log"
    spec = overlap_spec(tmp_path, "queue", log)
    previous = start_previous_run(spec, log, env)
    result = jobctl("run", str(spec), "--scheduled", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert "waiting for previous run" in result.stderr
    assert previous.poll() == 0  # it had ended before the queued run was submitted
    listed = json.loads(jobctl("list", "--json", env=env).stdout)
    by_key = {job["run_key"]: job for job in listed}
    [queued] = scheduled_jobs(env)
    assert queued["state"] == "succeeded"
    assert by_key["previous"]["state"] == "succeeded"
    events = json.loads(jobctl("events", str(by_key["previous"]["id"]), "--json", env=env).stdout)
    previous_end = max(e["at"] for e in events)
    queued_events = json.loads(jobctl("events", str(queued["id"]), "--json", env=env).stdout)
    assert min(e["at"] for e in queued_events) >= previous_end


def test_cron_lines_of_the_example_spec_install_and_parse(tmp_path: Path) -> None:
    """What `jobctl cron jobs.example.yaml` prints is a valid crontab: five
    schedule fields croniter accepts, and a command /bin/sh parses, with
    absolute paths and the log redirection."""
    from croniter import croniter

    env = cli_env(tmp_path)
    example = REPO / "jobs.example.yaml"
    result = jobctl("cron", str(example), "--log-dir", str(tmp_path / "logs"), env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr
    entries = [line for line in result.stdout.splitlines() if line and not line.startswith("#")]
    assert entries, result.stdout
    for entry in entries:
        fields = entry.split(" ", 5)
        assert croniter.is_valid(" ".join(fields[:5]))
        command = fields[5]
        assert "%" not in command.replace("\\%", "")  # cron would cut the line at a bare %
        checked = subprocess.run(["/bin/sh", "-n", "-c", command], capture_output=True)
        assert checked.returncode == 0, checked.stderr
        words = shlex.split(command.split(" >> ")[0])
        program = next(w for w in words if w.endswith("jobctl"))
        assert os.path.isabs(program) and os.access(program, os.X_OK)
        assert str(example) in words and "--scheduled" in words
        assert f">> {tmp_path / 'logs'}" in command and command.endswith("2>&1")
