"""The `jobctl` console script: parse, call the core, render, map errors to exit codes."""

from __future__ import annotations

import gc
import importlib
import os
import sys
import traceback
from typing import Annotated, Any

import typer

from orchestrator import __version__
from orchestrator.cli.coercion import plain_params_without_pydantic
from orchestrator.cli.common import err_console
from orchestrator.errors import ExitCode, JobctlError, SpecError

#: Every top-level command: its module in ``orchestrator.cli`` and the function
#: (or, for a group, the Typer app) there, registered in this order (`jobctl
#: --help` lists the commands, then the groups). A process imports and builds
#: only the command it runs; `--help`, no command or an unknown one builds all.
COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("db", "db_app"),
    "dlq": ("dlq", "dlq_app"),
    "hosts": ("hosts", "hosts_app"),
    "queue": ("queue", "queue_app"),
    "validate": ("jobs", "validate"),
    "submit": ("jobs", "submit"),
    "run": ("jobs", "run"),
    "resume": ("jobs", "resume"),
    "status": ("jobs", "status"),
    "list": ("jobs", "list_jobs"),
    "cancel": ("jobs", "cancel"),
    "events": ("jobs", "events"),
    "rollback": ("jobs", "rollback"),
    "serve": ("scheduling", "serve"),
    "update": ("scheduling", "update"),
    "cron": ("cron", "cron"),
}

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


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    if debug:
        _debug["on"] = True


def build_app(only: str | None = None) -> typer.Typer:
    """The `jobctl` Typer app: every command, or only the command ``only``."""
    app = typer.Typer(
        name="jobctl",
        help="Crash-safe batch orchestrator: YAML job specs, chunked inputs, durable state.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    for name, (module, attribute) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(f"orchestrator.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def _command_name(args: list[str]) -> str | None:
    """The command ``args`` run, unless something before it needs every command
    (``--help`` lists them, a typo gets a suggestion): then None."""
    for arg in args:
        if arg != "--debug":
            return arg if arg in COMMANDS else None
    return None


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole app, for tools that look for it
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: never a traceback for an expected error (``--debug`` shows one)."""
    args = sys.argv[1:] if argv is None else argv
    if "--debug" in args:
        _debug["on"] = True
    plain_params_without_pydantic()
    command = typer.main.get_command(build_app(_command_name(args)))
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
    code = main()
    # The process ends here, and nothing it made needs collecting: frozen
    # objects spare the interpreter's last full garbage collection at exit,
    # which took longer than the query of `status --json` (atexit handlers,
    # flushing and closing files still happen).
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
