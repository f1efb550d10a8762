"""``jobctl gc``: remove what failed and cancelled jobs left in staging."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from orchestrator.cli.common import DbOption, JsonOption, cli_store, console, print_json


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be removed.")
    ] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove the staging directories of failed and cancelled jobs.

    Their committed parts are kept for `jobctl resume`; after gc such a job
    cannot be resumed (run the spec again with a new run key)."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        removed = api.gc_staging(store, dry_run=dry_run)
    if json_output:
        print_json({"dry_run": dry_run, "removed": [dataclasses.asdict(r) for r in removed]})
        return
    verb = "would remove" if dry_run else "removed"
    for item in removed:
        console.print(
            f"job {item.job_id} {item.name} ({item.state}): {verb} {item.staging} "
            f"({item.bytes} bytes)",
            markup=False,
        )
    total = sum(item.bytes for item in removed)
    console.print(f"{verb} the staging of {len(removed)} job(s), {total} bytes", markup=False)
