"""Test hooks: force rare interleavings in a real run, for the fault tests.

Hooks are enabled only in-process, by the test suite's own entry module
(``python -m tests.hooked hold_commit=3 run ...`` calls :func:`install`
before it runs the CLI), never by an environment variable: a production
coordinator could inherit one, and a hook that withholds commits has no
place there. :func:`parse` reads ``name=value`` items; unknown names are an
error so a typo cannot silently test nothing. Not installed, every hook is
off and costs one attribute check. Hooks only delay or withhold what the
coordinator does; they never bypass a store check, so what they show is
what a slow or unlucky coordinator would really do.

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

``hold_phase_start=SECONDS``
    A coordinator that has just added a phase's chunks waits SECONDS before
    it leases any of them: a test kills it while that phase is pending, however
    quickly the phase would otherwise run.

``hold_publish=SECONDS``
    A publish waits SECONDS after its files are in the job's ``publish``
    directory (a merged or partitioned layout written), before ``_SUCCESS`` is
    written and the directory swapped onto the output: a test kills it there.

``hold_start=SECONDS``
    A coordinator waits SECONDS before its first store call (reclaim, reap,
    registration, first admission): a test takes the database away there, and
    the start must wait for it through the store guard, not fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.errors import JobctlError


@dataclass(frozen=True)
class TestHooks:
    hold_commit: float = 0.0
    hold_phase_plan: float = 0.0
    hold_phase_start: float = 0.0
    hold_start: float = 0.0
    hold_publish: float = 0.0

    __test__ = False  # not a pytest test class

    @classmethod
    def parse(cls, items: Sequence[str]) -> TestHooks:
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in items)):
            name, _, value = item.partition("=")
            if name not in cls.__dataclass_fields__:
                raise JobctlError(f"test hooks: unknown hook {name!r}")
            try:
                values[name] = float(value)
            except ValueError:
                raise JobctlError(f"test hooks: {name} needs a number, got {value!r}") from None
        return cls(**values)


_installed = TestHooks()


def install(hooks: TestHooks) -> None:
    """Enable ``hooks`` for the coordinators this process starts (tests only)."""
    global _installed
    _installed = hooks


def installed() -> TestHooks:
    return _installed
