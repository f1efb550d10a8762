"""``params`` of a ``type: transform`` job, read where their lines are known.

The queries are parsed by DuckDB here, so a syntax error names the line of
``sql:`` in the spec; binding them (columns, types, the dimension tables)
needs the input's schema and is done before anything is stored, by
``processors/transform_check.py``, whose problems :func:`param_location`
places at the line of the param. Paths in ``tables`` are made absolute
against the spec's folder, as ``input.path`` is.
"""

from __future__ import annotations

from typing import Any

from orchestrator.spec.checks import Checker
from orchestrator.spec.local_paths import resolve_path
from orchestrator.spec.yaml_nodes import YMap, YNode


def read_transform_params(
    c: Checker, node: YNode | None, path: str, base_dir: str, params: dict[str, Any]
) -> dict[str, Any]:
    """``params`` with ``tables`` resolved; problems recorded on ``c`` at their line."""
    from orchestrator.processors.transform import PARAMS, sql_parse_problem

    if not isinstance(node, YMap):
        c.add(node, path, "transform needs params: {sql: SELECT ... FROM chunk}")
        return params
    c.keys(node, path, PARAMS[:4], required=("sql",))
    for key in ("sql", "map_sql"):
        value = node.get(key)
        if value is not None and (problem := sql_parse_problem(params.get(key))) is not None:
            c.add(value, f"{path}.{key}", problem)
    if node.get("map_sql") is not None and node.get("partition_by") is None:
        c.add(
            node.get("map_sql"),
            f"{path}.map_sql",
            "map_sql runs before a shuffle: it needs partition_by (the key of the shuffle)",
        )
    tables = params.get("tables")
    if tables is None:
        return params
    tables_node = node.get("tables")
    if not isinstance(tables, dict) or not isinstance(tables_node, YMap):
        c.add(tables_node, f"{path}.tables", "expected a mapping of table name to file path")
        return params
    resolved: dict[str, Any] = {}
    for name, raw in tables.items():
        if isinstance(raw, str):
            resolved[name] = resolve_path(raw, base_dir)
        else:
            c.add(tables_node.get(name), f"{path}.tables.{name}", "expected a file path")
    return {**params, "tables": resolved}


def param_location(spec_path: str, job_line: int | None, key: str) -> tuple[int, int] | None:
    """Where ``params.<key>`` of the job written at ``job_line`` is in the spec
    file (line, column), for a problem found after the spec was read (a query
    that does not bind against the input); None when it cannot be told."""
    from orchestrator.spec.yaml_nodes import YSeq, parse_yaml

    try:
        with open(spec_path, encoding="utf-8") as f:
            root, _problems = parse_yaml(f.read())
    except (OSError, UnicodeDecodeError):
        return None
    jobs = root.get("jobs") if isinstance(root, YMap) else None
    if not isinstance(jobs, YSeq):
        return None
    for job in jobs.items:
        if isinstance(job, YMap) and job.line == job_line:
            params = job.get("params")
            value = params.get(key) if isinstance(params, YMap) else None
            return (value.line, value.column) if value is not None else None
    return None
