"""The typed, validated form of a job spec.

Everything downstream (planner, store, dispatcher) sees these frozen
dataclasses, never raw YAML. ``JobSpec.to_dict`` gives a canonical JSON-able
form: it is what the store keeps and what the spec hash is computed from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.spec.ssh import SshExecutorSpec
from orchestrator.states import Priority

if TYPE_CHECKING:
    from orchestrator.spec.strategy import StrategySpec

JOB_TYPES: tuple[str, ...] = (
    "convert",
    "noop",
    "validate",
    "transform",
    "dedupe",
    "identity_match",
    "household",
    "report",
    "migrate",
    "sync",
)
INPUT_FORMATS: tuple[str, ...] = ("auto", "csv", "parquet", "arrow")
OUTPUT_FORMATS: tuple[str, ...] = ("parquet", "csv", "arrow")
#: Every compression name; which format takes which is the writer's table
#: (:data:`orchestrator.io.formats.SUPPORTED_COMPRESSIONS`), checked by the loader.
COMPRESSIONS: tuple[str, ...] = ("zstd", "snappy", "gzip", "lz4", "none")
OUTPUT_MODES: tuple[str, ...] = ("error_if_exists", "overwrite")
CONCURRENCY_POLICIES: tuple[str, ...] = ("forbid", "replace", "allow", "queue")
#: The queue a spec names when it names none: such a job goes to the queue of
#: its processor (:attr:`JobSpec.processor_queue`).
DEFAULT_QUEUE = "default"


@dataclass(frozen=True)
class RetryPolicy:
    """How a chunk whose processor failed is retried before it goes to the DLQ."""

    max_attempts: int = 3
    backoff_base: float = 2.0  # seconds; attempt n waits base * 2**(n-1)
    backoff_max: float = 300.0
    jitter: bool = True
    #: stop the job at its first dead chunk (``--max-failures 1``)
    fail_fast: bool = False


CSV_BAD_ROWS = ("fail", "reject")
CSV_TYPES = ("infer", "widen", "strict")


@dataclass(frozen=True)
class CsvOptions:
    """How CSV input is parsed and typed (README, "CSV input")."""

    delimiter: str = ","
    header: bool = True
    quote_char: str = '"'
    encoding: str = "utf-8"
    #: a row with the wrong number of fields: ``fail`` its chunk, or ``reject`` it
    #: (counted, and written with its file and line beside the part)
    bad_rows: str = "fail"
    #: how column types are chosen: ``infer`` (from all of a small input, a sample
    #: spread across a large one), ``widen`` (from every value: one more read at
    #: plan time) or ``strict`` (only ``column_types``; other columns are strings)
    types: str = "infer"
    #: declared types by column name (Arrow type names: int64, float64, string,
    #: bool, date32, timestamp[s]...), over whatever the policy infers
    column_types: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InputSpec:
    """Where the rows come from.

    ``path`` is a file, a glob or a directory (or a ``pyarrow.fs`` URI).
    ``sequence`` replaces ``path`` for jobs that need N chunks and no data
    (benchmarks, generators): chunk *i* carries only its index.
    """

    path: str | None = None
    format: str = "auto"
    csv: CsvOptions = field(default_factory=CsvOptions)
    sequence: int | None = None


@dataclass(frozen=True)
class ChunkingSpec:
    """Target chunk size: ``rows`` or ``bytes`` (exactly one is set)."""

    rows: int | None = 250_000
    bytes: int | None = None


@dataclass(frozen=True)
class OutputSpec:
    path: str
    format: str = "parquet"
    compression: str = "zstd"  # the loader fills in the format's own default
    mode: str = "error_if_exists"
    #: the output's declared schema, ``{column: arrow type name}`` in column order:
    #: every part is cast to it (safely) or its chunk fails naming column and types
    schema: dict[str, str] | None = None
    #: ``merge.files``: the parts coalesced into this many files at publish
    merge_files: int | None = None
    #: ``merge.sort_by``: the merged rows in this order
    sort_by: tuple[str, ...] = ()
    #: hive-style directories ``col=value/`` at publish
    partition_by: tuple[str, ...] = ()

    @property
    def laid_out(self) -> bool:
        """True when publish rewrites the parts (merge or partition_by)."""
        return self.merge_files is not None or bool(self.sort_by or self.partition_by)


@dataclass(frozen=True)
class LocalExecutorSpec:
    """``executor.local``: the job may run on this machine.

    ``workers`` sizes the local pool of a ``jobctl run`` of this file (one
    pool serves all its jobs, so the loader refuses jobs that disagree);
    ``jobctl run --workers`` and ``jobctl serve --workers`` override it.
    """

    workers: int | None = None  # None = the CPU count


@dataclass(frozen=True)
class ExecutorSpec:
    local: LocalExecutorSpec | None = field(default_factory=LocalExecutorSpec)
    ssh: SshExecutorSpec | None = None


@dataclass(frozen=True)
class Timeouts:
    chunk: float = 1800.0  # seconds a chunk may run before it is killed and retried
    lease: float = 60.0  # seconds a lease lives without a heartbeat
    heartbeat: float = 10.0  # seconds between lease renewals; lease >= 2 * heartbeat


@dataclass(frozen=True)
class SourceLocation:
    file: str
    line: int | None = None


@dataclass(frozen=True)
class JobSpec:
    """One job of a spec file, with defaults applied."""

    name: str
    type: str | None = None
    python: str | None = None
    command: tuple[str, ...] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    queue: str = DEFAULT_QUEUE  # replaced by processor_queue (see __post_init__)
    #: the strategy's type; its options (partition_by...) are in ``strategy_options``
    strategy: str = "parallel_chunks"
    #: ``StrategySpec.to_dict()`` when it differs from the bare type's defaults
    #: (None otherwise, so the spec hash of a job without options is unchanged)
    strategy_options: dict[str, Any] | None = None
    input: InputSpec = field(default_factory=InputSpec)
    chunking: ChunkingSpec = field(default_factory=ChunkingSpec)
    output: OutputSpec | None = None
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)
    timeouts: Timeouts = field(default_factory=Timeouts)
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    schedule: str | None = None
    depends_on: tuple[str, ...] = ()
    concurrency: str = "allow"
    #: preprocessing ``steps:`` in canonical form (``standardize/pipeline.py``)
    steps: tuple[dict[str, Any], ...] = ()
    #: ``env: {pass: [...], set: {...}}`` for user code (``spec/env_section.py``)
    env: dict[str, Any] | None = None
    source: SourceLocation = field(default=SourceLocation("<memory>"), compare=False)

    def __post_init__(self) -> None:
        if self.queue == DEFAULT_QUEUE:  # no queue named: one queue per job type
            object.__setattr__(self, "queue", self.processor_queue)

    @property
    def processor_queue(self) -> str:
        """The queue of a job whose spec names none: its built-in type
        (``convert``, ``noop``...), else ``python`` or ``command``."""
        if self.python:
            return "python"
        if self.command:
            return "command"
        return self.type or DEFAULT_QUEUE

    def strategy_spec(self) -> StrategySpec:
        """The job's strategy with its options (what the planners read)."""
        from orchestrator.spec.strategy import StrategySpec

        return StrategySpec.from_dict(self.strategy_options or self.strategy)

    @property
    def processor_ref(self) -> str:
        """A short human name of what runs on each chunk."""
        if self.python:
            return f"python:{self.python}"
        if self.command:
            return "command:" + " ".join(self.command)
        return f"type:{self.type}" if self.type else f"strategy:{self.strategy}"

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON-able form (stored with the job, hashed for resume checks)."""
        data = asdict(self)
        data.pop("source", None)
        data["priority"] = self.priority.name
        if self.command is not None:
            data["command"] = list(self.command)
        data["depends_on"] = list(self.depends_on)
        if self.strategy_options is None:
            data.pop("strategy_options")
        if self.steps:  # absent when empty: the hash of a job without steps is unchanged
            data["steps"] = [dict(step) for step in self.steps]
        else:
            data.pop("steps")
        if self.env is None:  # absent when unset: the spec hash stays as it was
            data.pop("env")
        if self.executor.ssh is not None:
            data["executor"]["ssh"] = self.executor.ssh.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        """Rebuild a spec stored by :meth:`to_dict` (trusted input: our own store)."""
        d = dict(data)
        inp = dict(d.get("input") or {})
        inp["csv"] = CsvOptions(**(inp.get("csv") or {}))
        executor = dict(d.get("executor") or {})
        local = executor.get("local")
        return cls(
            name=d["name"],
            type=d.get("type"),
            python=d.get("python"),
            command=tuple(d["command"]) if d.get("command") is not None else None,
            params=dict(d.get("params") or {}),
            priority=Priority[d.get("priority", "NORMAL")],
            queue=d.get("queue", DEFAULT_QUEUE),
            strategy=d.get("strategy", "parallel_chunks"),
            strategy_options=d.get("strategy_options"),
            input=InputSpec(**inp),
            chunking=ChunkingSpec(**(d.get("chunking") or {})),
            output=_output_from_dict(d["output"]) if d.get("output") else None,
            executor=ExecutorSpec(
                local=LocalExecutorSpec(**local) if local is not None else None,
                ssh=SshExecutorSpec.from_dict(executor["ssh"]) if executor.get("ssh") else None,
            ),
            timeouts=Timeouts(**(d.get("timeouts") or {})),
            retries=RetryPolicy(**(d.get("retries") or {})),
            schedule=d.get("schedule"),
            depends_on=tuple(d.get("depends_on") or ()),
            concurrency=d.get("concurrency", "allow"),
            steps=tuple(dict(step) for step in d.get("steps") or ()),
            env=d.get("env"),
        )

    def spec_hash(self) -> str:
        """A stable hash of the canonical form: a changed spec refuses to resume."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SpecFile:
    path: str
    version: int
    jobs: tuple[JobSpec, ...]

    def job(self, name: str) -> JobSpec:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)


def _output_from_dict(data: dict[str, Any]) -> OutputSpec:
    d = dict(data)
    for key in ("sort_by", "partition_by"):
        d[key] = tuple(d.get(key) or ())
    return OutputSpec(**d)
