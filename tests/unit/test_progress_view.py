"""The live view's lines: one per job and slot, never wider than the terminal."""

from __future__ import annotations

from orchestrator.api.live import JobView, RunSnapshot, SlotView
from orchestrator.cli.progress import STOPPING, ProgressReporter, render_lines
from orchestrator.cli.render import aligned_lines, fmt_duration


def job(job_id: int = 7, state: str = "running", done: int = 12, **extra: object) -> JobView:
    fields: dict[str, object] = {
        "id": job_id,
        "name": "customers-nightly-convert",
        "state": state,
        "total": 23,
        "done": done,
        "dead": 1,
        "running": 2,
        "retries": 3,
        "failures": 4,
        "rows_in": 1_234_567,
        "rows_out": 1_234_000,
        "rows_per_second": 41_234.5,
        "eta_seconds": 75.0,
    }
    fields.update(extra)
    return JobView(**fields)  # type: ignore[arg-type]


SLOTS = [
    SlotView("local-0", 4242, "customers-nightly-convert", 13, 2.345678),
    SlotView("ssh:worker-host-with-a-long-name:1", 31337, None, None, 0.0),
]


def test_each_job_and_slot_is_one_line_within_the_width() -> None:
    error = "ValueError: column 'customer_id' is missing from " + "x" * 200
    snapshot = RunSnapshot(123.4, [job(error=error)], SLOTS, stopping=False)
    for width in (80, 160):
        lines = render_lines(snapshot, width)
        assert all(len(line) <= width for line in lines), lines
        assert len(lines) == 1 + 1 + len(SLOTS) + 1  # job, its error, slots, footer
        assert lines[0].startswith("custom") and "#7 running" in lines[0]
        assert "█" in lines[0] and "12/23" in lines[0]
        assert "retries 3" in lines[0] or width < 100
        assert lines[1].startswith("  ! customers-nightly-convert: ValueError")
        assert "chunk 13" in lines[2] and "2.35s" in lines[2] and "pid 4242" in lines[2]
        assert lines[3].endswith("idle") and lines[3].count("idle") == 1
        assert lines[4] == "elapsed 2m03s"


def test_the_footer_says_a_second_ctrl_c_stops_at_once() -> None:
    lines = render_lines(RunSnapshot(3.0, [job()], [], stopping=True), 80)
    assert lines[-1] == f"elapsed 3.00s  {STOPPING}"
    assert "Ctrl-C again" in STOPPING


def test_a_finished_job_keeps_its_bar_when_it_leaves_the_snapshot() -> None:
    reporter = ProgressReporter(live=False)
    first = reporter._with_finished(RunSnapshot(1.0, [job(1), job(2)], SLOTS, False))
    assert [j.id for j in first.jobs] == [1, 2]
    done = job(1, state="succeeded", done=23)
    reporter._with_finished(RunSnapshot(2.0, [done, job(2)], SLOTS, False))
    later = reporter._with_finished(RunSnapshot(3.0, [job(2)], SLOTS, False))
    assert [(j.id, j.state) for j in later.jobs] == [(1, "succeeded"), (2, "running")]
    lines = render_lines(later, 80)
    assert "#1 succeeded" in lines[0] and "█" * 8 in lines[0] and "23/23" in lines[0]


def test_durations_are_rounded() -> None:
    assert [fmt_duration(s) for s in (0.123456, 9.999, 12.3456, 123.4, 7322.0)] == [
        "0.12s",
        "10.00s",
        "12.3s",
        "2m03s",
        "2h02m",
    ]


def test_plain_tables_are_aligned_under_their_heads() -> None:
    lines = aligned_lines(["id", "name"], [["7", "a"], ["1234", "longer"]], right={0})
    assert lines == ["  id  name", "   7  a", "1234  longer"]
