"""Checks made before anything is stored: can this job start at all?

The spec loader checks what a spec *says*; this checks what the machine
*has*, for ``validate``, ``submit`` and ``run`` alike, before a job row
exists: the processor imports (with the spec's folder on ``sys.path``), the
program of ``command:`` is there, the output and its staging area can be
written. Every problem becomes a :class:`~orchestrator.errors.SpecIssue`
at the job's file:line, so the CLI exits 2 with nothing stored and nothing
left ``running`` — instead of a job that fails on its first chunk, or a
traceback from ``mkdir``.

An existing output directory the user may not write into (say an empty,
root-owned mode-555 folder) is refused, not replaced: publishing swaps a new
directory into its place, which would silently change its owner and mode.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.dispatch.staging import output_dir, staging_root
from orchestrator.errors import JobctlError, SpecError, SpecIssue
from orchestrator.processors.loader import load_processor
from orchestrator.processors.python_callable import load_callable
from orchestrator.spec.local_paths import python_path
from orchestrator.spec.model import JobSpec, SpecFile

_WRITE = os.W_OK | os.X_OK


def check_jobs(spec_file: SpecFile, jobs: Sequence[JobSpec]) -> None:
    """Raise one :class:`SpecError` naming every job of ``jobs`` that cannot start."""
    issues: list[SpecIssue] = []
    for job in jobs:
        issues += job_problems(spec_file.path, job)
    if issues:
        raise SpecError(issues)


def job_problems(spec_path: str, job: JobSpec) -> list[SpecIssue]:
    def issue(field: str, message: str) -> SpecIssue:
        return SpecIssue(spec_path, job.source.line, None, f"{job.name}.{field}", message)

    found: list[SpecIssue] = []
    search = python_path(spec_path)
    payload = {
        "name": job.name,
        "type": job.type,
        "python": job.python,
        "command": list(job.command) if job.command else None,
        "params": job.params,
        "python_path": search,
    }
    for field, loaded in _processors(job, payload):
        try:
            load_processor(loaded)
        except JobctlError as exc:
            hint = ""
            if loaded.get("python") and search and "No module named" in str(exc):
                hint = f" (looked in the spec's folder {', '.join(search)} and sys.path)"
            found.append(issue(field, f"{exc}{hint}"))
    planner = job.strategy_spec().planner
    if planner is not None:
        try:
            load_callable(planner, search)
        except JobctlError as exc:
            found.append(issue("strategy.planner", str(exc)))
    if job.type == "transform" and not found:
        from orchestrator.processors.transform_check import bind_problems, input_schema
        from orchestrator.spec.transform_params import param_location

        schema = input_schema(job.input)
        for param, message in bind_problems(job.params, schema) if schema is not None else ():
            written = job.source.file if os.path.isfile(job.source.file) else spec_path
            at = param_location(written, job.source.line, param) or (job.source.line, None)
            field = f"{job.name}.params.{param}"
            found.append(SpecIssue(written, at[0], at[1], field, message))
    if job.type == "identity_match" and job.params.get("mode") == "link" and not found:
        found += [issue("params.datasets", problem) for problem in _link_problems(job)]
    if job.type == "report" and _pushes(job):
        found.append(
            issue(
                "executor.ssh.transfer",
                "a report's reduce chunk writes report.html/.json/.md beside its part: "
                "it needs hosts that write the output folder (transfer: shared), not push",
            )
        )
    if job.output is not None:
        problem = output_problem(job.output.path)
        if problem is not None:
            found.append(issue("output.path", problem))
    return found


def _link_problems(job: JobSpec) -> list[str]:
    """How the input files fall into a link job's datasets (every file in one,
    every dataset holding one): known before any chunk runs."""
    from orchestrator.planning.discover import discover_inputs
    from orchestrator.processors.identity import config_of
    from orchestrator.processors.identity.datasets import unmatched_files

    try:
        paths = [path for path, _ in discover_inputs(job.input)]
    except JobctlError:
        return []  # the plan says what is wrong with the input itself
    return unmatched_files(config_of(job.params), paths)[:5]


def _processors(job: JobSpec, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(field, payload) of every processor the job runs: its own, or each
    phase's of a ``hybrid`` strategy (whose job names none)."""
    field = "python" if job.python else "command" if job.command else "type"
    strategy = job.strategy_spec()
    if strategy.type != "hybrid" or job.type or job.python or job.command:
        return [(field, payload)]
    found: list[tuple[str, dict[str, Any]]] = []
    for i, phase in enumerate(strategy.phases):
        for key, ref in (("map", phase.map), ("", phase.processor)):
            if ref is not None:
                where = f"strategy.phases[{i}]" + (f".{key}" if key else "")
                found.append((where, {**payload, **ref.payload(), "name": job.name}))
    return found


def _pushes(job: JobSpec) -> bool:
    """Does the job's ssh section ask for push transfer (section or any host)?"""
    ssh = job.executor.ssh
    if ssh is None:
        return False
    hosts = ssh.get("hosts")
    per_host = (
        [h.get("transfer") for h in hosts if isinstance(h, dict)] if isinstance(hosts, list) else []
    )
    return "push" in (ssh.get("transfer"), *per_host)


def output_problem(output_path: str) -> str | None:
    """Why the output folder or its staging area (a hidden sibling) cannot be written."""
    out = output_dir(output_path)
    if out.exists() and not out.is_dir():
        return f"output {out} exists and is not a directory"
    if out.is_dir() and not os.access(out, _WRITE):
        return (
            f"output directory {out} exists and is not writable by this user "
            f"({_owner_mode(out)}); jobctl will not replace it: fix its permissions, "
            "remove it, or choose another output.path"
        )
    parent = _existing_ancestor(out.parent)
    if not parent.is_dir():
        return f"cannot create output {out}: {parent} is not a directory"
    if not os.access(parent, _WRITE):
        where = "the output's parent" if parent == out.parent else "the nearest existing folder"
        return (
            f"cannot write output {out}: {where} {parent} is not writable by this user "
            f"({_owner_mode(parent)}); the staging area {staging_root(output_path)} and the "
            "published folder are created there"
        )
    return None


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _owner_mode(path: Path) -> str:
    info = path.stat()
    try:
        import pwd

        owner = pwd.getpwuid(info.st_uid).pw_name
    except (ImportError, KeyError):
        owner = str(info.st_uid)
    return f"owner {owner}, mode {info.st_mode & 0o7777:o}"
