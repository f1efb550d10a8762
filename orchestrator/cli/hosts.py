"""`jobctl hosts add|remove|list|drain|enable|check|bootstrap`: the SSH executor's hosts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.api.hosts import DEFAULT_PYTHON, DEFAULT_WORKDIR
from orchestrator.cli.common import (
    AcceptNewHostKeys,
    DbOption,
    JsonOption,
    cli_store,
    console,
    fmt_time,
    print_json,
)
from orchestrator.cli.render import print_rows
from orchestrator.errors import ExitCode, JobctlError

if TYPE_CHECKING:
    from orchestrator.api.hosts import BootstrapResult, HostRecord

hosts_app = typer.Typer(
    help="Remote hosts for SSH workers: register, drain, check, bootstrap.",
    no_args_is_help=True,
)

HostName = Annotated[str, typer.Argument(help="The host's name.", show_default=False)]
HostNames = Annotated[
    list[str] | None, typer.Argument(help="Only these hosts (default: all).", show_default=False)
]
SpecOption = Annotated[
    Path | None,
    typer.Option("--spec", help="Use the hosts of this spec's executor.ssh and its paths."),
]
KnownHosts = Annotated[
    Path | None, typer.Option("--known-hosts", help="An extra known_hosts file.")
]


@hosts_app.command("add")
def add(
    name: HostName,
    address: Annotated[str | None, typer.Option(help="Host name or IP (default: NAME).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535)] = None,
    user: Annotated[str | None, typer.Option()] = None,
    identity_file: Annotated[str | None, typer.Option("--identity-file")] = None,
    python: Annotated[str, typer.Option(help="Remote interpreter.")] = DEFAULT_PYTHON,
    workdir: Annotated[str, typer.Option(help="Remote working directory.")] = DEFAULT_WORKDIR,
    slots: Annotated[int, typer.Option(min=1, help="Workers on the host.")] = 1,
    pool: Annotated[str, typer.Option()] = "default",
    label: Annotated[list[str] | None, typer.Option("--label", help="Repeatable.")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="KEY=VALUE, repeatable.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Update an existing host.")] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Register a host (or update it with --replace)."""
    from orchestrator.api import hosts as api_hosts

    pairs = dict(item.partition("=")[::2] for item in env or [])
    spec = api_hosts.make_host(
        {
            "name": name,
            "address": address or name,
            "port": port,
            "user": user,
            "identity_file": identity_file,
            "python": python,
            "workdir": workdir,
            "slots": slots,
            "pool": pool,
            "labels": label or [],
            "env": pairs,
        }
    )
    with cli_store(db, quiet=json_output) as store:
        added = api_hosts.add_host(store, spec, replace=replace)
    created, record = added.created, added.record
    if not created and not replace:
        message = f"host {name} exists (use --replace to update it)"
        if json_output:
            raise JobctlError(message)  # exit 2, the error as JSON on stdout
        console.print(message, markup=False)
        raise typer.Exit(ExitCode.USAGE)
    if json_output:
        print_json(host_document(record))
    else:
        console.print(f"host {name}: {'added' if created else 'updated'}", markup=False)


@hosts_app.command("remove")
def remove(name: HostName, db: DbOption = None, json_output: JsonOption = False) -> None:
    """Forget a host."""
    from orchestrator.api.hosts import remove_host

    with cli_store(db, quiet=json_output) as store:
        removed = remove_host(store, name)
    if json_output:
        print_json({"host": name, "removed": removed})
    elif removed:
        console.print(f"host {name}: removed", markup=False)
    else:
        console.print(f"host {name}: not registered", markup=False)


@hosts_app.command("drain")
def drain(name: HostName, db: DbOption = None, json_output: JsonOption = False) -> None:
    """Maintenance: running chunks finish, the host takes no new ones."""
    from orchestrator.api.hosts import drain_host

    with cli_store(db, quiet=json_output) as store:
        changed, record = drain_host(store, name)
    _report_state(record, changed, json_output)


@hosts_app.command("enable")
def enable(name: HostName, db: DbOption = None, json_output: JsonOption = False) -> None:
    """End maintenance: the host takes chunks again (checked on its next use)."""
    from orchestrator.api.hosts import enable_host

    with cli_store(db, quiet=json_output) as store:
        changed, record = enable_host(store, name)
    _report_state(record, changed, json_output)


def _report_state(record: HostRecord, changed: bool, as_json: bool) -> None:
    if as_json:
        print_json({**host_document(record), "changed": changed})
    else:
        console.print(f"host {record.name}: {record.state.value}", markup=False)


def host_document(record: HostRecord) -> dict[str, Any]:
    """One host of ``hosts list --json``. Its keys are a stable interface."""
    return {
        **record.spec.to_dict(),
        "state": record.state.value,
        "state_reason": record.state_reason,
        "state_changed_at": record.state_changed_at,
        "slots_in_use": record.slots_in_use,
        "cpu": record.cpu,
        "mem": record.mem,
        "load": record.load,
        "last_heartbeat": record.last_heartbeat,
        "successes": record.successes,
        "failures": record.failures,
        "success_rate": record.success_rate,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


@hosts_app.command("list")
def list_hosts(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Hosts with state, busy slots, cpu/mem/load, last heartbeat, success rate."""
    from orchestrator.api.hosts import list_hosts

    with cli_store(db, quiet=json_output) as store:
        records = list_hosts(store)
    if json_output:
        print_json([host_document(r) for r in records])
        return
    rows = [
        [
            r.name,
            f"{r.spec.address}:{r.spec.port or 22}",
            r.state.value,
            f"{r.slots_in_use}/{r.spec.slots}",
            _pct(r.cpu),
            _pct(r.mem),
            _pct(r.load),
            fmt_time(r.last_heartbeat),
            _pct(r.success_rate),
            r.state_reason or "",
        ]
        for r in records
    ]
    heads = ["host", "address", "state", "busy", "cpu", "mem", "load", "heartbeat", "ok", "why"]
    print_rows(heads, rows)


@hosts_app.command("check")
def check(
    names: HostNames = None,
    spec: SpecOption = None,
    known_hosts: KnownHosts = None,
    accept_new_host_keys: AcceptNewHostKeys = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Per host: reachable, auth, python, jobctl version, pyarrow, free disk, shared paths.

    Exit 0 when every host is ready, 1 when one is not.
    """
    from orchestrator.api.hosts import check_hosts

    with cli_store(db, quiet=json_output) as store:
        results = check_hosts(store, names, spec, known_hosts, accept_new_host_keys)
    if json_output:
        print_json([r.to_dict() for r in results])
    else:
        for r in results:
            free = f"{r.free_bytes / 2**30:.1f} GiB free" if r.free_bytes is not None else "-"
            seen = ", ".join(f"{p}: {'yes' if v else 'no'}" for p, v in r.paths.items())
            console.print(
                f"{r.host} ({r.address}): {'ok' if r.ok else 'NOT READY'}; reachable "
                f"{_yes(r.reachable)}, auth {_yes(r.auth_ok)}, python {r.python or '-'}, "
                f"jobctl {r.jobctl or '-'}, pyarrow {r.pyarrow or '-'}, {free}",
                markup=False,
            )
            if seen:
                console.print(f"  paths: {seen}", markup=False)
            for error in r.errors:
                console.print(f"  {error}", markup=False)
    raise typer.Exit(ExitCode.OK if all(r.ok for r in results) else ExitCode.JOB_FAILED)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@hosts_app.command("bootstrap")
def bootstrap(
    names: HostNames = None,
    spec: SpecOption = None,
    known_hosts: KnownHosts = None,
    accept_new_host_keys: AcceptNewHostKeys = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Rebuild cached wheels.")] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Install this jobctl in WORKDIR/venv-VERSION from a shipped wheelhouse (offline host).

    A registered host's python is set to the new venv's.
    """
    from orchestrator.api.hosts import bootstrap_hosts

    def said(result: BootstrapResult) -> None:
        if not json_output:
            console.print(
                f"{result.host}: jobctl {result.version} in {result.python} "
                f"({result.uploaded} of {result.wheels} wheels sent, "
                f"{result.uploaded_bytes / 2**20:.1f} MiB)",
                markup=False,
            )

    with cli_store(db, quiet=json_output) as store:
        done = bootstrap_hosts(
            store, names, spec, known_hosts, accept_new_host_keys, rebuild, on_done=said
        )
    if json_output:
        print_json([r.to_dict() for r in done])
