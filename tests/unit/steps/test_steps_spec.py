"""``steps:`` in a spec: read into canonical form, refused at file:line when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import SpecError, SpecIssue
from orchestrator.protocol import build_job_payload
from orchestrator.spec.loader import load_spec
from orchestrator.spec.model import JobSpec

HEAD = "version: 1\njobs:\n  - name: a\n    type: convert\n    input: {path: in.csv}\n"


def write(tmp_path: Path, steps: str) -> Path:
    (tmp_path / "in.csv").write_text("name,email,phone\nAnn,a@x.com,1\n")
    path = tmp_path / "jobs.yaml"
    path.write_text(HEAD + "    steps:\n" + steps)
    return path


def issues(tmp_path: Path, steps: str) -> list[SpecIssue]:
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, steps))
    return list(info.value.issues)


def test_steps_are_stored_and_sent_to_workers(tmp_path: Path) -> None:
    spec = load_spec(
        write(
            tmp_path,
            "      - trim: [name, email]\n"
            "      - phone: {columns: phone, region: GB, into: e164}\n"
            "      - select: [name, e164]\n",
        )
    )
    job = spec.jobs[0]
    assert [s["step"] for s in job.steps] == ["trim", "phone", "select"]
    assert JobSpec.from_dict(job.to_dict()) == job
    payload = build_job_payload(job, "k", None)
    assert payload["steps"][1]["options"] == {"region": "GB", "require": "valid"}


def test_a_job_without_steps_keeps_its_spec_hash_form(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(HEAD)
    (tmp_path / "in.csv").write_text("a\n1\n")
    job = load_spec(path).jobs[0]
    assert "steps" not in job.to_dict()
    assert "steps" not in build_job_payload(job, "k", None)


def test_each_bad_step_is_reported_at_its_line(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        "      - trim: [name]\n"  # line 7: fine
        "      - trimm: [name]\n"  # line 8: unknown step
        "      - phone: {columns: phone, region: Narnia}\n"  # line 9: bad option
        "      - lower: [nickname]\n"  # line 10: the CSV header has no such column
        "      - derive: {column: x, expr: 'name ||'}\n",  # line 11: bad expression
    )
    by_line = {i.line: i for i in found}
    assert sorted(by_line) == [8, 9, 10, 11]
    assert all(i.file.endswith("jobs.yaml") for i in found)
    assert "did you mean 'trim'" in by_line[8].message
    assert by_line[8].field == "jobs[0].steps[1]"
    assert "unknown region 'Narnia'" in by_line[9].message
    assert "no column 'nickname'" in by_line[10].message
    assert "columns here: name, email, phone" in by_line[10].message
    assert "step 'derive'" in by_line[11].message


def test_columns_are_followed_after_a_select(tmp_path: Path) -> None:
    [issue] = issues(tmp_path, "      - select: [name]\n      - lower: [email]\n")
    assert issue.line == 8 and "no column 'email' at this point" in issue.message


def test_steps_must_be_a_list(tmp_path: Path) -> None:
    [issue] = issues(tmp_path, "      trim: [name]\n")
    assert issue.line == 7 and "a list of steps" in issue.message
