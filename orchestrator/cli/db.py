"""`jobctl db upgrade|status`: schema migrations of the state store."""

from __future__ import annotations

import typer

from orchestrator.cli.common import DbOption, JsonOption, console, print_json

db_app = typer.Typer(help="State store schema: upgrade and status.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Apply pending migrations (safe to run concurrently and repeatedly)."""
    from orchestrator.store import open_store, redact_url, resolve_store_url

    url, _ = resolve_store_url(db)
    store = open_store(url, upgrade=False)
    try:
        applied = store.upgrade()
        current, _latest = store.schema_version()
    finally:
        store.close()
    if json_output:
        print_json({"store": redact_url(url), "applied": applied, "version": current})
    elif applied:
        console.print(f"{redact_url(url)}: applied {applied}, now at {current}", markup=False)
    else:
        console.print(f"{redact_url(url)}: up to date at version {current}", markup=False)


@db_app.command("status")
def status(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Show the store's schema version and the latest this jobctl knows."""
    from orchestrator.store import open_store, redact_url, resolve_store_url

    url, _ = resolve_store_url(db)
    store = open_store(url, upgrade=False)
    try:
        current, latest = store.schema_version()
    finally:
        store.close()
    doc = {
        "store": redact_url(url),
        "version": current,
        "latest": latest,
        "up_to_date": current == latest,
    }
    if json_output:
        print_json(doc)
    else:
        state = "up to date" if current == latest else f"behind (latest {latest})"
        console.print(f"{doc['store']}: schema version {current}, {state}", markup=False)
