"""The figures ``jobctl status`` shows for a published identity_match job.

They are the ``summary.identity_match`` section the planner wrote and publish
copied into ``_SUCCESS`` (``strategies/identity_match.py``): read back from
the output only when that manifest is this job's.
"""

from __future__ import annotations

import json
import os
from typing import Any


def published_summary(output_path: str | None, job_id: int) -> dict[str, Any] | None:
    """``summary.identity_match`` of the job's own published ``_SUCCESS``, or None."""
    if not output_path:
        return None
    try:
        with open(os.path.join(output_path, "_SUCCESS"), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    if manifest.get("job_id") != job_id:
        return None
    section = (manifest.get("summary") or {}).get("identity_match")
    return dict(section) if isinstance(section, dict) else None
