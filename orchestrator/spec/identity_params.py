"""Validate-time checks of an ``identity_match`` job: its params, with file:line.

The params are read by the one config reader (``matching/config.py``); each
error's key path is walked down the YAML tree here to the node it names, so
``jobctl validate`` points at the line of the unknown field, comparison,
blocking term or standardizer. Also refused here: an explicit ``strategy``
(the job type plans its own phases) and an output other than Parquet (the
edges side output is Parquet and one output has one format).
"""

from __future__ import annotations

import dataclasses

from orchestrator.spec.checks import Checker
from orchestrator.spec.local_paths import resolve_path
from orchestrator.spec.model import JobSpec
from orchestrator.spec.yaml_nodes import YMap, YNode, YScalar, YSeq, to_plain


def _node_at(root: YNode, path: tuple[str | int, ...]) -> YNode:
    """The deepest node of ``root`` along ``path`` (a key that is absent: its parent)."""
    node = root
    for step in path:
        if isinstance(node, YMap) and isinstance(step, str) and step in node.entries:
            node = node.entries[step][1]
        elif isinstance(node, YSeq) and isinstance(step, int) and step < len(node.items):
            node = node.items[step]
        else:
            break
    return node


def identity_job(c: Checker, job: JobSpec, node: YMap, path: str, base_dir: str) -> JobSpec:
    """``job`` checked (problems recorded on ``c``), with the paths its workers
    read resolved against the spec's folder: a saved ``model`` and each of
    link mode's ``datasets`` globs."""
    check_identity_job(c, node.get("params"), path, node.get("strategy"), node.get("output"), node)
    params = dict(job.params)
    if isinstance(model := params.get("model"), str) and model:
        params["model"] = resolve_path(model, base_dir)
    if isinstance(datasets := params.get("datasets"), dict):
        params["datasets"] = {
            name: resolve_path(pattern, base_dir)
            if isinstance(pattern, str) and pattern
            else pattern
            for name, pattern in datasets.items()
        }
    return dataclasses.replace(job, params=params)


def check_identity_job(
    c: Checker,
    params: YNode | None,
    path: str,
    strategy: YNode | None,
    output: YNode | None,
    job: YMap,
) -> None:
    """Record every problem of an identity_match job on ``c``."""
    from orchestrator.matching.config import collect_errors

    if strategy is not None:
        c.add(
            strategy,
            path.rsplit(".", 1)[0] + ".strategy",
            "identity_match plans its own phases: leave 'strategy' out",
        )
    if output is None:
        c.add(job, path.rsplit(".", 1)[0], "identity_match needs an output (a Parquet folder)")
    elif (
        isinstance(output, YMap)
        and isinstance(fmt := output.get("format"), YScalar)
        and fmt.value != "parquet"
    ):
        c.add(
            fmt,
            path.rsplit(".", 1)[0] + ".output.format",
            "identity_match writes Parquet (entities and edges): set format: parquet",
        )
    if isinstance(output, YMap) and (schema := output.get("schema")) is not None:
        c.add(
            schema,
            path.rsplit(".", 1)[0] + ".output.schema",
            "identity_match decides its output columns: leave output.schema out",
        )
    if (steps := job.get("steps")) is not None:
        c.add(
            steps,
            path.rsplit(".", 1)[0] + ".steps",
            "identity_match standardizes each field with params.fields.<name>.standardize "
            "(the same steps): leave 'steps' out",
        )
    if params is None or (isinstance(params, YScalar) and params.value is None):
        c.add(job, path, "identity_match needs params: mode, id, fields, blocking (see README)")
        return
    if not isinstance(params, YMap):
        c.expected(params, path, "a mapping")
        return
    for error in collect_errors(to_plain(params)):
        where = "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in error.path)
        c.add(_node_at(params, error.path), path + where, error.message)
