"""Load a spec file into a validated :class:`SpecFile`, or say everything wrong with it.

The flow: YAML text -> line-numbered tree (:mod:`.yaml_nodes`, safe_load
semantics, bounded) -> secret scan over the whole tree (:mod:`.secret_scan`)
-> file-level checks (version, defaults, jobs) -> each job with the defaults
deep-merged in (:mod:`.job_reader`) -> checks across jobs (unique names,
``depends_on`` targets and cycles). Every problem becomes a
:class:`~orchestrator.errors.SpecIssue`; one :class:`SpecError` carrying all
of them is raised at the end, so a user fixes a file in one round.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from orchestrator.errors import SpecError, SpecIssue
from orchestrator.spec import secret_scan
from orchestrator.spec.checks import Checker, suggest
from orchestrator.spec.job_reader import EXCLUSIVE_KEYS, JOB_KEYS, JobReader
from orchestrator.spec.model import JobSpec, SpecFile
from orchestrator.spec.yaml_nodes import (
    YamlProblem,
    YMap,
    YNode,
    YScalar,
    YSeq,
    mark_defaults,
    merge,
    parse_yaml,
)

SUPPORTED_VERSIONS: tuple[int, ...] = (1,)
MAX_SPEC_BYTES = 10 * 1024 * 1024  # a spec is configuration; anything bigger is a mistake
TOP_KEYS: tuple[str, ...] = ("version", "defaults", "jobs")
# What `defaults:` may set: any job key except those that identify one job.
DEFAULT_KEYS: tuple[str, ...] = tuple(k for k in JOB_KEYS if k not in ("name", "depends_on"))


def load_spec(path: str | os.PathLike[str]) -> SpecFile:
    """Read and validate the spec file at ``path``.

    Raises :class:`SpecError` (``.issues``: every problem, with file, line,
    column and field) when the file cannot be read or is not a valid spec.
    """
    filename = os.fspath(path)
    try:
        with open(filename, "rb") as stream:
            data = stream.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise _fatal(filename, None, f"cannot read the spec file: {exc.strerror or exc}") from None
    if len(data) > MAX_SPEC_BYTES:
        raise _fatal(filename, None, f"larger than {MAX_SPEC_BYTES // 1024 // 1024} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _fatal(filename, line, "not UTF-8 text") from None
    return load_spec_text(text, filename)


def load_spec_text(text: str, filename: str, *, base_dir: str | None = None) -> SpecFile:
    """Validate spec ``text``; ``filename`` is used in messages.

    Relative ``input.path``/``output.path`` are resolved against ``base_dir``,
    by default the folder of ``filename`` (the current directory for a
    pseudo-name like ``<stdin>``).
    """
    absolute = os.path.abspath(filename)
    base = base_dir if base_dir is not None else os.path.dirname(absolute)
    if len(text) > MAX_SPEC_BYTES:
        raise _fatal(filename, None, f"larger than {MAX_SPEC_BYTES // 1024 // 1024} MiB")
    try:
        root, problems = parse_yaml(text)
    except YamlProblem as problem:
        raise SpecError(
            [SpecIssue(filename, problem.line, problem.column, problem.field, problem.message)]
        ) from None
    checker = Checker(filename)
    for found in problems:
        checker.issues.append(
            SpecIssue(filename, found.line, found.column, found.field, found.message)
        )
    if root is None:
        raise _fatal(filename, None, "the spec file is empty: it needs 'version: 1' and 'jobs:'")
    if not isinstance(root, YMap):
        checker.add(
            root,
            "",
            f"the top level must be a mapping with 'version' and 'jobs', got "
            f"{checker.describe(root)}",
        )
        raise SpecError(checker.sorted_issues())
    hits, checker.hidden = secret_scan.scan(root)
    for hit in hits:
        checker.add(hit.node, hit.path, hit.message)
    jobs = _read_file(checker, root, base, absolute)
    if checker.issues:
        raise SpecError(checker.sorted_issues())
    return SpecFile(path=absolute, version=SUPPORTED_VERSIONS[-1], jobs=tuple(jobs))


def _fatal(filename: str, line: int | None, message: str) -> SpecError:
    return SpecError([SpecIssue(filename, line, None, "", message)])


def _read_file(checker: Checker, root: YMap, base_dir: str, source: str) -> list[JobSpec]:
    checker.keys(root, "", TOP_KEYS, required=("version", "jobs"))
    if (version := root.get("version")) is not None:
        number = checker.integer(version, "version")
        if number is not None and number not in SUPPORTED_VERSIONS:
            checker.add(
                version,
                "version",
                f"unsupported spec version {number}: this jobctl reads version "
                + ", ".join(map(str, SUPPORTED_VERSIONS)),
            )
    defaults = _defaults(checker, root.get("defaults"))
    jobs_node = root.get("jobs")
    if jobs_node is None or checker.reported(jobs_node):
        return []
    if not isinstance(jobs_node, YSeq):
        checker.expected(jobs_node, "jobs", "a list of jobs")
        return []
    if not jobs_node.items:
        checker.add(jobs_node, "jobs", "the spec defines no jobs")
    reader = JobReader(checker, base_dir, source)
    jobs: list[JobSpec] = []
    job_nodes: list[tuple[int, YMap]] = []
    for index, item in enumerate(jobs_node.items):
        node = checker.mapping(item, f"jobs[{index}]")
        if node is None:
            continue
        if defaults is not None:
            node = merge(defaults, node, EXCLUSIVE_KEYS)
        jobs.append(reader.read(node, index))
        job_nodes.append((index, node))
    _check_graph(checker, job_nodes)
    _check_local_workers(checker, job_nodes)
    return jobs


def _local_workers_node(node: YMap) -> YScalar | None:
    """The ``executor.local.workers`` value a job sets (None: it sets none)."""
    executor = node.get("executor")
    local = executor.get("local") if isinstance(executor, YMap) else None
    workers = local.get("workers") if isinstance(local, YMap) else None
    return workers if isinstance(workers, YScalar) else None


def _check_local_workers(checker: Checker, job_nodes: list[tuple[int, YMap]]) -> None:
    """One local pool serves every job of a run, sized by ``executor.local.workers``:
    jobs that set different sizes are refused rather than silently given the first."""
    first: tuple[int, YScalar] | None = None
    for index, node in job_nodes:
        workers = _local_workers_node(node)
        if workers is None or workers.value is None:
            continue
        if first is None:
            first = (index, workers)
        elif workers.value != first[1].value:
            checker.add(
                workers,
                f"jobs[{index}].executor.local.workers",
                f"{workers.value!r} differs from jobs[{first[0]}] ({first[1].value!r}): "
                "the jobs of one run share one local pool, so they must set the same "
                "workers (set it once in defaults:, or use jobctl run --workers N)",
            )


def _defaults(checker: Checker, node: YNode | None) -> YMap | None:
    """The usable part of ``defaults:`` (unknown keys reported here, once)."""
    if node is None or (isinstance(node, YScalar) and node.value is None):
        return None
    mapping = checker.mapping(node, "defaults")
    if mapping is None:
        return None
    for key in ("name", "depends_on"):
        if key in mapping.entries:
            checker.add(
                mapping.key_node(key),
                f"defaults.{key}",
                f"'{key}' cannot be set in defaults: it belongs to each job",
            )
    checker.keys(mapping, "defaults", [*DEFAULT_KEYS, "name", "depends_on"])
    mark_defaults(mapping)
    usable = {k: v for k, v in mapping.entries.items() if k in DEFAULT_KEYS}
    return YMap(mapping.line, mapping.column, usable, from_defaults=True)


@dataclass
class _Job:
    index: int
    name: str
    deps: list[tuple[str, YNode, str]]  # (job named, its node, its field path)


def _check_graph(checker: Checker, job_nodes: list[tuple[int, YMap]]) -> None:
    """Unique names, ``depends_on`` naming jobs of this file, and no cycles."""
    by_name: dict[str, _Job] = {}
    jobs: list[_Job] = []
    for index, node in job_nodes:
        name_node = node.get("name")
        if not (isinstance(name_node, YScalar) and isinstance(name_node.value, str)):
            continue
        job = _Job(index, name_node.value, [])
        deps_node = node.get("depends_on")
        if isinstance(deps_node, YSeq):
            for i, item in enumerate(deps_node.items):
                if isinstance(item, YScalar) and isinstance(item.value, str):
                    job.deps.append((item.value, item, f"jobs[{index}].depends_on[{i}]"))
        if job.name in by_name:
            first = by_name[job.name]
            checker.add(
                name_node,
                f"jobs[{index}].name",
                f"duplicate job name '{job.name}' (also jobs[{first.index}])",
            )
            continue
        by_name[job.name] = job
        jobs.append(job)
    for job in jobs:
        for dep, dep_node, path in job.deps:
            if dep not in by_name:
                checker.add(
                    dep_node,
                    path,
                    f"depends on '{dep}', which is not a job of this file"
                    + suggest(dep, [n for n in by_name if n != job.name]),
                )
    _check_cycles(checker, jobs, by_name)


def _check_cycles(checker: Checker, jobs: list[_Job], by_name: dict[str, _Job]) -> None:
    """Report each dependency cycle once, at the edge that closes it (iterative DFS)."""
    state: dict[str, int] = {}  # absent: unvisited, 1: on the current path, 2: done
    for start in jobs:
        if start.name in state:
            continue
        state[start.name] = 1
        path = [start.name]
        stack = [(start, iter(start.deps))]
        while stack:
            job, deps = stack[-1]
            step = next(deps, None)
            if step is None:
                state[job.name] = 2
                stack.pop()
                path.pop()
                continue
            dep, node, field = step
            if dep not in by_name:
                continue
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                message = (
                    f"job '{dep}' depends on itself"
                    if len(cycle) == 2
                    else "dependency cycle: " + " -> ".join(cycle)
                )
                checker.add(node, field, message)
            elif dep not in state:
                state[dep] = 1
                path.append(dep)
                stack.append((by_name[dep], iter(by_name[dep].deps)))
