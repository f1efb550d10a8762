"""What a `jobctl` process imports: `status JOB --json` loads the store backend
of its URL and the status query, not the spec reader, the planner, the
dispatcher, Rich, Pydantic or the other backend's driver.

No timing here. A module that appears in these lists is what makes a
read-only command start slowly; import it inside the command that needs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from orchestrator.cli.app import COMMANDS, build_app
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.states import Priority
from orchestrator.store import open_store
from orchestrator.store.base import NewJob

#: what a read-only command never needs (a name covers its submodules)
HEAVY = (
    "pyarrow",
    "yaml",
    "rich",
    "pydantic",
    "paramiko",
    "multiprocess",
    "croniter",
    "orchestrator.dispatch",
    "orchestrator.executors",
    "orchestrator.scheduling",
    "orchestrator.planning.plan",
    "orchestrator.spec.loader",
    "orchestrator.spec.model",
    "orchestrator.spec.yaml_nodes",
    "orchestrator.cli.progress",
    "orchestrator.cli.hosts",
    "orchestrator.cli.queue",
)
#: the driver and backend a store URL of the other kind needs
OTHER_BACKEND = {
    "sqlite": ("psycopg", "psycopg_pool", "orchestrator.store.postgres"),
    "postgres": ("sqlite3", "orchestrator.store.sqlite"),
}

# Runs the CLI in a fresh interpreter, then writes what it imported.
_PROBE = """
import json, sys
from orchestrator.cli.app import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def run_cli(tmp_path: Path, *args: str) -> tuple[int, str, list[str]]:
    """Exit code, stdout and the imported modules of ``jobctl ARGS``."""
    report = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(report), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.exists(), done.stderr
    data = json.loads(report.read_text())
    return data["code"], done.stdout, data["modules"]


def loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


def test_status_json_imports_its_backend_and_the_query_only(store_url: str, tmp_path: Path) -> None:
    backend = "sqlite" if store_url.startswith("sqlite") else "postgres"
    store = open_store(store_url)
    try:
        job = NewJob("imports", "k1", {}, "hash", Priority.NORMAL, "default", None, None)
        chunks = [ChunkDescriptor(i, "sequence", None, i, i + 1, 1) for i in range(3)]
        job_id, _ = store.submit_job(job, [], chunks)
    finally:
        store.close()

    code, out, modules = run_cli(tmp_path, "status", str(job_id), "--db", store_url, "--json")

    assert code == 0
    doc = json.loads(out)
    assert (doc["id"], doc["chunks_total"], doc["state"]) == (job_id, 3, "pending")
    assert f"orchestrator.store.{backend}" in modules
    assert loaded(modules, HEAVY + OTHER_BACKEND[backend]) == []


@pytest.mark.parametrize("args", [["list", "--json"], ["queue", "stats", "default", "--json"]])
def test_list_and_queue_stats_json_import_no_spec_reader(
    args: list[str], sqlite_url: str, tmp_path: Path
) -> None:
    store = open_store(sqlite_url)
    try:
        job = NewJob("imports", "k1", {}, "hash", Priority.NORMAL, "default", None, None)
        store.submit_job(job, [], [ChunkDescriptor(0, "sequence", None, 0, 1, 1)])
    finally:
        store.close()

    code, out, modules = run_cli(tmp_path, *args, "--db", sqlite_url)

    assert code == 0, out
    assert json.loads(out)
    spec_reader = ("orchestrator.spec.job_reader", "orchestrator.spec.checks")
    heavy = tuple(m for m in HEAVY if m != f"orchestrator.cli.{args[0]}")  # the command's own
    assert loaded(modules, heavy + OTHER_BACKEND["sqlite"] + spec_reader) == []


def test_the_app_module_imports_no_command_and_no_store() -> None:
    code = "import json, sys, orchestrator.cli.app; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    modules = json.loads(done.stdout)
    commands = tuple(f"orchestrator.cli.{module}" for module, _ in COMMANDS.values())
    core = ("orchestrator.api", "orchestrator.store", "psycopg", "sqlite3")
    assert loaded(modules, HEAVY + commands + core) == []


def test_commands_table_builds_every_command_and_each_alone() -> None:
    every = typer.main.get_command(build_app())
    assert sorted(every.commands) == sorted(COMMANDS)  # type: ignore[attr-defined]
    for name in COMMANDS:
        alone = typer.main.get_command(build_app(name))
        assert list(alone.commands) == [name]  # type: ignore[attr-defined]


# A Typer app that prints what its command receives, with or without the
# lazy coercion of plain values (cli/coercion.py).
_ECHO = """
import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.coercion import plain_params_without_pydantic

if sys.argv[1] == "plain":
    plain_params_without_pydantic()
app = typer.Typer()


class Level(enum.StrEnum):
    LOW = "low"
    HIGH = "high"


@app.command()
def echo(
    name: str,
    flag: bool = False,
    opt: Annotated[str | None, typer.Option()] = None,
    count: Annotated[int, typer.Option(min=1)] = 1,
    where: Path | None = None,
    env: Annotated[str, typer.Option(envvar="JOBCTL_TEST_ECHO")] = "default",
    yes: Annotated[bool, typer.Option(envvar="JOBCTL_TEST_YES")] = False,
    workers: Annotated[int | None, typer.Option()] = None,
    ratio: Annotated[float | None, typer.Option()] = None,
    tag: Annotated[list[str] | None, typer.Option()] = None,
    level: Annotated[Level, typer.Option()] = Level.LOW,
    spec: Annotated[Path, typer.Option()] = Path("jobs.yaml"),
) -> None:
    print(repr((name, flag, opt, count, where, env, yes, workers, ratio, tag, level, spec)))


app(sys.argv[2:])
"""


@pytest.mark.parametrize(
    "args",
    [
        ["x"],
        ["x y", "--flag", "--opt", "", "--count", "3", "--where", "a/b"],
        ["--opt", "-", "ünïcode"],
        ["x", "--count", "0"],
        ["x", "--count", "many"],
        ["x", "--flag=yes"],
        ["--help"],
        [],
        ["x", "--workers", "4", "--ratio", "0.5", "--tag", "a", "--tag", "b c"],
        ["x", "--workers", "four"],
        ["x", "--level", "high", "--spec", "dir/other.yaml"],
        ["x", "--level", "urgent"],
    ],
)
def test_plain_coercion_gives_the_values_typer_gives(args: list[str]) -> None:
    env = {"JOBCTL_TEST_ECHO": "from env", "JOBCTL_TEST_YES": "1", "COLUMNS": "100"}
    results = []
    for mode in ("typer", "plain"):
        done = subprocess.run(
            [sys.executable, "-c", _ECHO, mode, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )
        results.append((done.returncode, done.stdout, done.stderr))
    assert results[0] == results[1]


def test_a_parquet_run_without_terminal_skips_rich_the_worker_and_arrow_compute(
    store_url: str, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"n": list(range(10))}), source)
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        "version: 1\njobs:\n  - name: copy\n    type: convert\n"
        f"    input: {{path: {json.dumps(str(source))}}}\n"
        f"    output: {{path: {json.dumps(str(tmp_path / 'out'))}, format: parquet}}\n"
        "    executor: {local: {workers: 1}}\n"
    )

    code, out, modules = run_cli(tmp_path, "run", str(spec), "--db", store_url, "--json")

    assert code == 0, out
    assert json.loads(out)[0]["rows_out"] == 10
    # the log lines go straight to stderr; the workers are other processes;
    # only a quoted CSV's planning counts quotes with Arrow compute
    assert loaded(modules, ("rich", "orchestrator.worker", "pyarrow.compute")) == []
