"""Retry decisions: pure functions of the error, the attempt count and the policy.

Processor errors spend the chunk's attempts (``retries.max_attempts``) with
exponential backoff and jitter, unless the error is deterministic
(:func:`is_deterministic`: the same input fails the same way every time, so
a retry only delays the verdict): then the chunk goes dead at once.
Infrastructure losses (worker died, lease lost, preemption) do not spend
attempts, but have their own, higher cap so that a poison chunk that kills
its worker every time still ends dead instead of looping.

A job stops early (:func:`failure_limit`) once that many of its chunks went
dead in this run: ``--max-failures N`` on run/serve, ``retries.fail_fast:
true`` in the spec (= 1).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.spec.model import RetryPolicy

#: Infrastructure losses a chunk may suffer before it is declared dead.
INFRA_MAX_ATTEMPTS = 10


#: Errors that fail the same way on every attempt (qualified class names, as
#: the worker reports them in ``error_types``; subclasses count too): a
#: processor's ``PermanentError`` or a processor that cannot be loaded; import,
#: syntax, name, type and attribute errors (code that cannot run on this
#: input); a ``KeyError`` (a missing column, a missing key); Arrow's parse,
#: schema and type errors and text that cannot be decoded. ``OSError``,
#: ``MemoryError``, timeouts and plain ``ValueError``/``RuntimeError`` stay
#: transient: they are retried.
DETERMINISTIC_ERRORS = frozenset(
    {
        "orchestrator.errors.PermanentError",
        "orchestrator.errors.ProcessorError",
        "builtins.ImportError",
        "builtins.SyntaxError",
        "builtins.NameError",
        "builtins.TypeError",
        "builtins.AttributeError",
        "builtins.KeyError",
        "builtins.UnicodeError",
        "pyarrow.lib.ArrowInvalid",
        "pyarrow.lib.ArrowTypeError",
        "pyarrow.lib.ArrowNotImplementedError",
        "pyarrow.lib.ArrowKeyError",
    }
)


@dataclass(frozen=True)
class RetryDecision:
    dead: bool
    delay: float  # seconds before the chunk may be leased again
    #: dead at once because the error is deterministic (no retry could help)
    deterministic: bool = False


def is_deterministic(error_types: Sequence[str]) -> bool:
    """Whether an error with these classes (most specific first, as the
    worker's ``error_types``) fails again on a retry."""
    return any(name in DETERMINISTIC_ERRORS for name in error_types)


def backoff_delay(failed_attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """``base * 2**(n-1)`` capped at ``max``; with jitter, uniform in [d/2, d]."""
    delay = min(policy.backoff_base * (2 ** max(failed_attempt - 1, 0)), policy.backoff_max)
    if policy.jitter and delay > 0:
        delay = rng.uniform(delay / 2, delay)
    return delay


def after_processor_error(
    attempts_before: int,
    policy: RetryPolicy,
    rng: random.Random | None = None,
    error_types: Sequence[str] = (),
) -> RetryDecision:
    """Decide the fate of a chunk whose attempt number ``attempts_before + 1``
    failed with an error of ``error_types`` (none known: transient)."""
    if is_deterministic(error_types):
        return RetryDecision(dead=True, delay=0.0, deterministic=True)
    failed_attempt = attempts_before + 1
    if failed_attempt >= policy.max_attempts:
        return RetryDecision(dead=True, delay=0.0)
    return RetryDecision(
        dead=False,
        delay=backoff_delay(failed_attempt, policy, rng or random.Random()),  # noqa: S311
    )


def after_infrastructure_loss(infra_attempts_before: int) -> RetryDecision:
    """Requeue at once; dead only past :data:`INFRA_MAX_ATTEMPTS`."""
    return RetryDecision(dead=infra_attempts_before + 1 >= INFRA_MAX_ATTEMPTS, delay=0.0)


def failure_limit(policy: RetryPolicy, max_failures: int | None) -> int | None:
    """Dead chunks after which a job stops early (None: never): the smaller of
    ``--max-failures`` and ``retries.fail_fast`` (one)."""
    limits = [n for n in (max_failures, 1 if policy.fail_fast else None) if n is not None]
    return min(limits, default=None)


def should_stop(dead_chunks: int, limit: int | None) -> bool:
    """Whether a job with ``dead_chunks`` dead in this run has reached its limit."""
    return limit is not None and dead_chunks >= limit
