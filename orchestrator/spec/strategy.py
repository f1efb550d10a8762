"""The ``strategy:`` block of a job: how its plan is cut into phases.

Short form ``strategy: sequential`` (any strategy whose defaults suffice) and
long form, one mapping per type::

    strategy: {type: map_reduce, partition_by: [email], partitions: 64,
               normalize: [lower, trim], sort_by: [ts], partition_size: 128MiB,
               map: {python: pkg.clean:rows}}        # optional; reduce = the job's processor
    strategy: {type: hybrid, phases: [{name: dedup, strategy: map_reduce, type: dedupe,
               params: {...}}, {name: sessions, strategy: sequential, python: pkg:sess}]}
    strategy: {type: custom, planner: pkg.mod:plan, max_phases: 50}

A ``map_reduce`` job's own processor (``type``/``python``/``command`` of the
job) is its reduce step; ``type: dedupe`` implies ``partition_by`` and
``normalize`` from its ``params`` (``key``, ``normalize``). Errors are
recorded on the :class:`~orchestrator.spec.checks.Checker` with file:line, as
every other section's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.spec.checks import PYTHON_REF, Checker, column_list
from orchestrator.spec.sql_columns import referenced_names
from orchestrator.spec.strategy_names import STRATEGIES
from orchestrator.spec.yaml_nodes import YMap, YNode, YScalar, YSeq, to_plain

#: Strategies a hybrid phase may use (a custom planner plans whole jobs).
PHASE_STRATEGIES: tuple[str, ...] = ("parallel_chunks", "sequential", "map_reduce")
#: Default Arrow bytes per reduce partition (see shuffle/manifest.py).
DEFAULT_PARTITION_SIZE = 128 * 1024 * 1024
DEFAULT_MAX_PHASES = 100
_NORMALIZERS = ("lower", "upper", "trim", "collapse_spaces", "digits", "alnum")
_KEYS: dict[str, tuple[str, ...]] = {
    "parallel_chunks": ("type",),
    "sequential": ("type",),
    "streaming": ("type",),
    "map_reduce": (
        "type",
        "map",
        "partition_by",
        "normalize",
        "partitions",
        "partition_size",
        "sort_by",
        "memory_budget",
    ),
    "hybrid": ("type", "phases"),
    "custom": ("type", "planner", "max_phases"),
}
_PHASE_KEYS = ("name", "strategy", "type", "python", "command", "params")

ProcessorReader = Callable[[YMap, str], "tuple[str | None, str | None, tuple[str, ...] | None]"]


@dataclass(frozen=True)
class ProcessorRef:
    """What one phase runs on each chunk (one of type, python, command)."""

    type: str | None = None
    python: str | None = None
    command: tuple[str, ...] | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The job payload keys that load this processor in a worker."""
        return {
            "type": self.type,
            "python": self.python,
            "command": list(self.command) if self.command is not None else None,
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class StrategySpec:
    """A job's (or a hybrid phase's) strategy with defaults applied."""

    type: str = "parallel_chunks"
    # map_reduce
    map: ProcessorRef | None = None
    partition_by: tuple[str, ...] = ()
    normalize: tuple[str, ...] = ()
    partitions: int | None = None  # None: from the input size
    partition_size: int = DEFAULT_PARTITION_SIZE
    sort_by: tuple[str, ...] = ()
    #: the Arrow bytes a reduce worker may hold (None: shuffle/manifest.py's default)
    memory_budget: int | None = None
    #: the only input columns the map side reads and spills (lower case; None:
    #: all), set for a keyed transform whose reduce sql names its columns
    map_columns: tuple[str, ...] | None = None
    # hybrid: its phases, each with ``name`` and ``processor`` set
    phases: tuple[StrategySpec, ...] = ()
    name: str | None = None
    processor: ProcessorRef | None = None  # a hybrid phase's processor
    # custom
    planner: str | None = None
    max_phases: int = DEFAULT_MAX_PHASES

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if data["map_columns"] is None:  # absent: the stored form of specs without it
            del data["map_columns"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | str | None) -> StrategySpec:
        """Rebuild a stored strategy (trusted: our own store); a bare string is a type."""
        if data is None:
            return cls()
        if isinstance(data, str):
            return cls(type=data)
        d = dict(data)

        def ref(value: Any) -> ProcessorRef | None:
            if not value:
                return None
            v = dict(value)
            command = v.get("command")
            return ProcessorRef(
                type=v.get("type"),
                python=v.get("python"),
                command=tuple(command) if command is not None else None,
                params=dict(v.get("params") or {}),
            )

        return cls(
            type=d.get("type", "parallel_chunks"),
            map=ref(d.get("map")),
            partition_by=tuple(d.get("partition_by") or ()),
            normalize=tuple(d.get("normalize") or ()),
            partitions=d.get("partitions"),
            partition_size=int(d.get("partition_size") or DEFAULT_PARTITION_SIZE),
            sort_by=tuple(d.get("sort_by") or ()),
            memory_budget=d.get("memory_budget"),
            map_columns=tuple(d["map_columns"]) if d.get("map_columns") is not None else None,
            phases=tuple(cls.from_dict(p) for p in d.get("phases") or ()),
            name=d.get("name"),
            processor=ref(d.get("processor")),
            planner=d.get("planner"),
            max_phases=int(d.get("max_phases") or DEFAULT_MAX_PHASES),
        )


def declares_phases(job: YMap) -> bool:
    """Whether a job's ``strategy`` is a ``hybrid`` one: its phases name what
    runs on each chunk, so the job itself need not."""
    node = job.get("strategy")
    if not isinstance(node, YMap):
        return False
    kind = node.get("type")
    return isinstance(kind, YScalar) and kind.value == "hybrid"


def read_strategy(
    c: Checker,
    node: YNode | None,
    path: str,
    read_processor: ProcessorReader,
    *,
    job_type: str | None = None,
    job_params: dict[str, Any] | None = None,
) -> StrategySpec:
    """The strategy of a job from its ``strategy`` node (absent: parallel_chunks).

    ``read_processor`` reads ``type``/``python``/``command`` of a mapping with
    the job reader's own rules (so a phase's processor is checked as a job's).
    """
    if node is None:
        return _implied(StrategySpec(), job_type, job_params)
    if isinstance(node, YScalar):
        kind = c.choice(node, path, STRATEGIES)
        return _implied(StrategySpec(type=kind or "parallel_chunks"), job_type, job_params)
    mapping = c.mapping(node, path)
    if mapping is None:
        return StrategySpec()
    type_node = mapping.get("type")
    if type_node is None:
        c.add(mapping, path, f"missing required key 'type' (one of {', '.join(STRATEGIES)})")
        return StrategySpec()
    kind = c.choice(type_node, f"{path}.type", STRATEGIES)
    if kind is None:
        return StrategySpec()
    c.keys(mapping, path, _KEYS[kind])
    spec = _read_body(c, mapping, path, kind, read_processor)
    if kind == "hybrid":
        spec = StrategySpec(type="hybrid", phases=_phases(c, mapping, path, read_processor))
    elif kind == "custom":
        spec = _custom(c, mapping, path)
    spec = _implied(spec, job_type, job_params)
    if spec.type == "map_reduce" and not spec.partition_by:
        c.add(
            mapping,
            path,
            "map_reduce needs partition_by: the columns whose rows meet in one reduce",
        )
    return spec


def _read_body(
    c: Checker, m: YMap, path: str, kind: str, read_processor: ProcessorReader
) -> StrategySpec:
    if kind != "map_reduce":
        return StrategySpec(type=kind)
    get = m.get
    map_ref = None
    if (map_node := get("map")) is not None:
        map_ref = _processor(
            c, map_node, f"{path}.map", read_processor, ("type", "python", "command", "params")
        )
    partitions = None
    if (n := get("partitions")) is not None:
        partitions = c.integer(n, f"{path}.partitions", minimum=1)
    size = DEFAULT_PARTITION_SIZE
    if (n := get("partition_size")) is not None:
        size = c.size(n, f"{path}.partition_size") or size
    budget = None
    if (n := get("memory_budget")) is not None:
        budget = c.size(n, f"{path}.memory_budget")
    normalize: tuple[str, ...] = ()
    if (n := get("normalize")) is not None:
        normalize = tuple(_choices(c, n, f"{path}.normalize", _NORMALIZERS))
    return StrategySpec(
        type="map_reduce",
        map=map_ref,
        partition_by=column_list(c, get("partition_by"), f"{path}.partition_by"),
        normalize=normalize,
        partitions=partitions,
        partition_size=size,
        sort_by=column_list(c, get("sort_by"), f"{path}.sort_by"),
        memory_budget=budget,
    )


def _phases(
    c: Checker, m: YMap, path: str, read_processor: ProcessorReader
) -> tuple[StrategySpec, ...]:
    node = m.get("phases")
    if node is None:
        c.add(m, path, "hybrid needs phases: a list of {name, strategy, type|python|command}")
        return ()
    if not isinstance(node, YSeq) or not node.items:
        c.expected(node, f"{path}.phases", "a non-empty list of phases")
        return ()
    phases: list[StrategySpec] = []
    names: set[str] = set()
    for i, item in enumerate(node.items):
        p = f"{path}.phases[{i}]"
        phase = c.mapping(item, p)
        if phase is None:
            continue
        kind = "parallel_chunks"
        if (s := phase.get("strategy")) is not None:
            kind = c.choice(s, f"{p}.strategy", PHASE_STRATEGIES) or kind
        c.keys(
            phase,
            p,
            _PHASE_KEYS + (_KEYS[kind][1:] if kind == "map_reduce" else ()),
            required=("name",),
        )
        name_node = phase.get("name")
        name = c.string(name_node, f"{p}.name") if name_node is not None else None
        if name is not None and name in names:
            c.add(name_node, f"{p}.name", f"phase name {name!r} is used twice")
        names.add(name or "")
        body = _read_body(c, phase, p, kind, read_processor)
        ref = _processor(c, phase, p, read_processor, _PHASE_KEYS)
        body = _implied(body, ref.type if ref else None, ref.params if ref else None)
        if body.type == "map_reduce" and not body.partition_by:
            c.add(phase, p, "a map_reduce phase needs partition_by")
        phases.append(_replace(body, name=name or f"phase-{i}", processor=ref))
    return tuple(phases)


def _custom(c: Checker, m: YMap, path: str) -> StrategySpec:

    planner = None
    if (n := m.get("planner")) is None:
        c.add(m, path, "custom needs planner: package.module:function (see strategies/custom.py)")
    else:
        planner = c.string(n, f"{path}.planner")
        if planner is not None and not PYTHON_REF.fullmatch(planner.strip()):
            c.add(n, f"{path}.planner", f"expected 'package.module:function', got {c.shown(n)}")
            planner = None
    max_phases = DEFAULT_MAX_PHASES
    if (n := m.get("max_phases")) is not None:
        max_phases = c.integer(n, f"{path}.max_phases", minimum=1) or max_phases
    return StrategySpec(type="custom", planner=planner, max_phases=max_phases)


def _implied(
    spec: StrategySpec, job_type: str | None, params: dict[str, Any] | None
) -> StrategySpec:
    """``type: dedupe`` is a map_reduce partitioned by its normalized key;
    ``type: transform`` with ``partition_by`` one partitioned by that key;
    ``type: identity_match`` plans its own phases (``strategies/identity_match.py``)."""
    if job_type == "identity_match":
        return StrategySpec(type="identity_match")
    if spec.type not in ("parallel_chunks", "map_reduce"):
        return spec
    params = params or {}
    if job_type == "transform" and params.get("partition_by"):
        return _keyed_transform(spec, params)
    if job_type == "report":
        return _report(spec, params)
    if job_type != "dedupe":
        return spec
    key = params.get("key")
    keys = tuple([key] if isinstance(key, str) else key or ())
    normalize = params.get("normalize") or ()
    normalize = tuple([normalize] if isinstance(normalize, str) else normalize)
    return _replace(
        spec,
        type="map_reduce",
        partition_by=spec.partition_by or tuple(str(k) for k in keys),
        normalize=spec.normalize or tuple(str(n) for n in normalize),
    )


def _keyed_transform(spec: StrategySpec, params: dict[str, Any]) -> StrategySpec:
    """Map: ``map_sql`` per chunk (or the rows as read); shuffle by
    ``partition_by``; reduce: the job's own ``sql`` over each partition."""
    key = params["partition_by"]
    keys = tuple(str(k) for k in ([key] if isinstance(key, str) else key))
    map_ref = spec.map
    if map_ref is None and params.get("map_sql") is not None:
        map_ref = ProcessorRef(type="transform", params={**params, "step": "map"})
    partition_by = spec.partition_by or keys
    columns = None
    if map_ref is None and isinstance(params.get("sql"), str):  # the rows go to sql as read
        names = referenced_names(params["sql"])
        if names is not None:
            columns = tuple(sorted(names | {k.lower() for k in partition_by}))
    return _replace(
        spec, type="map_reduce", partition_by=partition_by, map=map_ref, map_columns=columns
    )


#: The constant shuffle key of a report's summaries (processors/report/processor.py).
REPORT_KEY = "_report"
#: A report's summaries meet in one reduce chunk, never split by size.
REPORT_PARTITION_SIZE = 1 << 50


def _report(spec: StrategySpec, params: dict[str, Any]) -> StrategySpec:
    """Map: one summary row per chunk; one partition: the merge and the report."""
    return _replace(
        spec,
        type="map_reduce",
        partition_by=(REPORT_KEY,),
        partitions=1,
        partition_size=REPORT_PARTITION_SIZE,
        map=ProcessorRef(type="report", params={**params, "step": "map"}),
    )


def _replace(spec: StrategySpec, **changes: Any) -> StrategySpec:
    return dataclasses.replace(spec, **changes)


def _processor(
    c: Checker,
    node: YNode,
    path: str,
    read_processor: ProcessorReader,
    allowed: tuple[str, ...],
) -> ProcessorRef | None:
    mapping = c.mapping(node, path)
    if mapping is None:
        return None
    if allowed == ("type", "python", "command", "params"):
        c.keys(mapping, path, allowed)
    type_, python, command = read_processor(mapping, path)
    params: dict[str, Any] = {}
    if (p := mapping.get("params")) is not None:
        pm = c.mapping(p, f"{path}.params")
        params = to_plain(pm) if pm is not None else {}
    if type_ is None and python is None and command is None:
        return None
    return ProcessorRef(type=type_, python=python, command=command, params=params)


def _choices(c: Checker, node: YNode, path: str, allowed: tuple[str, ...]) -> list[str]:
    if isinstance(node, YScalar):
        value = c.choice(node, path, allowed)
        return [value] if value else []
    items = c.string_list(node, path) or []
    out: list[str] = []
    for i, (_, item) in enumerate(items):
        value = c.choice(item, f"{path}[{i}]", allowed)
        if value:
            out.append(value)
    return out
