"""Slot scoring: hard filters, then the weighted score."""

from __future__ import annotations

import pytest

from orchestrator.dispatch.scoring import (
    WEIGHTS,
    Candidate,
    Requirements,
    choose,
    rank,
    rejection,
    score,
)


def test_weights_are_the_designed_ones() -> None:
    assert WEIGHTS == {"cpu": 0.3, "mem": 0.3, "load": 0.25, "capability": 0.1, "success": 0.05}
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_score_formula() -> None:
    c = Candidate("h1", labels=frozenset({"gpu"}), cpu=0.5, mem=0.2, load=0.4, success_rate=0.8)
    needs = Requirements(preferred_labels=frozenset({"gpu", "ssd"}))
    expected = 0.5 * 0.3 + 0.8 * 0.3 + 0.6 * 0.25 + 0.5 * 0.1 + 0.8 * 0.05
    assert score(c, needs) == pytest.approx(expected)
    idle = Candidate("idle", cpu=0.0, mem=0.0, load=0.0, success_rate=1.0)
    assert score(idle) == pytest.approx(1.0)
    full = Candidate("full", cpu=1.0, mem=1.0, load=1.0, success_rate=0.0)
    assert score(full, Requirements(preferred_labels=frozenset({"x"}))) == pytest.approx(0.0)


def test_unknown_figures_are_neutral_and_new_hosts_are_tried() -> None:
    fresh = Candidate("new")
    assert score(fresh) == pytest.approx(0.5 * 0.85 + 0.1 + 0.05)
    out_of_range = Candidate("odd", cpu=1.7, mem=-0.2, load=None)
    assert 0.0 <= score(out_of_range) <= 1.0


def test_hard_filters() -> None:
    needs = Requirements(pool="big", labels=frozenset({"gpu"}), memory=4 << 30)
    ok = Candidate("ok", pool="big", labels=frozenset({"gpu", "ssd"}), free_memory=8 << 30)
    assert rejection(ok, needs) is None
    assert "pool" in str(rejection(Candidate("p", pool="default"), needs))
    assert "gpu" in str(rejection(Candidate("l", pool="big"), needs))
    drained = Candidate("d", pool="big", labels=frozenset({"gpu"}), state="maintenance")
    assert "maintenance" in str(rejection(drained, needs))
    small = Candidate("s", pool="big", labels=frozenset({"gpu"}), free_memory=1 << 30)
    assert "needs" in str(rejection(small, needs))
    unknown_memory = Candidate("u", pool="big", labels=frozenset({"gpu"}))
    assert rejection(unknown_memory, needs) is None  # not reported: not filtered


def test_rank_and_choose() -> None:
    busy = Candidate("a-busy", cpu=0.9, mem=0.9, load=0.9)
    idle = Candidate("b-idle", cpu=0.1, mem=0.1, load=0.1)
    twin = Candidate("c-idle", cpu=0.1, mem=0.1, load=0.1)
    offline = Candidate("d-off", state="offline", cpu=0.0, mem=0.0, load=0.0)
    ranked = rank([busy, twin, offline, idle])
    assert [c.name for c, _ in ranked] == ["b-idle", "c-idle", "a-busy"]
    assert choose([busy, idle]) == idle
    assert choose([offline]) is None
    gpu = Candidate("gpu", labels=frozenset({"gpu"}), cpu=0.5, mem=0.5, load=0.5)
    plain = Candidate("plain", cpu=0.5, mem=0.5, load=0.5)
    assert choose([plain, gpu], Requirements(preferred_labels=frozenset({"gpu"}))) == gpu
