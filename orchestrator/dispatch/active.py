"""A job as the dispatcher holds it while it runs: spec, worker payload, counters."""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.dispatch.staging import staging_dir
from orchestrator.processors.environment import resolve_job_env
from orchestrator.spec.local_paths import python_path
from orchestrator.spec.model import JobSpec
from orchestrator.states import JobState
from orchestrator.store.base import JobProgress, JobRecord
from orchestrator.strategies import strategy_for
from orchestrator.strategies.base import PhaseSpec, Strategy

#: Phases looked at for static facts (a custom planner's may go on further:
#: they are never serial)
MAX_STATIC_PHASES = 20


def worker_payload(record: JobRecord, spec: JobSpec, staging: Path | None) -> dict[str, Any]:
    """What a worker needs to run this job's chunks (sent once per worker)."""
    return {
        "key": f"{record.id}:{record.spec_hash}",
        "name": spec.name,
        "type": spec.type,
        "python": spec.python,
        "python_path": python_path(record.source_file),
        "command": list(spec.command) if spec.command else None,
        "params": spec.params,
        "input": {
            "format": spec.input.format,
            "csv": dataclasses.asdict(spec.input.csv),
        },
        "output": (
            {
                "format": spec.output.format,
                "compression": spec.output.compression,
                **({"schema": spec.output.schema} if spec.output.schema else {}),
            }
            if spec.output
            else None
        ),
        "staging_dir": str(staging) if staging else None,
        # the job's env: section, resolved here (the coordinator's environment)
        "env": resolve_job_env(spec.env, os.environ),
        "csv_schema": (record.spec.get("planned") or {}).get("csv_schema"),
        **({"steps": [dict(step) for step in spec.steps]} if spec.steps else {}),
    }


@dataclass
class ActiveJob:
    """In-memory view of one job being dispatched; the store stays the truth."""

    record: JobRecord
    spec: JobSpec
    payload: dict[str, Any]
    staging: Path | None
    total: int = 0
    done: int = 0
    dead: int = 0
    running: int = 0
    retries: int = 0
    failures: int = 0
    rows_in: int = 0
    rows_out: int = 0
    state: JobState = JobState.RUNNING
    final_state: JobState | None = None
    rates: list[tuple[float, int]] = field(default_factory=list)
    #: the first failed attempt's error in this run, with where to read its log
    first_error: str | None = None
    #: the planner of the job's phases (``strategies/``)
    strategy: Strategy | None = None
    #: the phase whose chunks run now (the highest one planned)
    phase: int = 0
    #: chunks of the phases before the current one (all succeeded): the current
    #: phase's counts are the job's minus these
    phase_first: int = 0
    #: worker payloads of phases after the first, built when first needed
    phase_payloads: dict[int, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def create(cls, record: JobRecord) -> ActiveJob:
        spec = JobSpec.from_dict(record.spec)
        staging = staging_dir(record.output_path, record.id) if record.output_path else None
        base = worker_payload(record, spec, staging)
        job = cls(record, spec, base, staging, strategy=strategy_for(spec.strategy_spec()))
        if spec.strategy != "parallel_chunks":
            job.payload = job.payload_for(0)
        return job

    @property
    def key(self) -> str:
        return str(self.payload["key"])

    @property
    def planned(self) -> dict[str, Any]:
        """Facts the strategy fixed at submit (the partition count)."""
        return dict((self.record.spec.get("planned") or {}).get("strategy") or {})

    def phase_spec(self, index: int) -> PhaseSpec | None:
        assert self.strategy is not None
        return self.strategy.phase(index, self.planned)

    def payload_for(self, phase: int) -> dict[str, Any]:
        """The worker payload of a phase's chunks: the job's, with the phase's
        processor and shuffle settings, under a key of its own (workers cache
        the loaded processor by key)."""
        if phase == 0 and self.spec.strategy == "parallel_chunks":
            return self.payload
        if phase == 0 and self.payload.get("phase") == 0:
            return self.payload
        if phase not in self.phase_payloads:
            spec = self.phase_spec(phase)
            extra = spec.payload() if spec is not None else {}
            base = worker_payload(self.record, self.spec, self.staging)
            key = str(base["key"]) if phase == 0 else f"{base['key']}/p{phase}"
            self.phase_payloads[phase] = {**base, **extra, "key": key}
        return self.phase_payloads[phase]

    @functools.cached_property
    def serial_phases(self) -> tuple[int, ...]:
        """The phases whose chunks run one at a time in seq order (``sequential``)."""
        if self.strategy is None or self.spec.strategy == "parallel_chunks":
            return ()
        serial: list[int] = []
        for index in range(MAX_STATIC_PHASES):
            spec = self.phase_spec(index)
            if spec is None:
                break
            if spec.serial:
                serial.append(index)
        return tuple(serial)

    def phase_label(self) -> str | None:
        """``phase 2/2 reduce`` for a job of several phases, else None."""
        if self.spec.strategy == "parallel_chunks":
            return None
        spec = self.phase_spec(self.phase)
        return spec.label() if spec is not None else None

    def phase_counts(self) -> tuple[int, int]:
        """(succeeded, total) chunks of the current phase."""
        return max(self.done - self.phase_first, 0), max(self.total - self.phase_first, 0)

    def load_progress(self, progress: JobProgress) -> None:
        self.total = progress.total
        self.done = progress.done
        self.rows_in = progress.rows_in
        self.rows_out = progress.rows_out
        self.retries = progress.retries
