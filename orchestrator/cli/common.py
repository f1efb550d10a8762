"""Options shared by every command, so flags are spelled the same everywhere.

Every ``jobctl`` process imports this module and every command module before
it parses its arguments, so they import no more than typer: the core, the
store backends and Rich are imported by the commands that use them. A
``status --json`` then costs the interpreter, typer and one store backend.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console

    from orchestrator.api import Store

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="State store URL (postgresql://... or sqlite:///path.db). "
        "Default: $JOBCTL_DATABASE_URL, else the embedded SQLite store.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
MaxFailures = Annotated[
    int | None,
    typer.Option(
        "--max-failures",
        min=1,
        metavar="N",
        help="Stop a job (failed) once N of its chunks are dead; chunks not yet run "
        "stay pending for `jobctl resume`. Spec: retries.fail_fast: true means 1.",
        show_default=False,
    ),
]
AcceptNewHostKeys = Annotated[
    bool,
    typer.Option(
        "--accept-new-host-keys",
        help="Record the keys of SSH hosts not yet in known_hosts (never changed keys).",
    ),
]


class LazyConsole:
    """A Rich console made on its first use.

    Importing Rich and making a console takes longer than a ``--json``
    command's whole query; commands that print nothing through Rich never pay
    for it.
    """

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def rich(self) -> Console:
        """The Rich console itself (for a live view)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return self._console

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """:meth:`rich.console.Console.print`."""
        self.rich.print(*objects, **kwargs)


#: Rich console for stdout (tables, live view) and stderr (notices, errors).
console = LazyConsole()
err_console = LazyConsole(stderr=True)


def is_terminal() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


@contextmanager
def cli_store(db: str | None, *, quiet: bool = False) -> Iterator[Store]:
    """Open the store for one command. The embedded file is named once, by the
    command that creates it (``quiet``: not even then, for ``--json``)."""
    from orchestrator import api

    choice = api.choose_store(db)
    if choice.creates and not quiet:
        err_console.print(
            f"jobctl: created the embedded store {choice.display} "
            "(set JOBCTL_DATABASE_URL or --db for PostgreSQL)",
            style="dim",
        )
    store = api.open_store(choice.url)
    try:
        yield store
    finally:
        store.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def print_json(data: Any) -> None:
    """JSON on stdout, one document, stable key order."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")
    sys.stdout.flush()


def fmt_time(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"
