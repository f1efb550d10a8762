"""``jobctl eval``: measure a job's output against known truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import JsonOption, console, print_json
from orchestrator.cli.render import print_rows

eval_app = typer.Typer(help="Measure a job's output against known truth.", no_args_is_help=True)


@eval_app.command("identity")
def identity(
    output: Annotated[
        Path,
        typer.Argument(
            help="Clustered output: a folder of Parquet/CSV parts, or one file.",
            show_default=False,
        ),
    ],
    truth: Annotated[
        str,
        typer.Option(
            "--truth",
            metavar="COLUMN_OR_FILE",
            help="The true entity: a column of the same rows, or a file of id and true entity.",
            show_default=False,
        ),
    ],
    id_column: Annotated[
        str | None,
        typer.Option("--id", metavar="COL", help="Record id column (needed with a truth file)."),
    ] = None,
    cluster_column: Annotated[
        str,
        typer.Option("--cluster", metavar="COL", help="Predicted cluster column."),
    ] = "entity_id",
    truth_column: Annotated[
        str | None,
        typer.Option(
            "--truth-column",
            metavar="COL",
            help="True entity column of the truth file (default: its only other column).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Pairwise, exact-cluster and B-cubed precision/recall/F1 of a clustering."""
    from orchestrator.api.evaluate import evaluate_identity

    result = evaluate_identity(
        output,
        truth,
        id_column=id_column,
        cluster_column=cluster_column,
        truth_column=truth_column,
    )
    if as_json:
        print_json(result.to_dict())
        return
    scores = result.scores
    rows = [
        [name, f"{family.precision:.4f}", f"{family.recall:.4f}", f"{family.f1:.4f}"]
        for name, family in (
            ("pairwise", scores.pairwise),
            ("cluster", scores.cluster),
            ("b-cubed", scores.bcubed),
        )
    ]
    print_rows(["metric", "precision", "recall", "f1"], rows, right={1, 2, 3})
    console.print(
        f"{scores.records} records; {scores.predicted_clusters} predicted clusters,"
        f" {scores.true_clusters} true; {scores.predicted_pairs} predicted pairs,"
        f" {scores.true_pairs} true, {scores.true_positive_pairs} both",
        markup=False,
        soft_wrap=True,
    )
    if result.missing_from_output:
        console.print(
            f"{result.missing_from_output} record(s) of the truth missing from the output"
            " (counted as unmatched)",
            markup=False,
            soft_wrap=True,
        )
