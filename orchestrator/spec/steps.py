"""The ``steps:`` list of a job: preprocessing run in the worker before the processor.

Each entry is read by :func:`orchestrator.standardize.pipeline.parse_entry`
(the one step registry, shared with identity matching); a problem is recorded
at the entry's file:line. Column names are followed through the list where
they are known: from the header of a single local CSV file or the schema of a
single local Parquet file, and after any ``select``. The standardization
package (Polars, phonenumbers...) is imported only by a job that has steps.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any

from orchestrator.spec.checks import Checker
from orchestrator.spec.model import InputSpec
from orchestrator.spec.yaml_nodes import YNode, YScalar, YSeq, to_plain

#: Bytes read from a CSV file to find its header line.
_HEADER_BYTES = 1 << 16


def read_steps(
    c: Checker, node: YNode | None, path: str, source: InputSpec | None
) -> tuple[dict[str, Any], ...]:
    """The canonical steps of a job (empty when it has none)."""
    if node is None or (isinstance(node, YScalar) and node.value is None):
        return ()
    if not isinstance(node, YSeq):
        if not c.reported(node):
            c.expected(node, path, "a list of steps, e.g. [{trim: [name]}, {lower: [email]}]")
        return ()
    from orchestrator.standardize.errors import StandardizeError
    from orchestrator.standardize.pipeline import next_columns, parse_entry

    known = input_columns(source) if source is not None else None
    steps: list[dict[str, Any]] = []
    for index, item in enumerate(node.items):
        where = f"{path}[{index}]"
        if c.reported(item):
            known = None
            continue
        raw = to_plain(item)
        try:
            entry = parse_entry(raw)
        except StandardizeError as exc:
            c.add(item, where, str(exc))
            if _may_reshape(raw):  # what columns follow is not known any more
                known = None
            continue
        try:
            known = next_columns(entry, known)
        except StandardizeError as exc:
            c.add(item, where, str(exc))
            known = None
        steps.append(entry)
    return tuple(steps)


def _may_reshape(raw: Any) -> bool:
    """Whether a step that could not be read might have changed the column names."""
    if not isinstance(raw, dict) or len(raw) != 1:
        return True
    ((name, arg),) = raw.items()
    return name in ("rename", "select", "drop", "derive") or (
        isinstance(arg, dict) and "into" in arg
    )


def input_columns(source: InputSpec) -> list[str] | None:
    """The input's column names when one local file says them (else None)."""
    path = source.path
    if path is None or not os.path.isfile(path):
        return None
    fmt = source.format
    if fmt == "parquet" or (fmt == "auto" and path.endswith(".parquet")):
        try:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        except (OSError, ValueError):
            return None
    if not (fmt == "csv" or (fmt == "auto" and path.endswith(".csv"))):
        return None
    options = source.csv
    if not options.header:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER_BYTES)
        text = head.decode(options.encoding, errors="replace").lstrip("\ufeff")
        line = next(
            csv.reader(
                io.StringIO(text), delimiter=options.delimiter, quotechar=options.quote_char or '"'
            ),
            None,
        )
    except (OSError, LookupError, csv.Error):
        return None
    return list(line) if line else None
