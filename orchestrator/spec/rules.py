"""The ``params`` of a ``type: validate`` job: ``schema``, ``rules``, ``max_reject_rate``.

Read into the canonical form the processor runs (``processors/validate.py``),
with every problem at its file:line: an unknown rule or key, a bad argument
(a regex that does not compile, a date format, an expression that does not
parse, a reference file that is missing or lacks its column, a Python rule
that does not import), and a column that cannot exist where the columns are
known (the header of a single local CSV file or the schema of a single
Parquet file, after the job's ``steps``). Paths are resolved against the
spec's folder, and the spec's folder is where a ``python:`` rule is imported
from, as for a ``python:`` processor.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from orchestrator.spec.checks import Checker
from orchestrator.spec.local_paths import resolve_path
from orchestrator.spec.model import InputSpec
from orchestrator.spec.steps import input_columns
from orchestrator.spec.yaml_nodes import YMap, YNode, YScalar, YSeq, to_plain

PARAM_KEYS = ("schema", "rules", "max_reject_rate")
#: The map step of a validate job with a unique rule (the reduce is the job's own type).
VALIDATE_MAP = "orchestrator.processors.validate:validate_map"


def read_validate(
    c: Checker,
    job: YMap,
    p: str,
    base_dir: str,
    source: InputSpec,
    steps: Sequence[dict[str, Any]],
    strategy: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A validate job's params and strategy fields: with a ``unique`` rule, a
    map_reduce partitioned by its column (map: every other rule; reduce: unique)."""
    from orchestrator.spec.strategy import ProcessorRef, StrategySpec

    params = read_validate_params(
        c, job.get("params"), f"{p}.params", base_dir, source, steps, anchor=job.get("type")
    )
    _refuse_push(c, job, p)
    unique = [r["column"] for r in params.get("rules") or () if r["rule"] == "unique"]
    if not unique:
        return params, strategy
    if (node := job.get("strategy")) is not None:
        c.add(
            node,
            f"{p}.strategy",
            "a validate job with a unique rule runs as a map_reduce by that column "
            "(the whole dataset is checked): leave strategy out",
        )
        return params, strategy
    spec = StrategySpec(
        type="map_reduce",
        partition_by=(unique[0],),
        map=ProcessorRef(python=VALIDATE_MAP, params=params),
    )
    return params, {"strategy": "map_reduce", "strategy_options": spec.to_dict()}


def _refuse_push(c: Checker, job: YMap, p: str) -> None:
    """The quarantine and counts are files beside the part: a push-mode host
    (no shared storage) sends back only the part, so it cannot run validate."""
    executor = job.get("executor")
    ssh = executor.get("ssh") if isinstance(executor, YMap) else None
    transfer = ssh.get("transfer") if isinstance(ssh, YMap) else None
    if isinstance(transfer, YScalar) and transfer.value == "push":
        c.add(
            transfer,
            f"{p}.executor.ssh.transfer",
            "type validate writes its quarantine beside the parts: its SSH hosts need "
            "shared storage (transfer: shared or auto), push is not available for it",
        )


def read_validate_params(
    c: Checker,
    node: YNode | None,
    path: str,
    base_dir: str,
    source: InputSpec,
    steps: Sequence[dict[str, Any]],
    anchor: YNode | None = None,
) -> dict[str, Any]:
    """The canonical params of a validate job (``{}`` after an error: the load fails);
    ``anchor`` is where a missing ``params`` is reported (the ``type:`` line)."""
    from orchestrator.processors.validate_rules import RuleError, parse_rule, rule_columns
    from orchestrator.processors.validate_schema import parse_schema

    mapping = c.mapping(node, path) if node is not None else None
    if mapping is None:
        if node is None:
            c.add(anchor, path, "type validate needs params with a schema or rules")
        return {}
    c.keys(mapping, path, PARAM_KEYS)
    known = _columns_after_steps(source, steps)
    out: dict[str, Any] = {}
    if (schema_node := mapping.get("schema")) is not None:
        try:
            out["schema"] = parse_schema(to_plain(schema_node))
        except RuleError as exc:
            c.add(schema_node, f"{path}.schema", str(exc))
        else:
            _require(c, schema_node, f"{path}.schema", list(out["schema"]), known)
    rules: list[dict[str, Any]] = []
    items: list[YNode] = []
    rules_node = mapping.get("rules")
    if rules_node is not None and not isinstance(rules_node, YSeq):
        c.expected(rules_node, f"{path}.rules", "a list of rules")
    elif rules_node is not None:
        for index, item in enumerate(rules_node.items):
            where = f"{path}.rules[{index}]"
            try:
                rule = parse_rule(to_plain(item), index)
                _resolve(rule, base_dir)
                columns = rule_columns(rule)
            except RuleError as exc:
                c.add(item, where, str(exc))
                continue
            if any(r["name"] == rule["name"] for r in rules):
                c.add(item, where, f"two rules are named {rule['name']!r}: give one a name")
            _require(c, item, where, columns, known)
            rules.append(rule)
            items.append(item)
    first_unique: str | None = None
    for rule, item in zip(rules, items, strict=True):
        if rule["rule"] != "unique":
            continue
        if first_unique is None:
            first_unique = rule["column"]
        elif rule["column"] != first_unique:
            c.add(
                item,
                f"{path}.rules",
                "unique rules on more than one column are not available in this build "
                f"(got {first_unique} and {rule['column']}): the dataset is shuffled by one column",
            )
    if "schema" not in out and not rules and mapping.get("schema") is None and rules_node is None:
        c.add(mapping, path, "type validate needs a schema, rules or both")
    out["rules"] = rules
    if (rate_node := mapping.get("max_reject_rate")) is not None:
        out["max_reject_rate"] = _rate(c, rate_node, f"{path}.max_reject_rate")
    if any(r["rule"] == "python" for r in rules):
        out["python_path"] = [base_dir]
        _check_python(c, rules_node, f"{path}.rules", rules, base_dir)
    return out


def _columns_after_steps(source: InputSpec, steps: Sequence[dict[str, Any]]) -> list[str] | None:
    known = input_columns(source)
    if not steps:
        return known
    from orchestrator.standardize.errors import StandardizeError
    from orchestrator.standardize.pipeline import next_columns

    try:
        for step in steps:
            known = next_columns(step, known)
    except StandardizeError:
        return None  # reported by the steps reader
    return known


def _require(
    c: Checker, node: YNode, path: str, columns: Sequence[str], known: list[str] | None
) -> None:
    if known is None:
        return
    missing = [name for name in columns if name not in known]
    if missing:
        c.add(
            node,
            path,
            f"no column {', '.join(map(repr, missing))} in the input "
            f"(its columns{' after the steps' if known else ''}: {', '.join(known)})",
        )


def _resolve(rule: dict[str, Any], base_dir: str) -> None:
    """A foreign key's reference file: absolute, present, with its column."""
    if rule["rule"] != "foreign_key":
        return
    from orchestrator.processors.validate_rules import RuleError

    path = resolve_path(rule["reference"], base_dir)
    if not os.path.isfile(path):
        raise RuleError(f"rule foreign_key: reference file {rule['reference']!r} does not exist")
    rule["reference"] = path
    columns = input_columns(InputSpec(path=path))
    if columns is not None and rule["reference_column"] not in columns:
        raise RuleError(
            f"rule foreign_key: {rule['reference']} has no column {rule['reference_column']!r} "
            f"(it has: {', '.join(columns)})"
        )


def _rate(c: Checker, node: YNode, path: str) -> float | None:
    """``1%``, ``0.5%`` or a fraction ``0.01``, between 0 and 1."""
    value = node.value if isinstance(node, YScalar) else None
    try:
        if isinstance(value, str) and value.strip().endswith("%"):
            rate = float(value.strip()[:-1]) / 100
        elif isinstance(value, int | float) and not isinstance(value, bool):
            rate = float(value)
        else:
            raise ValueError
    except ValueError:
        c.expected(node, path, "a percentage like 1% or a fraction like 0.01")
        return None
    if not 0 <= rate <= 1:
        c.add(node, path, f"must be between 0% and 100%, got {c.shown(node)}")
        return None
    return rate


def _check_python(
    c: Checker, node: YNode | None, path: str, rules: list[dict[str, Any]], base_dir: str
) -> None:
    """Import each ``python:`` rule now, as ``validate`` does for a python processor."""
    from orchestrator.errors import ProcessorError
    from orchestrator.processors.python_callable import load_callable

    items = node.items if isinstance(node, YSeq) else []
    for rule in rules:
        if rule["rule"] != "python":
            continue
        try:
            load_callable(rule["python"], [base_dir])
        except ProcessorError as exc:
            same = [i for i in items if isinstance(i, YMap) and _python_of(i) == rule["python"]]
            c.add(same[0] if same else node, path, f"rule {rule['name']}: {exc}")


def _python_of(item: YMap) -> Any:
    node = item.get("python")
    return node.value if isinstance(node, YScalar) else None
