"""The live view names a job's current phase and its counts ("phase 2/2 reduce: 31/64")."""

from __future__ import annotations

from orchestrator.cli.progress import plain_line
from orchestrator.dispatch.views import JobView


def _view(**changes: object) -> JobView:
    fields: dict[str, object] = dict(
        id=3,
        name="dd",
        state="running",
        total=80,
        done=47,
        dead=0,
        running=2,
        retries=0,
        failures=0,
        rows_in=1000,
        rows_out=900,
        rows_per_second=10.0,
        eta_seconds=3.0,
    )
    fields.update(changes)
    return JobView(**fields)  # type: ignore[arg-type]


def test_the_plain_line_shows_the_phase_and_its_counts() -> None:
    line = plain_line(_view(phase="phase 2/2 reduce", phase_done=31, phase_total=64))
    assert line.startswith("job 3 dd: phase 2/2 reduce: 31/64 chunks; 47/80 chunks")


def test_a_job_of_one_phase_shows_no_phase() -> None:
    assert plain_line(_view()).startswith("job 3 dd: 47/80 chunks,")
