"""`jobctl hosts add|remove|list|drain|enable|check|bootstrap`: the SSH executor's hosts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

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
from orchestrator.errors import ExitCode, SpecError, SpecIssue
from orchestrator.spec.ssh import DEFAULT_PYTHON, DEFAULT_WORKDIR, host_from_dict

if TYPE_CHECKING:
    from orchestrator.spec.ssh import HostSpec
    from orchestrator.store.hosts import HostRecord, HostState

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
    pairs = dict(item.partition("=")[::2] for item in env or [])
    spec = host_from_dict(
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
    _validate_name(spec)
    with cli_store(db, quiet=json_output) as store:
        created = store.add_host(spec, replace=replace)
        record = store.get_host(name)
    if not created and not replace:
        console.print(f"host {name} exists (use --replace to update it)", markup=False)
        raise typer.Exit(ExitCode.USAGE)
    if json_output:
        print_json(host_document(record))
    else:
        console.print(f"host {name}: {'added' if created else 'updated'}", markup=False)


def _validate_name(spec: HostSpec) -> None:
    from orchestrator.spec.ssh import HOST_NAME

    if not HOST_NAME.fullmatch(spec.name) or spec.address.startswith("-"):
        raise SpecError(
            [SpecIssue("<command line>", None, None, "name", f"invalid host {spec.name!r}")]
        )


@hosts_app.command("remove")
def remove(name: HostName, db: DbOption = None, json_output: JsonOption = False) -> None:
    """Forget a host."""
    with cli_store(db, quiet=json_output) as store:
        removed = store.remove_host(name)
    if json_output:
        print_json({"host": name, "removed": removed})
    elif removed:
        console.print(f"host {name}: removed", markup=False)
    else:
        console.print(f"host {name}: not registered", markup=False)


@hosts_app.command("drain")
def drain(name: HostName, db: DbOption = None, json_output: JsonOption = False) -> None:
    """Maintenance: running chunks finish, the host takes no new ones."""
    from orchestrator.store.hosts import HostState

    _set_state(name, HostState.MAINTENANCE, "drained by a user", db, json_output)


@hosts_app.command("enable")
def enable(name: HostName, db: DbOption = None, json_output: JsonOption = False) -> None:
    """End maintenance: the host takes chunks again (checked on its next use)."""
    from orchestrator.store.hosts import HostState

    _set_state(name, HostState.UNKNOWN, "enabled by a user", db, json_output)


def _set_state(name: str, state: HostState, reason: str, db: str | None, as_json: bool) -> None:
    with cli_store(db, quiet=as_json) as store:
        changed = store.set_host_state(name, state, reason=reason)
        record = store.get_host(name)
    if as_json:
        print_json({**host_document(record), "changed": changed})
    else:
        console.print(f"host {name}: {record.state.value}", markup=False)


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
    with cli_store(db, quiet=json_output) as store:
        records = store.list_hosts()
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


def _targets(
    store_hosts: list[HostRecord], spec: Path | None, names: list[str] | None
) -> tuple[list[tuple[HostSpec, str | None]], list[str]]:
    from orchestrator.executors.ssh.inventory import select_hosts
    from orchestrator.executors.ssh.preflight import spec_paths
    from orchestrator.spec.loader import load_spec

    registry = {r.name: r.spec for r in store_hosts}
    if spec is None:
        return select_hosts(registry, (), names or ()), []
    jobs = load_spec(spec).jobs
    sections = [job.executor.ssh for job in jobs if job.executor.ssh]
    if not sections:
        raise SpecError([SpecIssue(str(spec), None, None, "executor.ssh", "no job names hosts")])
    return select_hosts(registry, sections, names or ()), spec_paths(jobs)


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
    from orchestrator.executors.ssh.preflight import check_hosts

    with cli_store(db, quiet=json_output) as store:
        targets, paths = _targets(store.list_hosts(), spec, names)
    if known_hosts is not None:
        targets = [(host, str(known_hosts)) for host, _ in targets]
    results = check_hosts(targets, accept_new_host_keys=accept_new_host_keys, paths=paths)
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
    from dataclasses import replace

    from orchestrator.executors.ssh.bootstrap import bootstrap_host

    with cli_store(db, quiet=json_output) as store:
        targets, _ = _targets(store.list_hosts(), spec, names)
        registered = {r.name for r in store.list_hosts()}
        done = []
        for host, known in targets:
            result = bootstrap_host(
                host,
                known_hosts=str(known_hosts) if known_hosts else known,
                accept_new_host_keys=accept_new_host_keys,
                rebuild=rebuild,
            )
            if host.name in registered:
                store.add_host(replace(host, python=result.python), replace=True)
            done.append(result)
            if not json_output:
                console.print(
                    f"{result.host}: jobctl {result.version} in {result.python} "
                    f"({result.uploaded} of {result.wheels} wheels sent, "
                    f"{result.uploaded_bytes / 2**20:.1f} MiB)",
                    markup=False,
                )
    if json_output:
        print_json([r.to_dict() for r in done])
