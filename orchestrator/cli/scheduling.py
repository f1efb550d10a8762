"""Commands about scheduling: the long-running dispatcher, and job priorities."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import (
    AcceptNewHostKeys,
    DbOption,
    JsonOption,
    MaxFailures,
    cli_store,
    console,
    is_terminal,
    print_json,
)
from orchestrator.errors import ExitCode
from orchestrator.states import Priority

Queues = Annotated[
    list[str] | None,
    typer.Option(
        "--queue",
        help="Serve only this queue (repeatable). Default: every queue.",
        show_default=False,
    ),
]
Workers = Annotated[
    int | None,
    typer.Option("--workers", min=0, help="Local worker processes (default: the CPU count)."),
]


HostsFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--hosts",
        help="A hosts file (the executor.ssh hosts format) whose hosts it runs chunks on, "
        "registered in the store (repeatable).",
        show_default=False,
    ),
]
LocalOnly = Annotated[
    bool,
    typer.Option("--local-only", help="Ignore the hosts registered in the store."),
]


def serve(
    queue: Queues = None,
    workers: Workers = None,
    hosts: HostsFiles = None,
    local_only: LocalOnly = False,
    accept_new_host_keys: AcceptNewHostKeys = False,
    max_failures: MaxFailures = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run queued jobs until stopped (SIGTERM or Ctrl-C: running chunks finish).

    Picks up every job that `jobctl submit` enqueues, at once on PostgreSQL
    (LISTEN/NOTIFY), within half a second on SQLite; highest priority first,
    jobs of one priority sharing the slots (the fewest running chunks next),
    each job once its depends_on jobs
    succeeded. Any number of serve and run processes can share one
    PostgreSQL store: no chunk runs twice, and the work of one that dies is
    taken over by the others.

    Slots: --workers local processes, plus the SSH hosts of --hosts files and
    every host registered with `jobctl hosts add` (also hosts added while it
    serves), unless --local-only."""
    from orchestrator.api.runs import serve as serve_jobs  # pyarrow etc.: only to run
    from orchestrator.cli.progress import ProgressReporter

    count = workers if workers is not None else (os.cpu_count() or 1)
    with cli_store(db) as store:
        reporter = ProgressReporter(live=is_terminal() and not json_output)
        with reporter:
            final = serve_jobs(
                store,
                queue,
                workers=count,
                hosts_files=hosts or [],
                use_registered_hosts=not local_only,
                accept_new_host_keys=accept_new_host_keys,
                observer=reporter.update,
                max_failures=max_failures,
            )
    if json_output:
        print_json({str(job_id): state.value for job_id, state in sorted(final.items())})
    raise typer.Exit(ExitCode.OK)


PriorityOption = Annotated[
    str,
    typer.Option(
        "--priority",
        help="New priority: URGENT, HIGH, NORMAL or LOW.",
        show_default=False,
        case_sensitive=False,
    ),
]


def update(
    job_ref: Annotated[str, typer.Argument(help="Job id, name or run key.", show_default=False)],
    priority: PriorityOption,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Change a queued or running job's priority; dispatchers apply it within a second."""
    from orchestrator import api

    try:
        level = Priority[priority.upper()]
    except KeyError:
        raise typer.BadParameter(
            f"{priority!r} is not a priority (URGENT, HIGH, NORMAL, LOW)", param_hint="--priority"
        ) from None
    with cli_store(db, quiet=json_output) as store:
        record = api.resolve_job(store, job_ref)
        changed = api.set_priority(store, record, level)
    if json_output:
        print_json({"id": changed.id, "name": changed.name, "priority": changed.priority.name})
    else:
        console.print(
            f"job {changed.id} {changed.name}: priority {changed.priority.name}", markup=False
        )
