"""Publish's last step: the complete directory goes to the output path, and
``overwrite`` never leaves the old output behind, whichever way it swaps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from orchestrator.dispatch import finalize
from orchestrator.dispatch.staging import staging_dir, staging_root
from orchestrator.errors import OutputExists
from orchestrator.io import renames
from orchestrator.io.renames import exchange

JOB_ID = 7


def _tree(path: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(path.iterdir())}


def _layout(tmp_path: Path) -> tuple[str, Path, Path]:
    """An old output ``out/`` and a complete ``publish`` directory in staging."""
    output_path = str(tmp_path / "out") + "/"
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00000.parquet").write_text("old")
    (out / "_SUCCESS").write_text("old manifest")
    ready = staging_dir(output_path, JOB_ID) / "publish"
    ready.mkdir(parents=True)
    (ready / "part-00000.parquet").write_text("new")
    (ready / "_SUCCESS").write_text("new manifest")
    return output_path, out, ready


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_exchange_swaps_two_directories(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("A")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "y").write_text("B")

    if not exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("this filesystem cannot exchange names")

    assert _tree(tmp_path / "a") == {"y": "B"}
    assert _tree(tmp_path / "b") == {"x": "A"}


@pytest.mark.skipif(renames._renameat2 is None, reason="no renameat2 in this C library")
def test_exchange_with_a_missing_side_raises_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    with pytest.raises(FileNotFoundError):
        exchange(tmp_path / "a", tmp_path / "missing")
    assert (tmp_path / "a").is_dir() and not (tmp_path / "missing").exists()


@pytest.mark.parametrize("exchange_works", [True, False], ids=["exchange", "two-renames"])
def test_overwrite_puts_the_new_output_in_place_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange_works: bool
) -> None:
    if not exchange_works:
        monkeypatch.setattr(finalize, "exchange", lambda first, second: False)
    output_path, out, ready = _layout(tmp_path)

    finalize._swap_into_place(ready, out, "overwrite", JOB_ID)
    finalize._remove_leftovers(output_path, JOB_ID)

    assert _tree(out) == {"_SUCCESS": "new manifest", "part-00000.parquet": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_error_if_exists_refuses_an_output_that_appeared_while_the_job_ran(
    tmp_path: Path,
) -> None:
    _, out, ready = _layout(tmp_path)

    with pytest.raises(OutputExists):
        finalize._swap_into_place(ready, out, "error_if_exists", JOB_ID)

    assert _tree(out)["part-00000.parquet"] == "old"
    assert _tree(ready)["part-00000.parquet"] == "new"


def test_leftovers_of_a_publish_cut_off_after_its_swap_are_removed(tmp_path: Path) -> None:
    """What a coordinator killed between the swap and the tidy-up leaves: the
    replaced output (in staging after an exchange, aside after two renames)."""
    output_path, out, ready = _layout(tmp_path)
    finalize._swap_into_place(ready, out, "overwrite", JOB_ID)
    aside = finalize._replaced_dir(out, JOB_ID)
    aside.mkdir()
    (aside / "part-00000.parquet").write_text("older")
    assert staging_root(output_path).exists()

    finalize._remove_leftovers(output_path, JOB_ID)

    assert not aside.exists() and not staging_root(output_path).exists()
    assert _tree(out)["part-00000.parquet"] == "new"
