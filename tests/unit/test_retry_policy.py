"""The retry decision as a pure function: deterministic errors, failure limits."""

from __future__ import annotations

import random

import pytest

from orchestrator.attempt import error_types
from orchestrator.dispatch import retry
from orchestrator.spec.model import RetryPolicy


def _types_of(exc: BaseException) -> list[str]:
    return error_types(exc)


@pytest.mark.parametrize(
    "exc",
    [
        KeyError("customer_id"),
        TypeError("unsupported operand"),
        ImportError("No module named 'x'"),
        ModuleNotFoundError("No module named 'x'"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        AttributeError("no attribute"),
    ],
)
def test_deterministic_errors_go_dead_on_the_first_attempt(exc: BaseException) -> None:
    policy = RetryPolicy(max_attempts=3)
    decision = retry.after_processor_error(0, policy, random.Random(1), _types_of(exc))
    assert decision == retry.RetryDecision(dead=True, delay=0.0, deterministic=True)


def test_permanent_error_and_arrow_parse_errors_are_deterministic() -> None:
    import pyarrow as pa

    from orchestrator import PermanentError
    from orchestrator.errors import ProcessorError

    class MyBadData(PermanentError):
        pass

    for exc in (PermanentError("no"), MyBadData("no"), ProcessorError("cannot import")):
        assert retry.is_deterministic(_types_of(exc))
    assert retry.is_deterministic(_types_of(pa.ArrowInvalid("CSV parse error")))
    assert retry.is_deterministic(_types_of(pa.ArrowTypeError("bad cast")))


@pytest.mark.parametrize(
    "exc", [RuntimeError("boom"), OSError("disk"), TimeoutError(), ValueError("x"), MemoryError()]
)
def test_transient_errors_are_retried_with_backoff(exc: BaseException) -> None:
    policy = RetryPolicy(max_attempts=3, backoff_base=2.0, jitter=False)
    decision = retry.after_processor_error(0, policy, random.Random(1), _types_of(exc))
    assert decision == retry.RetryDecision(dead=False, delay=2.0)
    assert retry.after_processor_error(2, policy, random.Random(1), _types_of(exc)).dead


def test_unknown_error_types_are_transient() -> None:
    assert not retry.is_deterministic([])
    assert not retry.after_processor_error(0, RetryPolicy(max_attempts=2)).dead


def test_failure_limit_from_option_and_fail_fast() -> None:
    assert retry.failure_limit(RetryPolicy(), None) is None
    assert retry.failure_limit(RetryPolicy(), 5) == 5
    assert retry.failure_limit(RetryPolicy(fail_fast=True), None) == 1
    assert retry.failure_limit(RetryPolicy(fail_fast=True), 5) == 1
    assert not retry.should_stop(1, 2)
    assert retry.should_stop(2, 2)
    assert not retry.should_stop(100, None)
