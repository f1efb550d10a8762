"""Resolving a job's processor (``type``, ``python`` or ``command``) to one callable.

The worker loads a job's processor once, and the coordinator loads it once
before any chunk runs so that a bad reference fails the job early. This
module is the only one that imports the concrete processors; they import
only the interface in :mod:`orchestrator.processors.base`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import ProcessorError
from orchestrator.processors.base import Processor
from orchestrator.processors.command import make_command_processor
from orchestrator.processors.python_callable import NO_HOOKS, Hooks, load_callable, module_hooks
from orchestrator.spec.model import JOB_TYPES

#: Built-in job types that exist today: type name -> (module, function).
BUILTIN_PROCESSORS: dict[str, tuple[str, str]] = {
    "convert": ("orchestrator.processors.convert", "convert"),
    "dedupe": ("orchestrator.processors.dedupe", "dedupe"),
    "identity_match": ("orchestrator.processors.identity", "identity_match"),
    "noop": ("orchestrator.processors.noop", "noop"),
    "report": ("orchestrator.processors.report.processor", "report"),
    "transform": ("orchestrator.processors.transform", "transform"),
    "validate": ("orchestrator.processors.validate", "validate"),
}


def load_processor(job: Mapping[str, Any]) -> Processor:
    """Resolve a job payload's processor to a callable (once per job per worker).

    Precedence follows :attr:`JobSpec.processor_ref`: ``python``, then
    ``command``, then ``type``. Raises :class:`ProcessorError` with a message
    a user can act on when the processor cannot be loaded.
    """
    name = job.get("name", "?")
    python = job.get("python")
    command = job.get("command")
    job_type = job.get("type")
    params = job.get("params") or {}
    if python:
        return load_callable(str(python), [str(p) for p in job.get("python_path") or ()])
    if command:
        return make_command_processor([str(arg) for arg in command], params)
    if job_type:
        builtin = BUILTIN_PROCESSORS.get(job_type)
        if builtin is None:
            if job_type in JOB_TYPES:
                raise ProcessorError(f"job type {job_type!r} is not available yet")
            known = ", ".join(JOB_TYPES)
            raise ProcessorError(f"unknown job type {job_type!r} (known types: {known})")
        module = importlib.import_module(builtin[0])
        check = getattr(module, "check_params", None)
        if check is not None:
            check(params)
        func: Processor = getattr(module, builtin[1])
        return func
    raise ProcessorError(f"job {name!r} names no processor: set one of type, python or command")


def load_hooks(job: Mapping[str, Any]) -> Hooks:
    """The ``setup``/``teardown`` of the module behind a loaded processor
    (a ``python:`` reference's module or a built-in type's); none for ``command``."""
    python = job.get("python")
    if python:
        return module_hooks(str(python).partition(":")[0])
    builtin = BUILTIN_PROCESSORS.get(job.get("type") or "")
    if builtin is not None and not job.get("command"):
        return module_hooks(builtin[0])
    return NO_HOOKS


def check_processor(job: Mapping[str, Any]) -> None:
    """Fail early and once, in the coordinator, before any chunk runs.

    Loads the processor (import errors, missing programs, bad built-in params)
    and checks that the output format and compression can be written.
    """
    load_processor(job)
    output = job.get("output")
    if output:
        from orchestrator.io.parts import validate_output

        try:
            validate_output(str(output.get("format")), str(output.get("compression")))
        except ValueError as exc:
            raise ProcessorError(f"job {job.get('name', '?')!r}: {exc}") from None
