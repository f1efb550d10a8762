"""Reading one job's YAML (defaults already merged in) into a :class:`JobSpec`.

Each section has its own reader. Readers record every problem on the
:class:`~orchestrator.spec.checks.Checker` and fall back to the model's
default, so one pass finds all mistakes of a job; the loader refuses the file
if any were found, so a fallback value is never used for real.
"""

from __future__ import annotations

import codecs
import dataclasses
from typing import Any

from orchestrator.io.formats import default_compression, output_problem
from orchestrator.spec.checks import PYTHON_REF, Checker, one_of, suggest
from orchestrator.spec.env_section import read_env
from orchestrator.spec.key_chunking import CHUNKING_KEYS, key_chunking
from orchestrator.spec.local_paths import resolve_path
from orchestrator.spec.model import (
    COMPRESSIONS,
    CONCURRENCY_POLICIES,
    CSV_BAD_ROWS,
    CSV_TYPES,
    INPUT_FORMATS,
    JOB_TYPES,
    OUTPUT_FORMATS,
    OUTPUT_MODES,
    ChunkingSpec,
    CsvOptions,
    ExecutorSpec,
    InputSpec,
    JobSpec,
    LocalExecutorSpec,
    OutputSpec,
    RetryPolicy,
    SourceLocation,
    Timeouts,
)
from orchestrator.spec.names import NAME_MAX, NAME_PATTERN
from orchestrator.spec.output_layout import OUTPUT_KEYS, read_output_layout
from orchestrator.spec.schedule import cron_error
from orchestrator.spec.ssh import SshExecutorSpec
from orchestrator.spec.ssh_section import read_ssh_section
from orchestrator.spec.strategy import StrategySpec, declares_phases, read_strategy
from orchestrator.spec.support import output_path_refusal, strategy_refusal, type_refusal
from orchestrator.spec.type_sections import TypedSections
from orchestrator.spec.yaml_nodes import YMap, YNode, YScalar, to_plain
from orchestrator.states import Priority

_JOB_KEY_WORDS = (
    "name type python command params priority queue strategy input chunking output executor "
    "timeouts retries schedule depends_on concurrency steps env"
)
JOB_KEYS: tuple[str, ...] = tuple(_JOB_KEY_WORDS.split())
PROCESSOR_KEYS: tuple[str, ...] = ("type", "python", "command")
# Keys that are one choice: a job setting one of them drops the defaults' others.
EXCLUSIVE_KEYS: dict[tuple[str, ...], list[frozenset[str]]] = {
    (): [frozenset(PROCESSOR_KEYS)],
    ("input",): [frozenset({"path", "sequence"})],
    ("chunking",): [frozenset({"rows", "bytes"})],
    ("executor",): [frozenset({"local", "ssh"})],
}
PRIORITIES: tuple[str, ...] = tuple(p.name for p in sorted(Priority, reverse=True))


class JobReader:
    """Reads ``jobs[index]`` of one file."""

    def __init__(self, checker: Checker, base_dir: str, source_file: str) -> None:
        self.c = checker
        self.base_dir = base_dir
        self.source_file = source_file

    def read(self, node: YMap, index: int) -> JobSpec:
        c, p = self.c, f"jobs[{index}]"
        c.job_prefix = p
        c.keys(node, p, JOB_KEYS, required=("name", "input"))
        get = node.get

        def choice(key: str, allowed: tuple[str, ...], default: str) -> str:
            value = get(key)
            if value is None:
                return default
            return c.choice(value, f"{p}.{key}", allowed, ignore_case=key == "priority") or default

        type_, python, command = self._processor(node, p)
        input_node, schedule_node = get("input"), get("schedule")
        typed = TypedSections(c, node, p, self.base_dir, type_)
        params = typed.params(self._params(get("params"), f"{p}.params"))
        inp = self._input(input_node, f"{p}.input") if input_node else InputSpec()
        strategy = self._strategy(get("strategy"), f"{p}.strategy", type_, get("params"), params)
        params, strategy, steps = typed.after_strategy(inp, params, strategy)
        chunking = get("chunking")
        strategy = key_chunking(c, chunking, f"{p}.chunking", get("strategy"), strategy)
        job = JobSpec(
            name=self._name(get("name"), f"{p}.name") or "",
            type=type_,
            python=python,
            command=command,
            params=params,
            priority=Priority[choice("priority", PRIORITIES, "NORMAL")],
            queue=self._name(get("queue"), f"{p}.queue") or "default",
            **strategy,
            input=inp,
            chunking=self._chunking(chunking, f"{p}.chunking"),
            output=self._output(get("output"), f"{p}.output"),
            executor=self._executor(get("executor"), f"{p}.executor"),
            timeouts=self._timeouts(get("timeouts"), f"{p}.timeouts"),
            retries=self._retries(get("retries"), f"{p}.retries"),
            schedule=self._schedule(schedule_node, f"{p}.schedule") if schedule_node else None,
            depends_on=self._depends_on(get("depends_on"), f"{p}.depends_on"),
            concurrency=choice("concurrency", CONCURRENCY_POLICIES, "allow"),
            steps=steps,
            env=read_env(c, get("env"), f"{p}.env"),
            source=SourceLocation(self.source_file, node.line),
        )
        if type_ == "identity_match":
            from orchestrator.spec.identity_params import identity_job

            job = identity_job(c, job, node, f"{p}.params", self.base_dir)
        c.job_prefix = ""
        return job

    # -- identity and processor ---------------------------------------------

    def _name(self, node: YNode | None, path: str) -> str | None:
        if node is None:
            return None
        name = self.c.string(node, path)
        if name is None:
            return None
        if not NAME_PATTERN.fullmatch(name) or len(name) > NAME_MAX:
            self.c.add(
                node,
                path,
                f"invalid name {self.c.shown(node)}: use letters, digits, '.', '_' and '-', "
                f"starting with a letter or digit (at most {NAME_MAX} characters)",
            )
            return None
        return name

    def _processor(
        self, node: YMap, p: str
    ) -> tuple[str | None, str | None, tuple[str, ...] | None]:
        c = self.c
        present = [key for key in PROCESSOR_KEYS if key in node.entries]
        if not present and not declares_phases(node):  # hybrid: each phase says
            c.add(
                node,
                p,
                "say what runs on each chunk: set 'type' (a built-in job type), "
                "'python' (package.module:function) or 'command' (a program)",
            )
            return None, None, None
        if len(present) > 1:
            second = present[1]
            c.add(
                node.key_node(second),
                f"{p}.{second}",
                f"set only one of type, python and command (this job sets {' and '.join(present)})",
            )
        type_ = python = None
        command = None
        if (type_node := node.get("type")) is not None:
            type_ = c.string(type_node, f"{p}.type")
            if type_ is not None and type_ not in JOB_TYPES:
                c.add(
                    type_node,
                    f"{p}.type",
                    f"unknown job type {c.shown(type_node)}{suggest(type_, JOB_TYPES)}; "
                    f"built-in types: {one_of(JOB_TYPES)}",
                )
                type_ = None
            elif type_ is not None and (refusal := type_refusal(type_)) is not None:
                c.add(type_node, f"{p}.type", refusal)
                type_ = None
        if (python_node := node.get("python")) is not None:
            python = c.string(python_node, f"{p}.python")
            if python is not None and not PYTHON_REF.fullmatch(python.strip()):
                c.add(
                    python_node,
                    f"{p}.python",
                    f"expected 'package.module:function', got {c.shown(python_node)}",
                )
                python = None
        if (command_node := node.get("command")) is not None:
            items = c.string_list(command_node, f"{p}.command")
            if items is not None and not items and not c.reported(command_node):
                c.add(command_node, f"{p}.command", "must name a program, e.g. ['./score.sh']")
            command = tuple(text for text, _ in items) if items else None
        return type_, python, command

    def _strategy(
        self,
        node: YNode | None,
        path: str,
        job_type: str | None,
        params_node: YNode | None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``strategy`` and ``strategy_options`` of the JobSpec: the type, and
        the whole StrategySpec when it is more than the type's defaults."""
        if params is None:
            params = to_plain(params_node) if isinstance(params_node, YMap) else None
        errors = len(self.c.issues)
        spec = read_strategy(
            self.c, node, path, self._processor, job_type=job_type, job_params=params
        )
        if len(self.c.issues) == errors and (refusal := strategy_refusal(spec.type)) is not None:
            self.c.add(node if node is not None else params_node, path, refusal)
            return {"strategy": "parallel_chunks"}
        if spec == StrategySpec(type=spec.type):
            return {"strategy": spec.type}
        return {"strategy": spec.type, "strategy_options": spec.to_dict()}

    def _params(self, node: YNode | None, path: str) -> dict[str, Any]:
        if node is None or (isinstance(node, YScalar) and node.value is None):
            return {}
        mapping = self.c.mapping(node, path)
        return to_plain(mapping) if mapping else {}

    # -- data in and out ------------------------------------------------------

    def _char(self, node: YNode, path: str) -> str | None:
        """A single character (a tab is fine, so not ``Checker.string``)."""
        if self.c.reported(node):
            return None
        if not (isinstance(node, YScalar) and isinstance(node.value, str) and len(node.value) == 1):
            self.c.expected(node, path, "a single character")
            return None
        return node.value

    def _csv(self, node: YNode, path: str) -> CsvOptions:
        c = self.c
        mapping = c.mapping(node, path)
        if mapping is None:
            return CsvOptions()
        c.keys(
            mapping,
            path,
            (
                "delimiter",
                "header",
                "quote_char",
                "encoding",
                "bad_rows",
                "types",
                "column_types",
            ),
        )
        options: dict[str, Any] = {}
        for key, allowed in (("bad_rows", CSV_BAD_ROWS), ("types", CSV_TYPES)):
            if (value := mapping.get(key)) is not None:
                options[key] = c.choice(value, f"{path}.{key}", allowed)
        if (types := mapping.get("column_types")) is not None:
            options["column_types"] = self._column_types(types, f"{path}.column_types")
        for key in ("delimiter", "quote_char"):
            if (value := mapping.get(key)) is not None:
                options[key] = self._char(value, f"{path}.{key}")
        if (header := mapping.get("header")) is not None:
            options["header"] = c.boolean(header, f"{path}.header")
        if (encoding := mapping.get("encoding")) is not None:
            name = c.string(encoding, f"{path}.encoding")
            if name is not None:
                try:
                    codec = codecs.lookup(name)
                except LookupError:
                    c.add(encoding, f"{path}.encoding", f"unknown encoding {c.shown(encoding)}")
                else:
                    # base64, rot13, zlib...: codecs, but not text encodings a CSV is in
                    if getattr(codec, "_is_text_encoding", True):
                        options["encoding"] = name
                    else:
                        c.add(
                            encoding,
                            f"{path}.encoding",
                            f"{c.shown(encoding)} is not a text encoding "
                            "(use e.g. utf-8, latin-1, cp1252)",
                        )
        return CsvOptions(**{k: v for k, v in options.items() if v is not None})

    def _column_types(self, node: YNode, path: str) -> dict[str, str] | None:
        """``{column: arrow type name}``; a name Arrow does not know is an error here."""
        import pyarrow as pa

        c = self.c
        mapping = c.mapping(node, path)
        if mapping is None:
            return None
        out: dict[str, str] = {}
        for name, (_key, value) in mapping.entries.items():
            type_name = c.string(value, f"{path}.{name}")
            if type_name is None:
                continue
            try:
                pa.type_for_alias(type_name)
            except ValueError:
                c.add(value, f"{path}.{name}", f"unknown column type {c.shown(value)}")
                continue
            out[str(name)] = type_name
        return out

    def _input(self, node: YNode, p: str) -> InputSpec:
        c = self.c
        mapping = c.mapping(node, p)
        if mapping is None:
            return InputSpec()
        c.keys(mapping, p, ("path", "sequence", "format", "csv"))
        path_node, seq_node = mapping.get("path"), mapping.get("sequence")
        if path_node is not None and seq_node is not None:
            c.add(
                mapping.key_node("sequence"),
                f"{p}.sequence",
                "set either input.path or input.sequence, not both",
            )
        elif path_node is None and seq_node is None:
            c.add(
                mapping,
                p,
                "missing required key 'path' (or 'sequence: N' for a job without input data)",
            )
        path = None
        if path_node is not None and (raw := c.string(path_node, f"{p}.path")) is not None:
            path = resolve_path(raw, self.base_dir)
        sequence = c.integer(seq_node, f"{p}.sequence", minimum=1) if seq_node else None
        fmt_node = mapping.get("format")
        fmt = (fmt_node and c.choice(fmt_node, f"{p}.format", INPUT_FORMATS)) or "auto"
        csv = CsvOptions()
        if (csv_node := mapping.get("csv")) is not None:
            if fmt not in ("csv", "auto"):
                c.add(mapping.key_node("csv"), f"{p}.csv", f"csv options do not apply to {fmt}")
            csv = self._csv(csv_node, f"{p}.csv")
        return InputSpec(path=path, format=fmt, csv=csv, sequence=sequence)

    def _chunking(self, node: YNode | None, p: str) -> ChunkingSpec:
        c = self.c
        mapping = c.mapping(node, p) if node is not None else None
        if mapping is None:
            return ChunkingSpec()
        c.keys(mapping, p, CHUNKING_KEYS)
        rows_node, bytes_node = mapping.get("rows"), mapping.get("bytes")
        if (
            rows_node is None
            and bytes_node is None
            and (mapping.get("hash") or mapping.get("window"))
        ):
            return ChunkingSpec()  # the map phase reads chunks of the default size
        if rows_node is not None and bytes_node is not None:
            c.add(mapping.key_node("bytes"), f"{p}.bytes", "set either rows or bytes, not both")
        if rows_node is None and bytes_node is None:
            c.add(mapping, p, "set 'rows' (e.g. 250000) or 'bytes' (e.g. 64MiB)")
        if bytes_node is not None:
            return ChunkingSpec(rows=None, bytes=c.size(bytes_node, f"{p}.bytes"))
        rows = c.integer(rows_node, f"{p}.rows", minimum=1) if rows_node else None
        return ChunkingSpec(rows=rows if rows is not None else ChunkingSpec.rows)

    def _output(self, node: YNode | None, p: str) -> OutputSpec | None:
        c = self.c
        if node is None or (isinstance(node, YScalar) and node.value is None):
            return None
        mapping = c.mapping(node, p)
        if mapping is None:
            return None
        c.keys(mapping, p, OUTPUT_KEYS, required=("path",))
        path_node = mapping.get("path")
        raw = c.string(path_node, f"{p}.path") if path_node else None
        if raw is not None and path_node is not None and (refusal := output_path_refusal(raw)):
            c.add(path_node, f"{p}.path", refusal)
            raw = None
        path = resolve_path(raw, self.base_dir, directory=True) if raw else ""
        options: dict[str, str | None] = {}
        for key, allowed in (
            ("format", OUTPUT_FORMATS),
            ("compression", COMPRESSIONS),
            ("mode", OUTPUT_MODES),
        ):
            if (value := mapping.get(key)) is not None:
                options[key] = c.choice(value, f"{p}.{key}", allowed)
        fmt = options.get("format") or OutputSpec.format
        compression = options.get("compression")
        compression_node = mapping.get("compression")
        if compression is None:
            options["compression"] = default_compression(fmt)
        elif (problem := output_problem(fmt, compression)) is not None:
            c.add(compression_node, f"{p}.compression", problem)
        schema = None
        if (schema_node := mapping.get("schema")) is not None:
            schema = self._column_types(schema_node, f"{p}.schema")
        layout = read_output_layout(c, mapping, p, fmt)
        given: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        return dataclasses.replace(
            OutputSpec(path=path, schema=schema, **given), **dataclasses.asdict(layout)
        )

    # -- where and how it runs ------------------------------------------------

    def _executor(self, node: YNode | None, p: str) -> ExecutorSpec:
        c = self.c
        mapping = c.mapping(node, p) if node is not None else None
        if mapping is None:
            return ExecutorSpec()
        c.keys(mapping, p, ("local", "ssh"))
        local_node, ssh_node = mapping.get("local"), mapping.get("ssh")
        if local_node is None and ssh_node is None:
            c.add(mapping, p, "set 'local' (this machine) or 'ssh' (remote hosts)")
            return ExecutorSpec()
        local = None
        if local_node is not None:
            local = LocalExecutorSpec()
            if not (isinstance(local_node, YScalar) and local_node.value is None):
                local_map = c.mapping(local_node, f"{p}.local")
                if local_map is not None:
                    c.keys(local_map, f"{p}.local", ("workers",))
                    if (workers := local_map.get("workers")) is not None:
                        local = LocalExecutorSpec(
                            workers=self._workers(workers, f"{p}.local.workers")
                        )
        ssh = None
        if ssh_node is not None and not (isinstance(ssh_node, YScalar) and ssh_node.value is None):
            ssh_map = c.mapping(ssh_node, f"{p}.ssh")
            if ssh_map is not None:
                before = len(c.issues)
                section = read_ssh_section(c, ssh_map, f"{p}.ssh", self.base_dir)
                if len(c.issues) == before:  # else the load fails: nothing to parse
                    ssh = SshExecutorSpec.from_dict(section)
        return ExecutorSpec(local=local, ssh=ssh)

    def _workers(self, node: YNode, path: str) -> int | None:
        """``auto`` (None: one per CPU) or a positive count."""
        if isinstance(node, YScalar) and node.value == "auto":
            return None
        if isinstance(node, YScalar) and isinstance(node.value, int):
            return self.c.integer(node, path, minimum=1)
        if not self.c.reported(node):
            self.c.expected(node, path, "'auto' or a positive integer")
        return None

    def _timeouts(self, node: YNode | None, p: str) -> Timeouts:
        c = self.c
        mapping = c.mapping(node, p) if node is not None else None
        if mapping is None:
            return Timeouts(heartbeat=Timeouts.lease / 3)
        c.keys(mapping, p, ("chunk", "lease", "heartbeat"))
        values: dict[str, float | None] = {
            key: c.duration(value, f"{p}.{key}")
            for key in ("chunk", "lease", "heartbeat")
            if (value := mapping.get(key)) is not None
        }
        chunk = values.get("chunk") or Timeouts.chunk
        lease = values.get("lease") or Timeouts.lease
        heartbeat = values.get("heartbeat") or lease / 3
        heartbeat_node = mapping.get("heartbeat")
        if heartbeat_node is not None and values.get("heartbeat") and lease < 2 * heartbeat:
            c.add(
                heartbeat_node,
                f"{p}.heartbeat",
                f"the heartbeat ({heartbeat:g}s) must be at most half the lease ({lease:g}s), "
                "or a slow heartbeat would let a live chunk's lease expire",
            )
        return Timeouts(chunk=chunk, lease=lease, heartbeat=heartbeat)

    def _retries(self, node: YNode | None, p: str) -> RetryPolicy:
        c = self.c
        mapping = c.mapping(node, p) if node is not None else None
        if mapping is None:
            return RetryPolicy()
        c.keys(mapping, p, ("max_attempts", "backoff", "jitter", "fail_fast"))
        policy: dict[str, Any] = {}
        if (attempts := mapping.get("max_attempts")) is not None:
            policy["max_attempts"] = c.integer(attempts, f"{p}.max_attempts", minimum=1)
        if (jitter := mapping.get("jitter")) is not None:
            policy["jitter"] = c.boolean(jitter, f"{p}.jitter")
        if (fail_fast := mapping.get("fail_fast")) is not None:
            policy["fail_fast"] = c.boolean(fail_fast, f"{p}.fail_fast")
        if (backoff := mapping.get("backoff")) is not None:
            backoff_map = c.mapping(backoff, f"{p}.backoff")
            if backoff_map is not None:
                c.keys(backoff_map, f"{p}.backoff", ("base", "max"))
                for key in ("base", "max"):
                    if (value := backoff_map.get(key)) is not None:
                        seconds = c.duration(value, f"{p}.backoff.{key}", positive=False)
                        policy[f"backoff_{key}"] = seconds
                base = policy.get("backoff_base")
                base = RetryPolicy.backoff_base if base is None else base
                top = policy.get("backoff_max")
                if top is not None and top < base and (max_node := backoff_map.get("max")):
                    c.add(
                        max_node,
                        f"{p}.backoff.max",
                        f"must be at least backoff.base ({base:g}s), got {top:g}s",
                    )
        return RetryPolicy(**{k: v for k, v in policy.items() if v is not None})

    def _schedule(self, node: YNode, path: str) -> str | None:
        if isinstance(node, YScalar) and node.value is None:
            return None
        expression = self.c.string(node, path)
        if expression is None:
            return None
        problem = cron_error(expression)
        if problem is not None:
            self.c.add(node, path, f"invalid cron expression {self.c.shown(node)}: {problem}")
            return None
        return expression.strip()

    def _depends_on(self, node: YNode | None, path: str) -> tuple[str, ...]:
        if node is None or (isinstance(node, YScalar) and node.value is None):
            return ()
        items = self.c.string_list(node, path) or []
        return tuple(dict.fromkeys(text for text, _ in items))
