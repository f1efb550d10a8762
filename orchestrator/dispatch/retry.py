"""Retry decisions: a pure function of the attempt count and the policy.

Processor errors spend the chunk's attempts (``retries.max_attempts``) with
exponential backoff and jitter. Infrastructure losses (worker died, lease
lost, preemption) do not, but have their own, higher cap so that a poison
chunk that kills its worker every time still ends dead instead of looping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from orchestrator.spec.model import RetryPolicy

#: Infrastructure losses a chunk may suffer before it is declared dead.
INFRA_MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class RetryDecision:
    dead: bool
    delay: float  # seconds before the chunk may be leased again


def backoff_delay(failed_attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """``base * 2**(n-1)`` capped at ``max``; with jitter, uniform in [d/2, d]."""
    delay = min(policy.backoff_base * (2 ** max(failed_attempt - 1, 0)), policy.backoff_max)
    if policy.jitter and delay > 0:
        delay = rng.uniform(delay / 2, delay)
    return delay


def after_processor_error(
    attempts_before: int, policy: RetryPolicy, rng: random.Random | None = None
) -> RetryDecision:
    """Decide the fate of a chunk whose attempt number ``attempts_before + 1`` failed."""
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
