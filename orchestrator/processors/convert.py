"""``type: convert``: pass rows through, optionally selecting and renaming columns.

The format and compression change itself happens in the part writer
(``io/parts.py``): the job's output section decides how parts are written, so
``convert`` only has to shape the table.

Params:
    ``columns: [a, b, ...]``  keep these input columns, in this order.
    ``rename: {old: new}``    rename columns (after the selection).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ProcessorError

if TYPE_CHECKING:
    import pyarrow as pa

    from orchestrator.processors.base import ChunkContext


def check_params(params: Mapping[str, Any]) -> None:
    """Reject malformed params once, before any chunk runs."""
    columns = params.get("columns")
    if columns is not None and (
        not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)
    ):
        raise ProcessorError(f"convert: params.columns must be a list of names, got {columns!r}")
    rename = params.get("rename")
    if rename is not None and (
        not isinstance(rename, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in rename.items())
    ):
        raise ProcessorError(f"convert: params.rename must map names to names, got {rename!r}")


def convert(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Select ``params.columns`` (in order), then apply ``params.rename``."""
    params = ctx.params
    columns: list[str] | None = params.get("columns")
    rename: dict[str, str] | None = params.get("rename")
    if columns is not None:
        _require(table, columns, "columns", ctx)
        table = table.select(columns)
    if rename:
        _require(table, list(rename), "rename", ctx)
        table = table.rename_columns([rename.get(name, name) for name in table.column_names])
    return table


def _require(table: pa.Table, names: list[str], param: str, ctx: ChunkContext) -> None:
    available = table.column_names
    missing = [name for name in names if name not in available]
    if missing:
        listed = ", ".join(repr(name) for name in missing)
        raise ValueError(
            f"convert: params.{param} names column(s) {listed} not in chunk "
            f"{ctx.chunk.describe()}; available columns: {', '.join(available)}"
        )
