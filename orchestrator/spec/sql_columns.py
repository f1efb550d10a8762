"""The input columns a ``transform`` query can read: what a keyed transform shuffles.

A keyed transform without ``map_sql`` shuffles the rows as read, and its
reduce ``sql`` is the only reader of them. When the query names its columns,
the map side reads (Parquet: decodes) and spills only those, so a group-by of
three columns of a wide file moves three columns, not the file.

The names come from DuckDB's own parser (``json_serialize_sql``), never from
matching text. The answer is an over-approximation: every identifier the query
mentions anywhere (a column, a struct field, an alias, a lambda parameter),
compared case-insensitively as DuckDB compares identifiers. Extra names cost
nothing. Anything that can reach a column without naming it gives None (read
every column): ``*`` and ``COLUMNS(...)``, positional references (``#1``), a
table or its alias used as a value (``row_to_json(chunk)``), renamed columns
(``FROM chunk AS t(a, b)``), ``NATURAL`` joins, ``PIVOT``/``UNPIVOT``, or a
query the parser refuses.
"""

from __future__ import annotations

import json
from typing import Any

#: AST node classes or types that reach columns without naming them.
_OPAQUE = {"STAR", "POSITIONAL_REFERENCE", "PIVOT", "UNPIVOT"}


def referenced_names(sql: str) -> frozenset[str] | None:
    """Every identifier ``sql`` mentions (lower case), or None when it may read
    columns it does not name (see the module docstring)."""
    import duckdb  # here: only a keyed transform's spec needs it

    from orchestrator.processors.transform import scratch_connection  # one database per process

    try:
        row = scratch_connection().execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    except duckdb.Error:
        return None
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        return None
    names: set[str] = set()
    singles: set[str] = set()  # unqualified references: a column, or a whole row
    tables: set[str] = set()
    if not _walk(tree, names, singles, tables):
        return None
    if singles & tables:  # a table or its alias used as a value: every column
        return None
    return frozenset(names)


def _walk(node: Any, names: set[str], singles: set[str], tables: set[str]) -> bool:
    """Collect identifiers and table names; False at anything opaque."""
    if isinstance(node, list):
        return all(_walk(item, names, singles, tables) for item in node)
    if not isinstance(node, dict):
        return True
    if node.get("class") in _OPAQUE or node.get("type") in _OPAQUE:
        return False
    if node.get("ref_type") == "NATURAL" or node.get("join_type") == "NATURAL":
        return False
    if node.get("column_name_alias"):
        return False
    parts = [str(n).lower() for n in node.get("column_names") or ()]
    names.update(parts)
    if len(parts) == 1:
        singles.add(parts[0])
    names.update(str(n).lower() for n in node.get("using_columns") or ())
    if node.get("type") == "BASE_TABLE":
        tables.update(str(node.get(k) or "").lower() for k in ("table_name", "alias"))
        tables.discard("")
    if node.get("type") == "SUBQUERY" and node.get("alias"):
        tables.add(str(node["alias"]).lower())
    return all(_walk(v, names, singles, tables) for v in node.values())
