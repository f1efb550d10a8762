"""The environment user code runs in: never the store's credentials.

A worker is started with the coordinator's environment minus the store's
credentials (:func:`without_store_credentials`: ``JOBCTL_DATABASE_URL`` and
every ``PG*`` variable), so neither a ``python:`` processor nor a
``command:`` program can read how to reach the state store. What a job's
``env:`` section names (``spec/env_section.py``) is resolved by the
coordinator (:func:`resolve_job_env`), sent with the job, and applied around
each of its chunks (:func:`job_environment`): a worker serves many jobs, so
one job's variables never leak into the next one's chunks.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from orchestrator.spec.env_section import STORE_URL_VARIABLE


def is_store_credential(name: str) -> bool:
    return name == STORE_URL_VARIABLE or name.startswith("PG")


def without_store_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` minus ``JOBCTL_DATABASE_URL`` and every ``PG*`` variable."""
    return {k: v for k, v in environ.items() if not is_store_credential(k)}


def resolve_job_env(
    spec_env: Mapping[str, Any] | None, environ: Mapping[str, str]
) -> dict[str, str]:
    """The variables a job's ``env:`` gives its code: ``pass`` names taken from
    ``environ`` (those it has), then ``set`` values."""
    if not spec_env:
        return {}
    values = {name: environ[name] for name in spec_env.get("pass") or () if name in environ}
    values.update({str(k): str(v) for k, v in (spec_env.get("set") or {}).items()})
    values.pop(STORE_URL_VARIABLE, None)
    return values


@contextlib.contextmanager
def job_environment(values: Mapping[str, str] | None) -> Iterator[None]:
    """``os.environ`` with ``values`` for the block, then as it was."""
    if not values:
        yield
        return
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
