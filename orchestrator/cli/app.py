"""The `jobctl` console script: parse, call the core, render, map errors to exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import typer

from orchestrator import __version__
from orchestrator.cli import cron, db, dlq, hosts, jobs, queue, scheduling
from orchestrator.cli.common import err_console
from orchestrator.errors import ExitCode, JobctlError, SpecError

app = typer.Typer(
    name="jobctl",
    help="Crash-safe batch orchestrator: YAML job specs, chunked inputs, durable state.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db.db_app, name="db")
app.add_typer(dlq.dlq_app, name="dlq")
app.add_typer(hosts.hosts_app, name="hosts")
app.add_typer(queue.queue_app, name="queue")
jobs.register(app)
scheduling.register(app)
app.command()(cron.cron)

_debug = {"on": bool(os.environ.get("JOBCTL_DEBUG"))}

# Typer raises click's exceptions, from click itself or from the copy it vendors
# (newer releases); find the usage-error base class without naming either.
_ClickException: type[Exception] = next(
    cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException"
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jobctl {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    if debug:
        _debug["on"] = True


def main(argv: list[str] | None = None) -> int:
    """Entry point: never a traceback for an expected error (``--debug`` shows one)."""
    args = sys.argv[1:] if argv is None else argv
    if "--debug" in args:
        _debug["on"] = True
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="jobctl", standalone_mode=False)
        code = result if isinstance(result, int) else ExitCode.OK
    except SpecError as exc:
        for issue in exc.issues:
            err_console.print(f"error: {issue}", markup=False)
        code = exc.exit_code
    except JobctlError as exc:
        if _debug["on"]:
            err_console.print(traceback.format_exc(), markup=False)
        err_console.print(f"error: {exc}", markup=False)
        code = exc.exit_code
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        code = ExitCode.INTERRUPTED
    except _ClickException as exc:
        exc.show()  # type: ignore[attr-defined]
        code = ExitCode.USAGE
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        code = ExitCode.INTERRUPTED
    sys.stdout.flush()
    return int(code)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
