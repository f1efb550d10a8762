"""The database goes away under a running coordinator: sessions terminated,
the server restarted with ``-m immediate``. The run reconnects, keeps its
workers, and loses or duplicates nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tests.fault.conftest import Cluster
from tests.fault.harness import Scenario, terminate_backends, wait_for


def test_terminated_sessions_mid_run(
    pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    s = scenario_factory(pg_url, chunks=30, rows=5, params={"seconds": 0.15})
    run = s.run()
    s.wait_succeeded(3)
    killed = 0
    for _ in range(4):  # a few times, at different moments of the loop
        killed += terminate_backends(pg_url)
        time.sleep(0.4)
    code, err = s.finish(run)
    assert code == 0, err
    assert killed >= 4
    s.check(expect_events={"store_reconnected"})


def test_postgres_immediate_restart_mid_run(
    own_postgres: Cluster, scenario_factory: Callable[..., Scenario]
) -> None:
    s = scenario_factory(
        own_postgres.url, chunks=24, rows=5, params={"seconds": 0.3},
        timeouts="{lease: 4s, heartbeat: 1s}",
    )  # fmt: skip
    run = s.run()
    s.wait_succeeded(3)
    restarted = threading.Event()

    def restart() -> None:
        own_postgres.restart_immediate()
        restarted.set()

    threading.Thread(target=restart, daemon=True).start()
    wait_for(restarted.is_set, 60, "the server to restart")
    code, err = s.finish(run, timeout=120)
    assert code == 0, err
    s.check(expect_events={"store_reconnected"})
