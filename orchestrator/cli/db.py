"""`jobctl db upgrade|status`: schema migrations of the state store."""

from __future__ import annotations

import typer

from orchestrator.cli.common import DbOption, JsonOption, console, print_json

db_app = typer.Typer(help="State store schema: upgrade and status.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Apply pending migrations (safe to run concurrently and repeatedly)."""
    from orchestrator import api

    result = api.upgrade_schema(db)
    applied = list(result.applied)
    if json_output:
        print_json({"store": result.display, "applied": applied, "version": result.version})
    elif applied:
        console.print(f"{result.display}: applied {applied}, now at {result.version}", markup=False)
    else:
        console.print(f"{result.display}: up to date at version {result.version}", markup=False)


@db_app.command("status")
def status(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Show the store's schema version and the latest this jobctl knows."""
    from orchestrator import api

    result = api.schema_status(db)
    doc = {
        "store": result.display,
        "version": result.version,
        "latest": result.latest,
        "up_to_date": result.up_to_date,
    }
    if json_output:
        print_json(doc)
    else:
        state = "up to date" if result.up_to_date else f"behind (latest {result.latest})"
        console.print(f"{doc['store']}: schema version {result.version}, {state}", markup=False)
