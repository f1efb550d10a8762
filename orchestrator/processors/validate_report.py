"""A validate job's totals at publish: per-rule counts, reconciliation, the reject rate.

Each committed attempt of a validate job left its counts beside its part
(``.checks.json``, :mod:`.validate_quarantine`); only committed attempts'
parts are looked at, so a retried chunk counts once. The totals go into
``_SUCCESS`` under ``validation``; ``rows_in`` are the rows the first phase
read (parse rejects included), and must equal ``rows_valid`` (the published
rows) plus ``rows_rejected`` (the quarantine). A job whose reject rate is
above ``max_reject_rate`` fails here, before anything is published.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.errors import JobctlError

CHECKS_SUFFIX = ".checks.json"
#: Part file endings, as ``io/parts.py`` writes them (a shuffle directory has none).
_PART_ENDINGS = (".csv.gz", ".parquet", ".csv", ".arrow")


def checks_path(part_file: str) -> str:
    """The per-rule counts of an attempt, beside its part (or shuffle directory).

    Plain string work, no Arrow: ``jobctl status`` reads these files too."""
    for ending in _PART_ENDINGS:
        if part_file.endswith(ending):
            return part_file[: -len(ending)] + CHECKS_SUFFIX
    return part_file + CHECKS_SUFFIX


def merge_rule_counts(
    total: dict[str, dict[str, Any]], rules: Mapping[str, Mapping[str, Any]]
) -> None:
    """Add one attempt's per-rule counts to ``total``."""
    for name, counts in rules.items():
        into = total.setdefault(
            name, {"on_violation": counts.get("on_violation"), "violations": 0, "rejected": 0}
        )
        into["violations"] += int(counts.get("violations") or 0)
        into["rejected"] += int(counts.get("rejected") or 0)


class RejectRateExceeded(JobctlError):
    """More rows were rejected than ``max_reject_rate`` allows: nothing is published."""


class ValidationCountsMissing(JobctlError):
    """A committed validate part has no counts beside it (it was damaged or removed)."""


def validation_summary(
    params: Mapping[str, Any], parts: Iterable[tuple[int, str | None]], *, partial: bool = False
) -> dict[str, Any]:
    """Totals over the committed ``(phase, part_file)`` of every phase; raises
    RejectRateExceeded past the job's ``max_reject_rate``. ``partial`` (a job
    still running, for ``status``): skip parts without counts, never raise."""
    parts = list(parts)
    last = max((phase for phase, _ in parts), default=0)
    rules: dict[str, dict[str, Any]] = {}
    rows_in = rows_valid = rows_rejected = 0
    for phase, part_file in parts:
        if part_file is None:
            continue
        path = checks_path(part_file)
        if not os.path.exists(path):
            if partial:
                continue
            raise ValidationCountsMissing(
                f"the counts of committed part {part_file} are missing (a host without "
                "shared storage, in push transfer mode, cannot run type validate)"
            )
        with open(path, encoding="utf-8") as f:
            counts = json.load(f)
        if phase == 0:
            rows_in += int(counts["rows_in"])
        if phase == last:
            rows_valid += int(counts["rows_valid"])
        rows_rejected += int(counts["rows_rejected"])
        merge_rule_counts(rules, counts["rules"])
    rate = rows_rejected / rows_in if rows_in else 0.0
    summary = {
        "rows_in": rows_in,
        "rows_valid": rows_valid,
        "rows_rejected": rows_rejected,
        "reconciled": rows_in == rows_valid + rows_rejected,
        "reject_rate": rate,
        "max_reject_rate": params.get("max_reject_rate"),
        "rules": dict(sorted(rules.items())),
    }
    limit = params.get("max_reject_rate")
    if partial:
        summary["partial"] = True
    elif limit is not None and rate > float(limit):
        worst = sorted(rules.items(), key=lambda kv: -int(kv[1]["rejected"]))[:3]
        top = ", ".join(f"{name}: {c['rejected']}" for name, c in worst if c["rejected"])
        raise RejectRateExceeded(
            f"{rows_rejected} of {rows_in} rows rejected ({rate:.2%}), above "
            f"max_reject_rate {float(limit):.2%} (most rejected by {top}); nothing published"
        )
    return summary


def published_validation(output_path: str | None, job_id: int) -> dict[str, Any] | None:
    """The ``validation`` section of the job's published ``_SUCCESS``, if it is its own."""
    if not output_path:
        return None
    path = os.path.join(output_path, "_SUCCESS")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    if manifest.get("job_id") != job_id:
        return None
    section = manifest.get("validation")
    return dict(section) if isinstance(section, dict) else None
