"""``type: identity_match`` params are checked at validate, each problem at its line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.spec.loader import load_spec_text
from tests.acceptance.cli import cli_env, jobctl

BLOCKING = (
    "      blocking: [[last_name_soundex, dob_year], [email], [first_name, last_name: swapped]]\n"
)
GOOD_PARAMS = """\
    params:
      mode: dedupe
      id: person_id
      fields:
        first_name: {standardize: [given_name], compare: jaro_winkler}
        last_name: {standardize: [name], compare: jaro_winkler, term_frequency: true}
        dob: {standardize: [date], compare: {kind: date, thresholds: [31, 1]}}
        email: {standardize: [email], compare: exact}
      blocking: [[last_name_soundex, dob_year], [email], [first_name, last_name: swapped]]
      threshold: auto
"""


def spec(params: str, extra: str = "") -> str:
    return (
        "version: 1\njobs:\n  - name: people\n    type: identity_match\n"
        + params
        + "    input: {path: people.parquet}\n    output: {path: out/, format: parquet}\n"
        + extra
    )


def issues(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "jobs.yaml", base_dir="/tmp")
    return [(i.line, i.field, i.message) for i in info.value.issues]


def test_a_good_spec_is_accepted_and_plans_its_own_phases() -> None:
    loaded = load_spec_text(spec(GOOD_PARAMS), "jobs.yaml", base_dir="/tmp")
    (job,) = loaded.jobs
    assert job.type == "identity_match"
    assert job.strategy == "identity_match"


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        ("compare: jaro_winkler}\n        last", "compare: jaro_winklr}\n        last", 9,
         "first_name.compare", "unknown comparison 'jaro_winklr'"),
        ("[given_name]", "[given_nam]", 9, "first_name.standardize[0]",
         "unknown standardization step 'given_nam'"),
        ("[email], [first", "[emial], [first", 13, "blocking[1][0]",
         "unknown blocking term 'emial' (did you mean 'email'?)"),
        ("last_name_soundex,", "last_name_soundx,", 13, "blocking[0][0]",
         "unknown blocking term 'last_name_soundx'"),
        (BLOCKING,
         "      blocking: []\n", 13, "params.blocking", "needs at least one rule"),
        ("mode: dedupe", "mode: link", 6, "params.mode", "mode: link needs datasets"),
        ("threshold: auto", "threshold: 1.5", 14, "params.threshold", "a probability in (0, 1)"),
        ("threshold: auto", "treshold: auto", 14, "params.treshold", "unknown key 'treshold'"),
        ("term_frequency: true}", "term_frequency: true, weight: 2}", 10, "last_name.weight",
         "unknown key 'weight'"),
        ("threshold: auto", "threshold: auto\n      split_bridges: often", 15,
         "params.split_bridges", "split_bridges must be true or false"),
    ],
)  # fmt: skip
def test_bad_params_are_refused_at_their_line(
    old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in GOOD_PARAMS
    found = issues(spec(GOOD_PARAMS.replace(old, new)))
    assert any(ln == line and f.endswith(field) and words in message for ln, f, message in found), (
        found
    )


def test_no_blocking_key_at_all_and_other_job_keys_are_refused() -> None:
    params = GOOD_PARAMS.replace(
        BLOCKING,
        "",
    )
    found = issues(
        spec(params, "    strategy: map_reduce\n").replace("format: parquet", "format: csv")
    )
    messages = " | ".join(m for _, _, m in found)
    assert "blocking needs at least one rule" in messages
    assert "identity_match plans its own phases" in messages
    assert "identity_match writes Parquet" in messages


def test_jobctl_validate_exits_2_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "jobs.yaml").write_text(
        spec(GOOD_PARAMS.replace("compare: exact", "compare: fuzzy"))
    )
    result: subprocess.CompletedProcess[str] = jobctl(
        "validate", "jobs.yaml", env=cli_env(tmp_path), cwd=tmp_path
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "jobs.yaml:12" in result.stderr + result.stdout
    assert "unknown comparison 'fuzzy'" in result.stderr + result.stdout
