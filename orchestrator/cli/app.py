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
    "eval": ("evaluate", "eval_app"),
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
    "logs": ("logs", "logs"),
    "rollback": ("jobs", "rollback"),
    "gc": ("gc", "gc"),
    "serve": ("scheduling", "serve"),
    "update": ("scheduling", "update"),
    "cron": ("crontab", "cron"),
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


def _range_text(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"({low}-{high})"
    return f"(at least {low})" if low is not None else f"(at most {high})"


def _plain_param(param: Any) -> None:
    """One parameter's help without Typer's type labels (see :func:`plain_metavars`)."""
    if getattr(param, "metavar", None) is None:
        param.metavar = "" if getattr(param, "is_flag", False) else (param.name or "").upper()
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None or high is not None:
        param.help = f"{param.help or ''} {_range_text(low, high)}".strip()
        param._get_number_range_help_str = lambda: None
    if getattr(param, "param_type_name", "") == "argument":
        name = param.metavar + ("..." if param.nargs != 1 else "")
        usage = name if param.required else f"[{name}]"
        param.display_type_rich = lambda ctx: None
        param._usage_display_name = lambda: usage


def plain_metavars(command: Any) -> None:
    """Help that reads like a man page: ``--port PORT``, ``Usage: ... NAME``,
    nothing after a flag, ranges in words, instead of Typer's type labels
    (``<bool>``, ``{name}``, ``<list[str]>``, ``<int range> [x>=1]``).

    Typer (0.2x) draws those from its parameter classes; an instance's
    metavar and a few of its methods are replaced. With a Typer without
    them, help keeps Typer's labels."""
    for param in getattr(command, "params", ()):
        _plain_param(param)
    original = getattr(command, "get_help_option", None)
    if original is not None:

        def help_option(ctx: Any) -> Any:
            option = original(ctx)
            if option is not None:
                option.metavar = ""
            return option

        command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub)


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


def _json_error(message: str, code: int, exc: BaseException | None) -> None:
    """A ``--json`` command's error: one JSON object on stdout, so a script that
    parses stdout learns what went wrong (the message also goes to stderr)."""
    import json

    doc: dict[str, Any] = {
        "error": message,
        "exit_code": int(code),
        "kind": type(exc).__name__ if exc is not None else "Interrupted",
    }
    if isinstance(exc, SpecError):
        doc["issues"] = [
            {
                "file": issue.file,
                "line": issue.line,
                "column": issue.column,
                "field": issue.field,
                "message": issue.message,
            }
            for issue in exc.issues
        ]
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point: never a traceback for an expected error (``--debug`` shows one)."""
    args = sys.argv[1:] if argv is None else argv
    if "--debug" in args:
        _debug["on"] = True
    as_json = "--json" in args
    plain_params_without_pydantic()
    command = typer.main.get_command(build_app(_command_name(args)))
    plain_metavars(command)
    failure: tuple[str, BaseException | None] | None = None
    try:
        result = command.main(args=args, prog_name="jobctl", standalone_mode=False)
        code = result if isinstance(result, int) else ExitCode.OK
    except SpecError as exc:
        for issue in exc.issues:
            err_console.print(f"error: {issue}", markup=False)
        code = exc.exit_code
        failure = ("; ".join(str(issue) for issue in exc.issues) or str(exc), exc)
    except JobctlError as exc:
        if _debug["on"]:
            err_console.print(traceback.format_exc(), markup=False)
        err_console.print(f"error: {exc}", markup=False)
        code = exc.exit_code
        failure = (str(exc), exc)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort as exc:
        code = ExitCode.INTERRUPTED
        failure = ("interrupted", exc)
    except _ClickException as exc:
        exc.show()  # type: ignore[attr-defined]
        code = ExitCode.USAGE
        failure = (exc.format_message(), exc)  # type: ignore[attr-defined]
    except KeyboardInterrupt as exc:
        err_console.print("interrupted", markup=False)
        code = ExitCode.INTERRUPTED
        failure = ("interrupted", exc)
    if as_json and failure is not None:
        _json_error(failure[0], int(code), failure[1])
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
