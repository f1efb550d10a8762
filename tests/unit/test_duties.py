"""The dispatch loop's table of periodic duties (``dispatch/duties.py``)."""

from __future__ import annotations

import pytest

from orchestrator.dispatch.duties import Duties, Duty, every
from orchestrator.dispatch.storeguard import StoreGuard
from orchestrator.errors import StoreUnavailable


def recorder(log: list[str], name: str, result: object = None) -> Duty:
    def call(now: float) -> object:
        log.append(name)
        return result

    return Duty(name, every(1.0), call)


def test_due_duties_run_in_table_order_once_per_interval() -> None:
    log: list[str] = []
    duties = Duties(StoreGuard(), [recorder(log, "a"), recorder(log, "b")])
    assert duties.run(5.0, "store")
    assert log == ["a", "b"]
    assert duties.run(5.5, "store")  # neither interval passed
    assert log == ["a", "b"]
    assert duties.run(6.0, "store")
    assert log == ["a", "b", "a", "b"]


def test_a_failed_blocking_duty_ends_the_turn_and_is_retried_next_turn() -> None:
    log: list[str] = []
    first = recorder(log, "first", result=False)
    duties = Duties(StoreGuard(), [first, recorder(log, "second")])
    assert not duties.run(5.0, "store")
    assert log == ["first"] and first.last_run == 0.0
    assert not duties.run(5.1, "store")
    assert log == ["first", "first"]


def test_stamp_first_waits_a_full_interval_after_a_failure_and_others_go_on() -> None:
    log: list[str] = []
    polled = recorder(log, "polled", result=False)
    polled.stamp_first, polled.blocking = True, False
    duties = Duties(StoreGuard(), [polled, recorder(log, "after")])
    assert duties.run(5.0, "store")
    assert log == ["polled", "after"] and polled.last_run == 5.0
    duties.run(5.5, "store")
    assert log == ["polled", "after"]


def test_guarded_duty_turns_store_unavailable_into_a_failure() -> None:
    def down(now: float) -> None:
        raise StoreUnavailable("gone")

    guard = StoreGuard()
    duties = Duties(guard, [Duty("down", every(1.0), down, guarded=True)])
    assert not duties.run(5.0, "store")
    assert guard.down


def test_phases_and_custom_due_tests() -> None:
    log: list[str] = []
    view = recorder(log, "view")
    view.phase = "view"
    woken = recorder(log, "woken")
    woken.due = lambda duty, now: True  # e.g. a notification came
    duties = Duties(StoreGuard(), [view, woken])
    duties.run(0.1, "store")
    assert log == ["woken"]
    duties.run(1.0, "view")
    assert log == ["woken", "view"]
    assert duties["view"].last_run == 1.0


def test_a_name_is_used_once() -> None:
    duties = Duties(StoreGuard(), [Duty("x", every(1.0), lambda now: None)])
    with pytest.raises(ValueError, match="twice"):
        duties.add(Duty("x", every(1.0), lambda now: None))
