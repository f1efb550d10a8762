"""The core's Python API: everything the CLI does is a call of a function here.

Users can call these from their own code; nothing here prints. Functions take
an open :class:`~orchestrator.store.base.Store` so the caller owns its
lifetime (:func:`choose_store` and :func:`open_store` open one).

This package imports only light modules, so ``status --json`` starts fast;
what runs jobs, reads host specs or draws a live view is in submodules the
commands that need them import: :mod:`orchestrator.api.runs`,
:mod:`orchestrator.api.hosts`, :mod:`orchestrator.api.live`.
"""

from __future__ import annotations

from orchestrator.api.jobs import (
    PURGED_HINT,
    DeadChunk,
    JobEvent,
    JobStatus,
    cancel_job,
    dlq_list,
    dlq_purge,
    dlq_retry,
    gc_staging,
    get_job,
    job_elapsed,
    job_events,
    job_status,
    list_jobs,
    resolve_job,
    retries_of,
    rollback,
    rows_per_second,
    set_priority,
)
from orchestrator.api.liveness import interrupted_jobs, shown_states
from orchestrator.api.logs import (
    ErrorGroup,
    attempt_logs,
    first_failure,
    follow_logs,
    group_errors,
    last_frames,
    logs_hint,
)
from orchestrator.api.queues import (
    list_queues,
    pause_queue,
    queue_name_problem,
    queue_stats,
    resume_queue,
    set_queue_limit,
)
from orchestrator.api.resume import ResumeCheck, input_changes, prepare_resume, resume_existing
from orchestrator.api.store import (
    SchemaStatus,
    StoreChoice,
    choose_store,
    open_store,
    redact_url,
    schema_status,
    upgrade_schema,
)
from orchestrator.api.submit import (
    SubmitResult,
    check_output_free,
    check_spec,
    in_dependency_order,
    load_spec,
    new_run_key,
    select_jobs,
    submit_job,
    submit_scheduled,
    submit_spec,
)
from orchestrator.store.attempt_logs import AttemptLog
from orchestrator.store.base import (
    ChunkRecord,
    EventRecord,
    JobProgress,
    JobRecord,
    QueueInfo,
    QueueStats,
    Store,
)

__all__ = [
    "PURGED_HINT",
    "AttemptLog",
    "ChunkRecord",
    "DeadChunk",
    "ErrorGroup",
    "EventRecord",
    "JobEvent",
    "JobProgress",
    "JobRecord",
    "JobStatus",
    "QueueInfo",
    "QueueStats",
    "ResumeCheck",
    "SchemaStatus",
    "Store",
    "StoreChoice",
    "SubmitResult",
    "attempt_logs",
    "cancel_job",
    "check_output_free",
    "check_spec",
    "choose_store",
    "dlq_list",
    "dlq_purge",
    "dlq_retry",
    "first_failure",
    "follow_logs",
    "gc_staging",
    "get_job",
    "group_errors",
    "in_dependency_order",
    "input_changes",
    "interrupted_jobs",
    "job_elapsed",
    "job_events",
    "job_status",
    "last_frames",
    "list_jobs",
    "list_queues",
    "load_spec",
    "logs_hint",
    "new_run_key",
    "open_store",
    "pause_queue",
    "prepare_resume",
    "queue_name_problem",
    "queue_stats",
    "redact_url",
    "resolve_job",
    "resume_existing",
    "resume_queue",
    "retries_of",
    "rollback",
    "rows_per_second",
    "schema_status",
    "select_jobs",
    "set_priority",
    "set_queue_limit",
    "shown_states",
    "submit_job",
    "submit_scheduled",
    "submit_spec",
    "upgrade_schema",
]
