"""Pieces of the SSH executor that need no server: remote command quoting (run by
a local ``sh``), and push transfer through an in-process worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from orchestrator.executors.ssh.push import PushTransfer
from orchestrator.executors.ssh.remote_commands import (
    PID_LINE_PREFIX,
    in_workdir,
    kill_worker_command,
    python_command,
    remote_path,
    worker_command,
)
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.spec.ssh import HostSpec
from orchestrator.worker import Worker

ODD = "$(touch pwned); `touch pwned` 'q\" ; -x ü *"


def test_remote_paths() -> None:
    assert remote_path("~") == '"$HOME"'
    assert remote_path("~/a b") == "\"$HOME\"/'a b'"
    assert remote_path("-rf") == "./-rf"
    assert remote_path("/x/$(y)") == "'/x/$(y)'"


def test_commands_run_by_a_real_shell_take_every_word_literally(tmp_path: Path) -> None:
    workdir = tmp_path / f"-w {ODD}"
    host = HostSpec(
        name="h", address="h", python=sys.executable, workdir=str(workdir), env={"ODD": ODD}
    )
    probe = (
        "import json, os, sys; print(json.dumps([os.getcwd(), sys.argv[1:], os.environ['ODD']]))"
    )
    command = python_command(host, "-c", probe, ODD, "-y")
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    cwd, argv, env = json.loads(out.stdout)
    assert (cwd, argv, env) == (str(workdir), [ODD, "-y"], ODD)
    assert not list(tmp_path.glob("**/pwned"))
    assert worker_command(host).endswith(" -m orchestrator.worker")
    assert kill_worker_command(1234).count("1234") == 2
    with pytest.raises(ValueError):
        kill_worker_command(True)  # type: ignore[arg-type]


def test_the_worker_shell_announces_the_pid_it_execs_into(tmp_path: Path) -> None:
    """The pid line on stderr is the pid of the process the shell becomes, so a
    worker stopped before its ready frame can still be killed."""
    host = HostSpec(name="h", address="h", python=sys.executable, workdir=str(tmp_path / "w"))
    command = in_workdir(
        host, f"{sys.executable} -c 'import os; print(os.getpid())'", announce_pid=True
    )
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines()[0] == f"{PID_LINE_PREFIX}{out.stdout.strip()}"
    assert PID_LINE_PREFIX in worker_command(host)


def _csv_job(tmp_path: Path) -> tuple[dict[str, object], dict[str, object]]:
    data = tmp_path / "in.csv"
    data.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(50)))
    job = {
        "key": "j1",
        "name": "j",
        "type": "convert",
        "python": None,
        "command": None,
        "params": {},
        "input": {
            "format": "csv",
            "csv": {"delimiter": ",", "header": True, "quote_char": '"', "encoding": "utf-8"},
        },
        "output": {"format": "parquet", "compression": "zstd"},
        "staging_dir": str(tmp_path / "staging"),
    }
    header = "id,name\n"
    chunk = ChunkDescriptor(
        seq=0,
        kind="csv",
        path=str(data),
        start=len(header),
        stop=data.stat().st_size,
        est_rows=50,
        header=header,
    ).to_dict()
    return job, chunk


def test_push_round_trip_stages_the_part_locally(tmp_path: Path) -> None:
    job, chunk = _csv_job(tmp_path)
    push = PushTransfer("/remote/scratch")
    run = {
        "type": "run",
        "task": "t1",
        "job": job,
        "chunk": chunk,
        "token": 7,
        "part_name": "part-00000.attempt-7",
    }
    header, payload = push.outgoing(run, None)
    assert payload is not None and header["job"]["return_part"] is True
    assert header["job"]["staging_dir"] == "/remote/scratch"
    (tmp_path / "in.csv").unlink()  # the worker must not read the path
    result, part = Worker().run_frame(header, payload)
    assert result["ok"] is True and part is not None and result["part_file"] is None
    staged = push.incoming({**result, "payload_size": len(part)}, part)
    assert staged["ok"] and staged["part_file"] == str(
        tmp_path / "staging" / "part-00000.attempt-7.parquet"
    )
    assert pq.read_table(staged["part_file"]).num_rows == 50
    assert "payload_size" not in staged


def test_push_errors_become_failed_attempts(tmp_path: Path) -> None:
    job, chunk = _csv_job(tmp_path)
    push = PushTransfer("/remote/scratch")
    (tmp_path / "in.csv").unlink()
    run = {"type": "run", "task": "t1", "job": job, "chunk": chunk, "token": 1, "part_name": "p"}
    header, payload = push.outgoing(run, None)
    assert payload is None and "in.csv" in header["input_error"]
    result, _ = Worker().run_frame(header, payload)
    assert result["ok"] is False and result["error_class"] == "processor"
    assert "ChunkInputError" in result["error"]
    # a part that does not match its checksum is refused (infrastructure: retried elsewhere)
    push.outgoing({**run, "task": "t2", "job": {"key": "j1"}}, None)
    bad = {
        "type": "result",
        "task": "t2",
        "ok": True,
        "checksum": "sha256:00",
        "part_filename": "p.parquet",
    }
    refused = push.incoming(bad, b"not the part")
    assert refused["ok"] is False and refused["error_class"] == "infrastructure"
    assert not (tmp_path / "staging" / "p.parquet").exists()
