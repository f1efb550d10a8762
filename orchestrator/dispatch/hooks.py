"""Test hooks: force rare interleavings in a real run, for the fault tests.

``JOBCTL_TEST_HOOKS`` (read once when a coordinator starts) is a comma
separated list of ``name=value``; unknown names are an error so a typo cannot
silently test nothing. Without the variable every hook is off and costs one
attribute check. Hooks only delay or withhold what the coordinator does; they
never bypass a store check, so what they show is what a slow or unlucky
coordinator would really do.

``hold_commit=SECONDS``
    The first successful outcome is withheld for SECONDS before it is
    committed, and its lease is not renewed meanwhile: the lease expires, a
    reaper (this coordinator's or another's) returns the chunk to pending,
    it runs again, and the late commit must then be rejected (reap vs commit).

``hold_phase_plan=SECONDS``
    When every chunk of a phase has succeeded, the coordinator holding the
    settlement claim waits SECONDS before it plans the next phase: a test
    kills it there (after the last commit of a phase, before the next one
    exists), or lets a second coordinator race it for the planning.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from orchestrator.errors import JobctlError

ENV_HOOKS = "JOBCTL_TEST_HOOKS"


@dataclass(frozen=True)
class TestHooks:
    hold_commit: float = 0.0
    hold_phase_plan: float = 0.0

    __test__ = False  # not a pytest test class

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> TestHooks:
        text = (environ if environ is not None else dict(os.environ)).get(ENV_HOOKS, "")
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, value = item.partition("=")
            if name not in cls.__dataclass_fields__:
                raise JobctlError(f"{ENV_HOOKS}: unknown hook {name!r}")
            try:
                values[name] = float(value)
            except ValueError:
                raise JobctlError(f"{ENV_HOOKS}: {name} needs a number, got {value!r}") from None
        return cls(**values)


@functools.cache
def process_hooks() -> TestHooks:
    """This process's hooks, read once (for code that holds no coordinator)."""
    return TestHooks.from_env()
